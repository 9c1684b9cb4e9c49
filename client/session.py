"""An asyncio session with an exch server: connect, request, and receive pushed messages.

One :class:`Session` is one WebSocket connection. Requests are coroutines that
assign the next integer ``id``, send the frame and wait for the reply with that
``id`` (replies may arrive in any order)::

    async with Session.connect("wss://127.0.0.1:8443/ws") as s:
        await s.login("alice", "secret")
        ack = await s.order("ACME", "buy", 10, price=10125)
        async for msg in s:                  # fills, done, market data, ...
            print(msg)

One reader task per session decodes every frame into a typed message of
:mod:`exchange.protocol`. A reply that a request is waiting for goes to that
request; everything else — ``fill``, ``done``, ``snapshot``, ``l3``, ``l2``,
``ticker``, ``trade``, ``stats``, ``shutdown`` and any reply nobody awaits
(e.g. after a timeout) — is *pushed*: first to the synchronous callbacks
registered with :meth:`Session.on_message` (in registration order, on the
reader task, so a book builder sees every message in order and without a
second queue), then into a bounded queue read by ``async for msg in session``
or :meth:`Session.recv`. When the queue is full the **oldest** message is
dropped and :attr:`Session.dropped` counts it, so a consumer that stops
reading never grows memory and never stalls the socket (which the server would
punish with close 1013). ``queue_size=0`` turns the queue off (callbacks only).

When the connection closes, every pending request raises
:class:`~client.errors.SessionClosed` (with the close code, the reason and the
``shutdown`` notice if one came), iteration ends after the queued messages
(raising ``SessionClosed`` unless this side called :meth:`Session.close`), and
the :meth:`Session.on_close` callbacks run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, TypeVar

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from client._tls import _ssl_context, certificate_hint
from client.errors import (
    CertificateError,
    ConnectError,
    ExchError,
    ProtocolError,
    RequestTimeout,
    SessionClosed,
)
from exchange.protocol import (
    MAX_BATCH,
    AckMessage,
    BalanceReply,
    BalanceRequest,
    BatchRequest,
    CancelAllRequest,
    CanceledAllReply,
    CanceledReply,
    CancelRequest,
    DepositReply,
    DepositRequest,
    ErrorMessage,
    HaltReply,
    HaltRequest,
    HistoryReply,
    HistoryRequest,
    Login,
    LoginReply,
    Message,
    OrderRequest,
    OrdersReply,
    OrdersRequest,
    PingRequest,
    PongReply,
    ReplaceRequest,
    Request,
    ResumeReply,
    ResumeRequest,
    SessionsReply,
    SessionsRequest,
    ShutdownMessage,
    SubscribedReply,
    SubscribeRequest,
    SymbolAddReply,
    SymbolAddRequest,
    SymbolsReply,
    SymbolsRequest,
    UnsubscribedReply,
    UnsubscribeRequest,
    UserAddReply,
    UserAddRequest,
    UserDisableReply,
    UserDisableRequest,
    UserEnableReply,
    UserEnableRequest,
    UserListReply,
    UserListRequest,
    UserPasswdReply,
    UserPasswdRequest,
    decode_message,
)
from exchange.types import OrderType, Side, TimeInForce

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_TIMEOUT",
    "MAX_FRAME",
    "MAX_INCOMING",
    "Channel",
    "MessageCallback",
    "OrderType",
    "Session",
    "Side",
    "TimeInForce",
]

log = logging.getLogger(__name__)

Channel = Literal["ticker", "level2", "level3", "trades", "stats"]
MessageCallback = Callable[[Message], object]
CloseCallback = Callable[[SessionClosed], object]
M = TypeVar("M")

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds a request waits for its reply before :class:`RequestTimeout`."""
DEFAULT_QUEUE_SIZE: Final = 10_000
"""Pushed messages kept for ``async for`` before the oldest is dropped."""
MAX_INCOMING: Final = 2**20
"""Largest frame accepted from the server (1 MiB): snapshots of deep books fit."""
MAX_FRAME: Final = 64 * 1024
"""Largest frame the server accepts (64 KiB); larger ones would close the session with 1009."""

_encoder: Final = msgspec.json.Encoder()
_lenient: Final = msgspec.json.Decoder()


class _Inbox:
    """A bounded FIFO of pushed messages that drops the oldest when full."""

    def __init__(self, maxsize: int) -> None:
        self._items: deque[Message] = deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, msg: Message) -> None:
        if self._maxsize <= 0:
            return
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(msg)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def get(self) -> Message | None:
        """The next message, or None once closed and drained."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class _Connect:
    """What :meth:`Session.connect` returns: awaitable, or an async context manager."""

    def __init__(self, opener: Callable[[], Coroutine[Any, Any, Session]]) -> None:
        self._opener = opener
        self._session: Session | None = None

    def __await__(self) -> Generator[Any, None, Session]:
        session: Session = yield from self._opener().__await__()
        return session

    async def __aenter__(self) -> Session:
        self._session = await self
        return self._session

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()


class Session:
    """One connection to an exch server. Create it with :meth:`Session.connect`.

    Attributes:
        url: the server URL.
        timeout: seconds each request waits for its reply (None: forever).
        user, role, token: set by a successful :meth:`login` / :meth:`login_token`.
        shutdown: the server's ``shutdown`` notice, once one arrived.
        dropped: pushed messages dropped from the full queue (oldest first).
        undecodable: frames from the server that were not valid v1 messages (logged, skipped).
    """

    def __init__(
        self,
        ws: ClientConnection,
        *,
        url: str,
        timeout: float | None = DEFAULT_TIMEOUT,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        """Wrap an open connection and start its reader task (use :meth:`connect` instead).

        Args:
            ws: an open ``websockets`` client connection.
            url: the URL it was opened with.
            timeout: default seconds to wait for each reply; None waits forever.
            queue_size: pushed messages kept for iteration; 0 keeps none (callbacks only).
        """
        self._ws = ws
        self.url = url
        self.timeout = timeout
        self.user: str | None = None
        self.role: str | None = None
        self.token: str | None = None
        self.shutdown: ShutdownMessage | None = None
        self.undecodable = 0
        self._ids = itertools.count(1)
        self._waiters: dict[int, asyncio.Future[Message]] = {}
        self._inbox = _Inbox(queue_size)
        self._callbacks: list[tuple[MessageCallback, tuple[type[Any], ...]]] = []
        self._close_callbacks: list[CloseCallback] = []
        self._closed: SessionClosed | None = None
        self._closed_locally = False
        self._reader = asyncio.get_running_loop().create_task(self._read(), name=f"exch-reader {url}")

    # ------------------------------------------------------------------ connecting

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        cafile: Path | str | None = None,
        home: Path | str | None = None,
        insecure_ok: bool = False,
        timeout: float | None = DEFAULT_TIMEOUT,
        open_timeout: float | None = 10.0,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        proxy: str | Literal[True] | None = True,
    ) -> _Connect:
        """Open a session: ``s = await Session.connect(url)`` or ``async with Session.connect(url) as s``.

        Args:
            url: ``wss://HOST:8443/ws`` (``ws://`` only with ``insecure_ok``).
            cafile: a CA certificate (PEM) to trust for this server, on top of the system roots.
            home: the exch data directory whose ``tls/ca.pem`` is trusted when no ``cafile``
                is given (default ``$EXCH_HOME``, else ``~/.local/share/exch``).
            insecure_ok: allow a plain ``ws://`` URL (passwords travel unencrypted).
            timeout: default seconds each request waits for its reply; None waits forever.
            open_timeout: seconds for TCP, TLS and the WebSocket handshake.
            queue_size: pushed messages kept for ``async for`` before the oldest is dropped;
                0 keeps none (use :meth:`on_message` callbacks).
            ping_interval: seconds between keepalive pings (None: none).
            ping_timeout: seconds to wait for a pong before the connection counts as lost.
            proxy: ``True`` uses the proxy from the environment, a URL forces one, None none.

        Returns:
            An object to ``await`` (giving the :class:`Session`) or to use with ``async with``
            (closing the session on exit).

        Raises:
            CertificateError: the server's certificate is not trusted (the message says
                how to pass ``--cafile``).
            ConnectError: bad URL, plain ``ws://`` without ``insecure_ok``, unreachable
                server, TLS or WebSocket handshake failure, timeout.
        """

        async def opener() -> Session:
            ws = await _open(
                url,
                cafile=None if cafile is None else Path(cafile),
                home=None if home is None else Path(home),
                insecure_ok=insecure_ok,
                open_timeout=open_timeout,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
                proxy=proxy,
            )
            return cls(ws, url=url, timeout=timeout, queue_size=queue_size)

        return _Connect(opener)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait for the reader to finish. Idempotent.

        Pending requests raise :class:`SessionClosed`; iteration ends without raising.

        Args:
            code: the WebSocket close code to send.
            reason: the close reason to send.
        """
        self._closed_locally = True
        with contextlib.suppress(Exception):
            await self._ws.close(code, reason)
        await asyncio.gather(self._reader, return_exceptions=True)

    async def wait_closed(self) -> SessionClosed:
        """Wait until the connection is closed (by either side).

        Returns:
            The :class:`SessionClosed` describing the close (not raised).
        """
        await asyncio.gather(self._reader, return_exceptions=True)
        return self._closed_error()

    @property
    def closed(self) -> bool:
        """True once the connection is closed."""
        return self._closed is not None

    @property
    def dropped(self) -> int:
        """Pushed messages dropped because the queue was full."""
        return self._inbox.dropped

    @property
    def queued(self) -> int:
        """Pushed messages waiting in the queue."""
        return len(self._inbox)

    # ------------------------------------------------------------------ pushed messages

    def on_message(self, callback: MessageCallback, *types: type[Any]) -> Callable[[], None]:
        """Call ``callback(msg)`` for every pushed message (of ``types``, if given).

        Callbacks run synchronously on the reader task, in registration order,
        before the message is queued; they must not block (schedule a task for
        slow work). An exception in a callback is logged and does not stop the
        session.

        Args:
            callback: a function of one message.
            *types: message classes to deliver (e.g. ``L3Message, SnapshotMessage``);
                none means all.

        Returns:
            A function that removes the callback.
        """
        entry = (callback, types)
        self._callbacks.append(entry)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(entry)

        return remove

    def on_close(self, callback: CloseCallback) -> Callable[[], None]:
        """Call ``callback(SessionClosed)`` once when the connection closes.

        Args:
            callback: a function of the :class:`SessionClosed` describing the close;
                called at once if the session is already closed.

        Returns:
            A function that removes the callback.
        """
        if self._closed is not None:
            callback(self._closed_error())
            return lambda: None
        self._close_callbacks.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._close_callbacks.remove(callback)

        return remove

    def __aiter__(self) -> AsyncIterator[Message]:
        return self.messages()

    async def messages(self) -> AsyncIterator[Message]:
        """Iterate over pushed messages in arrival order.

        Yields:
            Each queued message; after a close, the rest of the queue first.

        Raises:
            SessionClosed: the server closed the connection or it was lost (not
                raised when this side called :meth:`close`).
        """
        while True:
            msg = await self._inbox.get()
            if msg is None:
                if not self._closed_locally:
                    raise self._closed_error()
                return
            yield msg

    async def recv(self, timeout: float | None = None) -> Message:
        """The next pushed message.

        Args:
            timeout: seconds to wait; None waits until a message or the close.

        Returns:
            The oldest queued message.

        Raises:
            SessionClosed: the connection is closed and the queue is empty.
            RequestTimeout: nothing arrived within ``timeout``.
        """
        try:
            async with asyncio.timeout(timeout):
                msg = await self._inbox.get()
        except TimeoutError:
            raise RequestTimeout(f"no message within {timeout} s") from None
        if msg is None:
            raise self._closed_error()
        return msg

    # ------------------------------------------------------------------ requests

    async def login(self, username: str, password: str) -> LoginReply:
        """Log in with a password.

        Returns:
            The ``login`` reply (``user``, ``role``, ``token``, ``token_expires_ts``); the
            session remembers them in :attr:`user`, :attr:`role`, :attr:`token`.

        Raises:
            ExchError: ``auth_failed`` (wrong credentials, disabled user or throttled), ``bad_request``.
        """
        return self._logged_in(await self._call(Login(username=username, password=password), LoginReply))

    async def login_token(self, token: str) -> LoginReply:
        """Log in again with the ``token`` of an earlier login (valid 24 h, revoked on disable).

        Returns:
            The ``login`` reply, with a fresh token.

        Raises:
            ExchError: ``auth_failed`` (expired, revoked or forged token).
        """
        return self._logged_in(await self._call(Login(token=token), LoginReply))

    def _logged_in(self, reply: LoginReply) -> LoginReply:
        self.user, self.role, self.token = reply.user, reply.role, reply.token
        return reply

    async def order(
        self,
        symbol: str,
        side: Side,
        qty: int,
        *,
        price: int | None = None,
        type: OrderType = "limit",
        tif: TimeInForce = "gtc",
        post_only: bool = False,
        client_order_id: str | None = None,
        stop_price: int | None = None,
        expire_ts: int | None = None,
        display_qty: int | None = None,
    ) -> AckMessage:
        """Place an order.

        Args:
            symbol: e.g. ``"ACME"``.
            side: ``"buy"`` or ``"sell"``.
            qty: shares, a positive multiple of the symbol's lot.
            price: limit price in ticks (required for limit and stop_limit orders, None for market and stop).
            type: ``"limit"``, ``"market"`` (never rests), ``"stop"`` or ``"stop_limit"`` (wait unseen
                until a trade prints at or through ``stop_price``, then enter as market / limit orders).
            tif: ``"gtc"``, ``"ioc"``, ``"fok"`` or ``"gtd"`` (with ``expire_ts``).
            post_only: refuse (``would_cross``) instead of taking liquidity.
            client_order_id: your own id (≤ 64 chars, unique among your open orders).
            stop_price: the trigger price in ticks (stop and stop_limit orders).
            expire_ts: when a ``gtd`` order expires (ns since the epoch, in the future, ≤ 366 days ahead).
            display_qty: make an iceberg: show this much of ``qty`` on the book at a time.

        Returns:
            The ``ack`` (``order_id``, ``status``, ``remaining``; ``status`` ``pending`` for a stop
            waiting for its trigger); fills, ``triggered`` and ``done`` are pushed.

        Raises:
            ExchError: e.g. ``invalid_price``, ``insufficient_funds``, ``halted``, ``would_cross``,
                ``would_trigger``.
        """
        req = OrderRequest(
            symbol=symbol, side=side, qty=qty, type=type, price=price, tif=tif, post_only=post_only,
            client_order_id=client_order_id, stop_price=stop_price, expire_ts=expire_ts, display_qty=display_qty,
        )
        return await self._call(req, AckMessage)

    async def cancel(self, order_id: int | None = None, client_order_id: str | None = None) -> CanceledReply:
        """Cancel one of your open orders by ``order_id`` or ``client_order_id``.

        Returns:
            The ``canceled`` reply with the quantity that was still open.

        Raises:
            ValueError: neither id given.
            ExchError: ``unknown_order`` (not an open order of yours).
        """
        if order_id is None and client_order_id is None:
            raise ValueError("cancel needs order_id or client_order_id")
        req = CancelRequest(order_id=order_id, client_order_id=client_order_id)
        return await self._call(req, CanceledReply)

    async def replace(
        self,
        order_id: int | None = None,
        *,
        client_order_id: str | None = None,
        price: int | None = None,
        qty: int | None = None,
        stop_price: int | None = None,
    ) -> AckMessage:
        """Change an open order's price and/or open quantity (``qty`` = the new quantity left to fill).

        Lowering only the quantity keeps time priority; anything else re-queues the order.
        ``stop_price`` moves an untriggered stop's trigger.

        Returns:
            The ``ack`` of the replaced order (same ``order_id``).

        Raises:
            ValueError: no id, or none of ``price``, ``qty``, ``stop_price``.
            ExchError: ``unknown_order``, ``invalid_price``, ``invalid_qty``, ``would_cross``,
                ``would_trigger``, ``halted``.
        """
        if order_id is None and client_order_id is None:
            raise ValueError("replace needs order_id or client_order_id")
        if price is None and qty is None and stop_price is None:
            raise ValueError("replace needs a new price, qty and/or stop_price")
        req = ReplaceRequest(
            order_id=order_id, client_order_id=client_order_id, price=price, qty=qty, stop_price=stop_price
        )
        return await self._call(req, AckMessage)

    async def cancel_all(self, symbol: str | None = None) -> CanceledAllReply:
        """Cancel all your open orders, or those on ``symbol``.

        Returns:
            The ``canceled_all`` reply with the ``count`` canceled.
        """
        return await self._call(CancelAllRequest(symbol=symbol), CanceledAllReply)

    async def orders(self, symbol: str | None = None) -> OrdersReply:
        """Your open orders, oldest first (all symbols, or ``symbol``).

        Returns:
            The ``orders`` reply; ``reply.orders`` is a list of ``OrderInfo``.
        """
        return await self._call(OrdersRequest(symbol=symbol), OrdersReply)

    async def balance(self) -> BalanceReply:
        """Your cash and positions (totals include the parts held by open orders).

        Returns:
            The ``balance`` reply: ``cash``, ``cash_held``, ``positions[SYM].qty/.held``.
        """
        return await self._call(BalanceRequest(), BalanceReply)

    async def history(self, *, before: int | None = None, limit: int = 100) -> HistoryReply:
        """Your recent fills, newest first, and the orders they finished (from the server's trade store).

        Args:
            before: only trades with a lower id (the previous page's ``next_before``).
            limit: fills per page (1 to 500).

        Returns:
            The ``history`` reply: ``fills``, ``orders``, ``next_before`` (None: no older page).
        """
        return await self._call(HistoryRequest(before=before, limit=limit), HistoryReply)

    async def symbols(self) -> SymbolsReply:
        """Every listed symbol with its tick, lot and status.

        Returns:
            The ``symbols`` reply.
        """
        return await self._call(SymbolsRequest(), SymbolsReply)

    async def subscribe(
        self,
        channels: Channel | Iterable[Channel],
        symbols: str | Iterable[str] = (),
        interval_ms: int | None = None,
    ) -> SubscribedReply:
        """Subscribe to market data; one ``snapshot`` per (channel, symbol) is pushed next, then updates.

        Args:
            channels: ``"ticker"``, ``"level2"``, ``"level3"``, ``"trades"`` (``"stats"``: admin,
                no symbols), one or several.
            symbols: one symbol or several.
            interval_ms: conflate ``ticker``/``level2`` to one message per interval (≥ 50).

        Returns:
            The ``subscribed`` reply.

        Raises:
            ExchError: ``unknown_symbol``, ``forbidden`` (stats), ``bad_request``.
        """
        req = SubscribeRequest(channels=_listed(channels), symbols=_listed(symbols), interval_ms=interval_ms)
        return await self._call(req, SubscribedReply)

    async def unsubscribe(
        self, channels: Channel | Iterable[Channel], symbols: str | Iterable[str] = ()
    ) -> UnsubscribedReply:
        """Stop channels for symbols.

        Returns:
            The ``unsubscribed`` reply.
        """
        req = UnsubscribeRequest(channels=_listed(channels), symbols=_listed(symbols))
        return await self._call(req, UnsubscribedReply)

    async def ping(self) -> PongReply:
        """Round trip to the server.

        Returns:
            The ``pong`` reply with the server's time (``ts``, ns).
        """
        return await self._call(PingRequest(), PongReply)

    # admin ------------------------------------------------------------------

    async def user_add(
        self,
        username: str,
        password: str,
        role: Literal["trader", "admin"] = "trader",
        cash: int = 0,
        positions: Mapping[str, int] | None = None,
    ) -> UserAddReply:
        """Create a user who can log in at once (admin).

        Args:
            username: 1 to 32 of ``A-Za-z0-9_.-``.
            password: 1 to 256 characters.
            role: ``"trader"`` or ``"admin"``.
            cash: starting cash in cents.
            positions: starting shares per symbol.

        Returns:
            The ``user_add`` reply.

        Raises:
            ExchError: ``forbidden`` (not admin), ``bad_request`` (e.g. the user exists).
        """
        req = UserAddRequest(
            username=username, password=password, role=role, cash=cash, positions=dict(positions or {})
        )
        return await self._call(req, UserAddReply)

    async def user_list(self) -> UserListReply:
        """Every user (admin).

        Returns:
            The ``user_list`` reply.
        """
        return await self._call(UserListRequest(), UserListReply)

    async def deposit(
        self, username: str, cash: int = 0, symbol: str | None = None, qty: int = 0
    ) -> DepositReply:
        """Gift cash (cents) and/or ``qty`` shares of ``symbol`` to a user (admin).

        Returns:
            The ``deposit`` reply.
        """
        req = DepositRequest(username=username, cash=cash, symbol=symbol, qty=qty)
        return await self._call(req, DepositReply)

    async def user_disable(self, username: str) -> UserDisableReply:
        """Disable a user: their sessions are closed, logins and tokens refused (admin).

        Returns:
            The ``user_disable`` reply with ``sessions_closed``.
        """
        return await self._call(UserDisableRequest(username=username), UserDisableReply)

    async def user_passwd(self, username: str, password: str) -> UserPasswdReply:
        """Set a user's password (admin): their sessions are closed, but for this one, and their
        tokens refused; they log in again with the new password.

        Args:
            username: the user.
            password: the new password, 1 to 256 characters (at most 72 bytes of UTF-8).

        Returns:
            The ``user_passwd`` reply with ``sessions_closed``.

        Raises:
            ExchError: ``forbidden`` (not admin), ``bad_request`` (no such user: ``field`` ``username``).
        """
        return await self._call(UserPasswdRequest(username=username, password=password), UserPasswdReply)

    async def user_enable(self, username: str) -> UserEnableReply:
        """Let a disabled user log in again (admin).

        Returns:
            The ``user_enable`` reply.
        """
        return await self._call(UserEnableRequest(username=username), UserEnableReply)

    async def sessions(self) -> SessionsReply:
        """Every connected session (admin).

        Returns:
            The ``sessions`` reply.
        """
        return await self._call(SessionsRequest(), SessionsReply)

    async def halt(self, symbol: str) -> HaltReply:
        """Halt trading in ``symbol`` (admin): new orders and replaces are refused, cancels work.

        Returns:
            The ``halt`` reply.
        """
        return await self._call(HaltRequest(symbol=symbol), HaltReply)

    async def resume(self, symbol: str) -> ResumeReply:
        """Resume trading in ``symbol`` (admin).

        Returns:
            The ``resume`` reply.
        """
        return await self._call(ResumeRequest(symbol=symbol), ResumeReply)

    async def symbol_add(self, symbol: str, tick: int = 1, lot: int = 1) -> SymbolAddReply:
        """List a new symbol (admin).

        Returns:
            The ``symbol_add`` reply.
        """
        return await self._call(SymbolAddRequest(symbol=symbol, tick=tick, lot=lot), SymbolAddReply)

    # generic ----------------------------------------------------------------

    async def request(self, op: str, **fields: Any) -> Message:
        """Send any request by name and return its reply (no local type checks).

        Args:
            op: the request's ``op``, e.g. ``"order"``.
            **fields: its fields; ``id`` is assigned by the session.

        Returns:
            The decoded reply.

        Raises:
            ValueError: ``op`` is ``batch`` (use :meth:`batch`).
            ExchError: the server answered ``error``.
        """
        if op == "batch":
            raise ValueError("use Session.batch() for batches")
        rid = next(self._ids)
        frame = _encoder.encode({**fields, "op": op, "id": rid})
        return _raise_error(await self._roundtrip(rid, frame))

    async def batch(self, requests: Sequence[Request | Mapping[str, Any]]) -> list[Message]:
        """Send up to 100 requests in one frame; each gets its own ``id``.

        Args:
            requests: request structs of :mod:`exchange.protocol` (e.g.
                ``OrderRequest(symbol="ACME", side="buy", qty=1, price=100)``) or plain
                dicts with an ``op``; any ``id`` given is replaced.

        Returns:
            One reply per request, in request order. A refused request's reply is an
            ``ErrorMessage`` in the list (not raised), so one bad order does not hide
            the others' acks.

        Raises:
            ValueError: empty, more than 100, a nested batch, or a frame over 64 KiB.
            ExchError: the server refused the batch as a whole.
            SessionClosed, RequestTimeout: as for any request.
        """
        if not requests or len(requests) > MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} requests, not {len(requests)}")
        ids: list[int] = []
        parts: list[bytes] = []
        for item in requests:
            rid = next(self._ids)
            ids.append(rid)
            parts.append(_encode_item(item, rid))
        outer = next(self._ids)
        frame = b'{"op":"batch","id":%d,"requests":[%s]}' % (outer, b",".join(parts))
        _check_size(frame)
        self._check_open()
        futures = [self._expect(rid) for rid in ids]
        whole = self._expect(outer)
        gathered = asyncio.gather(*futures)
        try:
            await self._send(frame)
            try:
                async with asyncio.timeout(self.timeout):
                    pending: set[asyncio.Future[Any]] = {gathered, whole}
                    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            except TimeoutError:
                raise RequestTimeout(f"batch of {len(ids)}: no reply within {self.timeout} s") from None
            if whole.done():
                _raise_error(whole.result())
                raise ProtocolError(f"unexpected reply to the batch itself: {whole.result()!r}")
            return list(gathered.result())
        finally:
            for rid in (*ids, outer):
                self._waiters.pop(rid, None)
            every: list[asyncio.Future[Any]] = [*futures, whole, gathered]
            for fut in every:
                if fut.done():
                    if not fut.cancelled():
                        fut.exception()  # mark retrieved
                else:
                    fut.cancel()

    # ------------------------------------------------------------------ internals

    async def _call(self, req: Request, expect: type[M]) -> M:
        rid = next(self._ids)
        frame = _encoder.encode(msgspec.structs.replace(req, id=rid))
        reply = _raise_error(await self._roundtrip(rid, frame))
        if not isinstance(reply, expect):
            op = req.__struct_config__.tag
            raise ProtocolError(f"expected {expect.__name__} in reply to {op!r}, got {reply!r}")
        return reply

    async def _roundtrip(self, rid: int, frame: bytes) -> Message:
        _check_size(frame)
        self._check_open()
        fut = self._expect(rid)
        try:
            await self._send(frame)
            async with asyncio.timeout(self.timeout):
                return await fut
        except TimeoutError:
            raise RequestTimeout(f"no reply to request {rid} within {self.timeout} s") from None
        finally:
            self._waiters.pop(rid, None)
            if not fut.done():
                fut.cancel()
            elif not fut.cancelled():
                fut.exception()  # mark retrieved (the close raced the send)

    def _check_open(self) -> None:
        if self._closed is not None:
            raise self._closed_error()

    def _expect(self, rid: int) -> asyncio.Future[Message]:
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiters[rid] = fut
        return fut

    async def _send(self, frame: bytes) -> None:
        try:
            await self._ws.send(frame.decode())
        except ConnectionClosed:
            await asyncio.gather(self._reader, return_exceptions=True)
            raise self._closed_error() from None

    def _closed_error(self) -> SessionClosed:
        """A fresh SessionClosed for the current close (one per raise site)."""
        if self._closed is None:
            code = self._ws.close_code
            return SessionClosed(1006 if code is None else code, self._ws.close_reason or "", self.shutdown)
        return SessionClosed(self._closed.code, self._closed.reason, self._closed.shutdown)

    async def _read(self) -> None:
        try:
            async for frame in self._ws:
                self._dispatch(frame)
        except ConnectionClosed:
            pass
        except Exception:  # a bug here must not leave requests hanging
            log.exception("exch session reader failed; closing %s", self.url)
            with contextlib.suppress(Exception):
                await self._ws.close(1011, "client reader failed")
        finally:
            self._finish()

    def _dispatch(self, frame: str | bytes) -> None:
        try:
            msg = decode_message(frame)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            self._undecodable(frame, exc)
            return
        rid = getattr(msg, "id", None)
        if rid is not None and rid.__class__ is int:
            fut = self._waiters.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
                return
        if isinstance(msg, ShutdownMessage):
            self.shutdown = msg
        self._push(msg)

    def _push(self, msg: Message) -> None:
        for callback, types in self._callbacks:
            if not types or isinstance(msg, types):
                try:
                    callback(msg)
                except Exception:
                    log.exception("exch session callback %r failed on %s", callback, msg.__class__.__name__)
        self._inbox.put(msg)

    def _undecodable(self, frame: str | bytes, exc: Exception) -> None:
        self.undecodable += 1
        log.warning("exch session: undecodable frame from %s (%s): %.200r", self.url, exc, frame)
        with contextlib.suppress(msgspec.DecodeError):
            obj = _lenient.decode(frame)
            rid = obj.get("id") if isinstance(obj, dict) else None
            fut = self._waiters.pop(rid, None) if rid.__class__ is int else None
            if fut is not None and not fut.done():
                fut.set_exception(ProtocolError(f"undecodable reply to request {rid}: {exc}"))

    def _finish(self) -> None:
        if self._closed is not None:
            return
        self._closed = self._closed_error()
        log.debug("exch session %s closed: %s", self.url, self._closed)
        waiters, self._waiters = self._waiters, {}
        for fut in waiters.values():
            if not fut.done():
                fut.set_exception(self._closed_error())
        self._inbox.close()
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            try:
                callback(self._closed_error())
            except Exception:
                log.exception("exch session close callback %r failed", callback)


def _listed(value: str | Iterable[Any]) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def _raise_error(reply: Message) -> Message:
    if isinstance(reply, ErrorMessage):
        raise ExchError.from_message(reply)
    return reply


def _check_size(frame: bytes) -> None:
    if len(frame) > MAX_FRAME:
        raise ValueError(f"request frame of {len(frame)} bytes exceeds the server's limit of {MAX_FRAME}")


def _encode_item(item: Request | Mapping[str, Any], rid: int) -> bytes:
    if isinstance(item, msgspec.Struct):
        if isinstance(item, BatchRequest):
            raise ValueError("a batch cannot contain a batch")
        return _encoder.encode(msgspec.structs.replace(item, id=rid))
    op = item.get("op")
    if not isinstance(op, str):
        raise ValueError(f"batch item without an op: {item!r}")
    if op == "batch":
        raise ValueError("a batch cannot contain a batch")
    return _encoder.encode({**item, "id": rid})


async def _open(
    url: str,
    *,
    cafile: Path | None,
    home: Path | None,
    insecure_ok: bool,
    open_timeout: float | None,
    ping_interval: float | None,
    ping_timeout: float | None,
    proxy: str | Literal[True] | None,
) -> ClientConnection:
    """Open the WebSocket with exch's settings, mapping failures to client errors."""
    scheme = url.partition(":")[0].lower()
    if scheme not in ("ws", "wss"):
        raise ConnectError(f"{url!r} is not a wss:// (or ws://) URL, e.g. wss://127.0.0.1:8443/ws")
    if scheme == "ws" and not insecure_ok:
        raise ConnectError(
            f"{url} is plain ws://: passwords and orders would travel unencrypted. Use wss://, "
            "or allow it explicitly (insecure_ok=True / --insecure) for a server started with --insecure."
        )
    tls: dict[str, Any] = {"ssl": _ssl_context(cafile, home)} if scheme == "wss" else {}
    try:
        return await ws_connect(
            url,
            compression=None,
            max_size=MAX_INCOMING,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            proxy=proxy,
            **tls,
        )
    except ssl.SSLCertVerificationError as exc:
        detail = exc.verify_message or str(exc)
        raise CertificateError(f"{certificate_hint(url, cafile, home)} ({detail})") from exc
    except ssl.SSLError as exc:
        raise ConnectError(
            f"TLS handshake with {url} failed: {exc}. If the server runs with --insecure, use ws://."
        ) from exc
    except InvalidStatus as exc:
        raise ConnectError(
            f"{url} refused the WebSocket connection: HTTP {exc.response.status_code} (is the path /ws?)"
        ) from exc
    except InvalidURI as exc:
        raise ConnectError(f"invalid URL {url!r}: {exc}") from exc
    except InvalidHandshake as exc:
        hint = " Is it a TLS server? Use wss://." if scheme == "ws" else ""
        raise ConnectError(f"WebSocket handshake with {url} failed: {exc}.{hint}") from exc
    except TimeoutError as exc:
        raise ConnectError(f"timed out connecting to {url} after {open_timeout} s") from exc
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
        hint = " If the server runs with --insecure, use ws://." if scheme == "wss" else ""
        raise ConnectError(f"{url} dropped the connection during the handshake.{hint}") from exc
    except OSError as exc:
        detail = exc.strerror or str(exc) or exc.__class__.__name__
        raise ConnectError(f"cannot reach {url}: {detail}") from exc
