"""The gateway: WebSocket frames in, engine commands out, replies and pushes back.

For each frame: decode into a typed request (a precise ``error`` otherwise),
check the session's state, role and rate limits, turn it into an engine
command or a read, and hand it to the sequencer. Everything that goes back —
replies, fills, ``done``, market data — waits in the :class:`Releaser` until
the journal has committed the command it reflects, then goes out without
waiting on any client (a client that does not read is dropped).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec

from exchange.auth import LoginThrottle, TokenSigner, verify_or_dummy
from exchange.engine.commands import (
    AddSymbol,
    Cancel,
    CancelAll,
    Command,
    Deposit,
    Halt,
    NewOrder,
    Replace,
    Resume,
)
from exchange.engine.core import Engine
from exchange.engine.events import Applied, Done, Event, Match, Reject
from exchange.engine.queries import balance, open_orders
from exchange.gateway.candles import candles_handler
from exchange.gateway.endpoint import Endpoint
from exchange.gateway.forwarded import TrustedProxies
from exchange.gateway.history import History
from exchange.gateway.limits import GatewayLimits
from exchange.gateway.private import PRIVATE_DONE_REASONS, done_frame, error_frame, fill_frames, reply_frame
from exchange.gateway.release import Releaser
from exchange.gateway.session import ClientSession, SessionState
from exchange.gateway.stats import Rates, rss_bytes
from exchange.marketdata.feed import PublicMessages, public_messages
from exchange.marketdata.hub import MarketDataHub
from exchange.money import dollars
from exchange.protocol.messages import (
    BalanceReply,
    DepositReply,
    HaltReply,
    LoginReply,
    Message,
    OperatorEvent,
    OrdersReply,
    ResumeReply,
    SessionInfo,
    SessionsReply,
    StatsMessage,
    SymbolAddReply,
    SymbolStats,
    UserAddReply,
    UserDisableReply,
    UserEnableReply,
    UserInfo,
    UserListReply,
    encode_message,
)
from exchange.protocol.requests import (
    ADMIN_OPS,
    TRADER_OPS,
    BalanceRequest,
    CancelAllRequest,
    CancelRequest,
    CandlesRequest,
    DepositRequest,
    HaltRequest,
    HistoryRequest,
    Login,
    OrderRequest,
    OrdersRequest,
    ReplaceRequest,
    Request,
    RequestId,
    ResumeRequest,
    SessionsRequest,
    SubscribeRequest,
    SymbolAddRequest,
    UserAddRequest,
    UserDisableRequest,
    UserEnableRequest,
    UserListRequest,
)
from exchange.store.base import Store, StoreError, User, UserExists

if TYPE_CHECKING:
    pass

__all__ = ["AUTH_FAILED", "Gateway", "Sequencer"]

log = logging.getLogger("exch.gateway")

AUTH_FAILED = "invalid username or password"
_LOGIN_QUEUE_S = 10.0  # how long a login waits behind others in flight from the same place
_ORDER_OPS = frozenset({"order", "cancel", "replace", "cancel_all"})
T = TypeVar("T")
M = TypeVar("M")

EVENTS_KEPT = 100
"""Operator events kept for consoles that subscribe to ``stats`` later."""
_NOTED_CLOSES = {1009: "message too big", 1013: "slow consumer"}
"""Close codes worth an operator event (the server closed the connection for them)."""


class Sequencer(Protocol):
    """What the gateway needs of the journal shell: apply + journal, and the engine."""

    @property
    def engine(self) -> Engine:
        """The engine (read-only for the gateway)."""

    def submit(self, command: Command, ts: int | None = None) -> tuple[int, list[Event]]:
        """Apply ``command`` stamped ``ts``; journal it if accepted; return ``(seq, events)``."""


class Gateway(Endpoint):
    """Logins, orders, administration and private delivery. Built by ``exchange.server``.

    Args:
        sequencer: applies and journals commands.
        store: users (called only on ``store_executor``'s single thread).
        store_executor: the one thread the store is used from.
        bcrypt_executor: threads for password checks.
        signer: issues and checks reconnect tokens.
        throttle: failed-login throttling.
        limits: per-connection limits.
        clock_ns: wall clock for timestamps (ns); injectable for tests.
        max_uncommitted: accepted commands the journal may be behind before new
            ones are refused with ``server_busy`` (backpressure, bounded memory).
        trusted_proxies: peers whose headers name the client (see :class:`Endpoint`).
    """

    def __init__(
        self,
        *,
        sequencer: Sequencer,
        store: Store,
        store_executor: Executor,
        bcrypt_executor: Executor | None,
        signer: TokenSigner,
        throttle: LoginThrottle,
        limits: GatewayLimits | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
        journal_seq: Callable[[], int] | None = None,
        bcrypt_rounds: int = 12,
        hub: MarketDataHub | None = None,
        bus: Callable[[str, list[Any]], None] | None = None,
        max_uncommitted: int = 200_000,
        trusted_proxies: TrustedProxies | None = None,
    ) -> None:
        super().__init__(hub=hub or MarketDataHub(), limits=limits, clock_ns=clock_ns, monotonic=monotonic,
                         trusted_proxies=trusted_proxies)
        self.sequencer = sequencer
        self.bcrypt_rounds = bcrypt_rounds
        self.engine = sequencer.engine
        self.store = store
        self.store_executor = store_executor
        self.bcrypt_executor = bcrypt_executor
        self.signer = signer
        self.throttle = throttle
        self.releaser = Releaser(self.engine.seq)
        self.by_user: dict[int, list[ClientSession]] = {}
        self._revocations: dict[str, int] = {}
        """Per username: ``user_disable``s answered since start (logins in flight compare it)."""
        self.stats_subs: set[ClientSession] = set()
        self.bus = bus
        self.started_ns = clock_ns()
        self.loop_lag_ms = 0.0
        self.commit_lag_ms = 0.0
        self._uncommitted_since: float | None = None
        self.max_uncommitted = max_uncommitted
        self._journal_seq = journal_seq or (lambda: self.releaser.committed)
        self._rates = {name: Rates() for name in ("orders", "trades", "out")}
        self.events: deque[OperatorEvent] = deque(maxlen=EVENTS_KEPT)  # for operators, newest last
        self._event_seq = 0
        self._events_published = 0  # events up to this seq went out in a ``stats`` broadcast
        self._stats_new: set[ClientSession] = set()  # subscribed since the last broadcast: owed the history
        self.handlers.update({
            OrderRequest: self._order,
            CancelRequest: self._cancel,
            ReplaceRequest: self._replace,
            CancelAllRequest: self._cancel_all,
            OrdersRequest: self._orders,
            BalanceRequest: self._balance,
            HaltRequest: self._halt,
            ResumeRequest: self._resume,
            SymbolAddRequest: self._symbol_add,
            SessionsRequest: self._sessions,
            Login: self._login,
            UserAddRequest: self._user_add,
            UserListRequest: self._user_list,
            UserDisableRequest: self._user_disable,
            UserEnableRequest: self._user_enable,
            DepositRequest: self._deposit,
            HistoryRequest: History(store=store, executor=store_executor, engine=self.engine, reply=self._reply),
            CandlesRequest: candles_handler(self),
        })

    # ------------------------------------------------------------ connections

    def forget(self, session: ClientSession) -> None:
        """Drop a closed connection, including its user index and ``stats`` subscription."""
        super().forget(session)
        peers = self.by_user.get(session.user_id)
        if peers is not None and session in peers:
            peers.remove(session)
            if not peers:
                del self.by_user[session.user_id]
        self.stats_subs.discard(session)
        self._stats_new.discard(session)
        sent = session.conn.protocol.close_sent  # the server closed it: for what?
        if sent is not None and sent.code in _NOTED_CLOSES:
            who = f"{session.username} " if session.username else ""
            self.note("security", f"session {session.id} ({who}{session.address}) closed {sent.code}: "
                       f"{sent.reason or _NOTED_CLOSES[sent.code]}")

    def authorize(self, session: ClientSession, req: Request) -> bool:
        """Traders for orders, admins for administration; order rate limit."""
        op = type(req).__struct_config__.tag
        role = session.role if session.state is SessionState.AUTHENTICATED else None  # closed: no role
        if op in TRADER_OPS:
            if role != "trader":
                self._deny(session, req.id, "trader")
                return False
            if op in _ORDER_OPS and not session.orders.take(self.monotonic()):
                self._rate_limited(session, req.id)
                return False
            session.order_count += op in _ORDER_OPS
        elif op in ADMIN_OPS and role != "admin":
            self._deny(session, req.id, "admin")
            return False
        return True

    def _deny(self, session: ClientSession, rid: RequestId, role: str) -> None:
        if session.state is SessionState.AUTHENTICATED:
            self._reply(session, rid, error_frame(rid, "forbidden", f"this needs the {role} role"))
        else:
            self._reply(session, rid, error_frame(rid, "not_authenticated", "log in first"))

    # ---------------------------------------------------------------- output

    def _later(self, action: Callable[..., None], *args: Any) -> None:
        """Run ``action`` once everything accepted so far is committed (keeps reply order)."""
        self.releaser.after(self.engine.seq, action, *args)

    def _to_user(self, user_id: int, frame: bytes) -> None:
        for session in self.by_user.get(user_id, ()):
            self._send(session, frame)

    def committed(self, seq: int) -> None:
        """The journal committed everything up to ``seq`` (called on the loop)."""
        waiting = self._uncommitted_since
        if waiting is not None:
            now = self.monotonic()
            self.commit_lag_ms = (now - waiting) * 1000
            # What is still uncommitted was submitted after this commit's batch was cut.
            self._uncommitted_since = now if seq < self.engine.seq else None
        self.releaser.commit(seq)

    def _submit(
        self,
        session: ClientSession,
        rid: RequestId,
        command: Command,
        reply: Callable[[Applied], Message] | None = None,
    ) -> list[Event]:
        if self.engine.seq - self._journal_seq() >= self.max_uncommitted:
            self._reply(session, rid, error_frame(
                rid, "server_busy", "the journal is behind; try again in a moment"))
            return []
        ts = self.clock_ns()
        try:
            _, events = self.sequencer.submit(command, ts)
        except Exception as exc:  # the journal failed: refuse, never pretend
            log.exception("submit failed")
            self._reply(session, rid, error_frame(rid, "server_busy", f"the exchange cannot accept this now: {exc}"))
            return []
        first = events[0]
        public = public_messages(self.engine, events, ts) if not isinstance(first, Reject) else {}
        if isinstance(first, Applied):
            assert reply is not None
            frame = encode_message(reply(first))
        else:
            frame = reply_frame(rid, first, ts)  # type: ignore[arg-type]
        if self._uncommitted_since is None and not isinstance(first, Reject):
            self._uncommitted_since = self.monotonic()
        self.releaser.after(self.engine.seq, self._deliver, session, frame, events, public, ts)
        return events

    def _deliver(
        self, session: ClientSession, frame: bytes, events: list[Event], public: PublicMessages, ts: int
    ) -> None:
        self._send(session, frame)
        for ev in events:
            kind = type(ev)
            if kind is Match:
                assert isinstance(ev, Match)
                maker, taker = fill_frames(ev, ts)
                self._to_user(ev.maker_user, maker)
                self._to_user(ev.taker_user, taker)
                self.counters.trades += 1
            elif kind is Done:
                assert isinstance(ev, Done)
                if ev.reason in PRIVATE_DONE_REASONS:
                    self._to_user(ev.user, done_frame(ev, ts))
        for symbol, messages in public.items():
            self.hub.publish(symbol, messages)
            if self.bus is not None:
                self.bus(symbol, messages)

    # ------------------------------------------------------------- trading

    def _order(self, s: ClientSession, r: OrderRequest) -> None:
        self.counters.orders += 1
        self._submit(s, r.id, NewOrder(
            s.user_id, r.symbol, r.side, r.type, r.price, r.qty, r.tif, r.post_only, r.client_order_id
        ))

    def _cancel(self, s: ClientSession, r: CancelRequest) -> None:
        if r.order_id is None and r.client_order_id is None:
            self._reply(s, r.id, error_frame(r.id, "bad_request", "give order_id or client_order_id",
                                             field="order_id"))
            return
        self._submit(s, r.id, Cancel(s.user_id, r.order_id, r.client_order_id))

    def _replace(self, s: ClientSession, r: ReplaceRequest) -> None:
        if r.order_id is None and r.client_order_id is None:
            self._reply(s, r.id, error_frame(r.id, "bad_request", "give order_id or client_order_id",
                                             field="order_id"))
            return
        if r.price is None and r.qty is None:
            self._reply(s, r.id, error_frame(r.id, "bad_request", "give a new price and/or qty", field="price"))
            return
        self._submit(s, r.id, Replace(s.user_id, r.order_id, r.price, r.qty, r.client_order_id))

    def _cancel_all(self, s: ClientSession, r: CancelAllRequest) -> None:
        self._submit(s, r.id, CancelAll(s.user_id, r.symbol))

    def _orders(self, s: ClientSession, r: OrdersRequest) -> None:
        if r.symbol is not None and r.symbol not in self.engine.books:
            self._unknown_symbol(s, r.id, r.symbol)
            return
        rows = open_orders(self.engine, s.user_id, r.symbol)
        self._reply(s, r.id, encode_message(msgspec.convert({"id": r.id, "orders": rows}, OrdersReply)))

    def _balance(self, s: ClientSession, r: BalanceRequest) -> None:
        data = balance(self.engine, s.user_id)
        self._reply(s, r.id, encode_message(msgspec.convert({"id": r.id, **data}, BalanceReply)))

    def _unknown_symbol(self, s: ClientSession, rid: RequestId, symbol: str) -> None:
        self._reply(s, rid, error_frame(rid, "unknown_symbol", f"no symbol {symbol!r}", field="symbol"))

    # ---------------------------------------------------------- market data

    def may_see_stats(self, s: ClientSession, r: SubscribeRequest) -> bool:
        """``stats`` is for admins."""
        if s.role != "admin":
            self._deny(s, r.id, "admin")
            return False
        return True

    def subscribed(self, s: ClientSession, channels: list[str]) -> None:
        """Admins subscribing to ``stats`` get it twice a second."""
        if "stats" in channels and s not in self.stats_subs:
            self.stats_subs.add(s)
            self._stats_new.add(s)

    def unsubscribed(self, s: ClientSession, channels: list[str]) -> None:
        """Stop ``stats`` for this session."""
        if "stats" in channels:
            self.stats_subs.discard(s)
            self._stats_new.discard(s)

    # ---------------------------------------------------------------- login

    async def _in_store(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.store_executor, fn, *args)

    async def _login(self, s: ClientSession, r: Login) -> None:
        """Log ``s`` in by password or token.

        The user's state is checked again after every await (store reads,
        bcrypt): see :meth:`_current`. A login is either in :attr:`by_user` before
        a ``user_disable`` closes the user's sessions (and is closed with them)
        or is refused, never let in after the disable was answered.
        """
        if s.state is not SessionState.CONNECTED:
            self._reply(s, r.id, error_frame(r.id, "bad_request", "this connection is already logged in"))
            return
        if r.token is not None:
            user = await self._token_user(r.token)
        elif r.username is not None and r.password is not None:
            name = r.username
            if not await self._login_allowed(name, s.ip, self.monotonic()):
                self.counters.logins_failed += 1
                self.note("security", f"login throttled: {name} from {s.address}")
                self._reply(s, r.id, error_frame(r.id, "auth_failed", AUTH_FAILED))
                return
            user = await self._password_user(name, r.password)
            if user is not None:
                self.throttle.success(name, s.ip, self.monotonic())
            else:
                self.throttle.failure(name, s.ip, self.monotonic())
        else:
            self._reply(s, r.id, error_frame(r.id, "bad_request", "give username and password, or token",
                                             field="username"))
            return
        if user is None:
            self.counters.logins_failed += 1
            self.note("security", f"login failed: {r.username or 'expired or revoked token'} from {s.address}")
            self._reply(s, r.id, error_frame(r.id, "auth_failed", AUTH_FAILED))
            return
        if s.state is not SessionState.CONNECTED:  # closed while we checked
            return
        s.login(user.name, user.id, user.role)
        self.by_user.setdefault(user.id, []).append(s)
        token, expires = self.signer.issue(user.name, user.generation, time.time())
        self._reply(s, r.id, encode_message(LoginReply(
            id=r.id, user=user.name, role=user.role, token=token, token_expires_ts=expires
        )))

    async def _token_user(self, token: str) -> User | None:
        """The user a token logs in, if it is genuine, unexpired and of the user's current generation."""
        verified = self.signer.verify(token, time.time())
        if verified is None:
            return None
        name, generation = verified
        revocations = self._revocations.get(name, 0)
        user = await self._in_store(self.store.get_user, name)
        return self._current(user, name, revocations, generation)

    async def _password_user(self, name: str, password: str) -> User | None:
        """The user ``name`` if ``password`` is theirs and they may log in now."""
        revocations = self._revocations.get(name, 0)
        found = await self._in_store(self.store.credentials, name)
        ok = await verify_or_dummy(password, found[1].encode() if found else None,
                                   rounds=self.bcrypt_rounds, executor=self.bcrypt_executor)
        if not ok or found is None:
            return None
        # bcrypt took a while: read the user again (a change by another process, e.g. `exch user passwd`)
        user = await self._in_store(self.store.get_user, name)
        return self._current(user, name, revocations, found[0].generation)

    def _current(self, user: User | None, name: str, revocations: int, generation: int) -> User | None:
        """``user`` (as just read) if it may log in: enabled, still at ``generation``, and not
        disabled through this gateway since the login began (``revocations`` was read then).

        The last check covers what the store read alone cannot: a ``user_disable``
        whose store write the read missed but whose reply goes out before this
        login's (:meth:`_user_disable` bumps the count as it closes the sessions).
        """
        if user is None or user.disabled or user.generation != generation:
            return None
        return user if self._revocations.get(name, 0) == revocations else None

    async def _login_allowed(self, name: str, ip: str, now: float) -> bool:
        """Ask the throttle; while only other logins in flight block this one, wait for them."""
        deadline = now + _LOGIN_QUEUE_S
        while self.throttle.check(name, ip, now) > 0:
            if self.throttle.locked_for(name, ip, now) > 0 or now >= deadline:
                return False
            await asyncio.sleep(0.01)
            now = self.monotonic()
        return True

    # ---------------------------------------------------------------- admin

    async def _user_add(self, s: ClientSession, r: UserAddRequest) -> None:
        for symbol in r.positions:
            if symbol not in self.engine.books:
                self._reply(s, r.id, error_frame(r.id, "unknown_symbol", f"no symbol {symbol!r}", field="positions"))
                return
        try:
            user = await self._in_store(lambda: self.store.add_user(r.username, r.password, role=r.role))
        except UserExists:
            self._reply(s, r.id, error_frame(r.id, "bad_request", f"user {r.username!r} already exists",
                                             field="username"))
            return
        except StoreError as exc:
            self._reply(s, r.id, error_frame(r.id, "bad_request", str(exc)))
            return
        gifts: list[Command] = []
        if r.cash:
            gifts.append(Deposit(user.id, cash=r.cash))
        gifts.extend(Deposit(user.id, symbol=sym, qty=qty) for sym, qty in r.positions.items() if qty)
        for gift in gifts:
            _, events = self.sequencer.submit(gift, self.clock_ns())
            if isinstance(events[0], Reject):
                self._reply(s, r.id, error_frame(r.id, events[0].code, f"user added, but: {events[0].message}"))
                return
        self.note("user", f"{s.username} added user {user.name} ({user.role}){_gifts_text(r.cash, r.positions)}")
        self._reply(s, r.id, encode_message(UserAddReply(id=r.id, username=user.name, role=user.role)))

    async def _user_list(self, s: ClientSession, r: UserListRequest) -> None:
        users = await self._in_store(self.store.users)
        infos = [UserInfo(username=u.name, role=u.role, disabled=u.disabled, created_ts=u.created) for u in users]
        self._reply(s, r.id, encode_message(UserListReply(id=r.id, users=infos)))

    async def _user_disable(self, s: ClientSession, r: UserDisableRequest) -> None:
        user = await self._set_disabled(s, r.id, r.username, True)
        if user is None:
            return
        # From here to the reply nothing awaits: every login of this user that is in
        # flight now is refused when it completes (see _current), every one that
        # completed is closed here, and every later one reads the disabled user.
        self._revocations[user.name] = self._revocations.get(user.name, 0) + 1
        closed = 0
        for peer in list(self.by_user.get(user.id, ())):
            self._send(peer, error_frame(None, "forbidden", "this user has been disabled"))
            peer.close(1008, "user disabled")
            closed += 1
        self.note("security", f"{s.username} disabled user {r.username} ({closed} sessions closed)")
        self._reply(s, r.id, encode_message(UserDisableReply(id=r.id, username=r.username, sessions_closed=closed)))

    async def _user_enable(self, s: ClientSession, r: UserEnableRequest) -> None:
        if await self._set_disabled(s, r.id, r.username, False) is not None:
            self.note("user", f"{s.username} enabled user {r.username}")
            self._reply(s, r.id, encode_message(UserEnableReply(id=r.id, username=r.username)))

    async def _set_disabled(self, s: ClientSession, rid: RequestId, name: str, disabled: bool) -> User | None:
        """Disable or enable ``name`` in the store (revoking its tokens); the user, or None after an error reply."""
        try:
            return await self._in_store(self.store.set_disabled, name, disabled)
        except StoreError:
            self._reply(s, rid, error_frame(rid, "bad_request", f"no user {name!r}", field="username"))
            return None

    async def _deposit(self, s: ClientSession, r: DepositRequest) -> None:
        user = await self._in_store(self.store.get_user, r.username)
        if user is None:
            self._reply(s, r.id, error_frame(r.id, "bad_request", f"no user {r.username!r}", field="username"))
            return
        gift = _gifts_text(r.cash, {r.symbol: r.qty} if r.symbol is not None else {}).removeprefix(" with ")
        self._submit(s, r.id, Deposit(user.id, r.cash, r.symbol, r.qty), lambda _: self._noted(
            "user", f"{s.username} gave {r.username} {gift}",
            DepositReply(id=r.id, username=r.username, cash=r.cash, symbol=r.symbol, qty=r.qty)))

    def _halt(self, s: ClientSession, r: HaltRequest) -> None:
        self._submit(s, r.id, Halt(r.symbol), lambda a: self._noted(
            "admin", f"{s.username} halted {r.symbol}", HaltReply(id=r.id, symbol=r.symbol, status="halted")))

    def _resume(self, s: ClientSession, r: ResumeRequest) -> None:
        self._submit(s, r.id, Resume(r.symbol), lambda a: self._noted(
            "admin", f"{s.username} resumed {r.symbol}", ResumeReply(id=r.id, symbol=r.symbol, status="trading")))

    def _symbol_add(self, s: ClientSession, r: SymbolAddRequest) -> None:
        self._submit(s, r.id, AddSymbol(r.symbol, r.tick, r.lot), lambda a: self._noted(
            "admin", f"{s.username} listed {r.symbol} (tick {r.tick}, lot {r.lot})",
            SymbolAddReply(id=r.id, symbol=r.symbol, tick=r.tick, lot=r.lot)))

    def _sessions(self, s: ClientSession, r: SessionsRequest) -> None:
        now = self.monotonic()
        infos = []
        for p in sorted(self.sessions, key=lambda p: p.id):
            if p.state is SessionState.CLOSING:  # e.g. closed by user_disable, handshake not done yet
                continue
            orders_per_s, messages_per_s = p.rates(now)
            infos.append(SessionInfo(
                session_id=p.id, user=p.username, role=p.role, address=p.address, connected_ts=p.connected_ts,
                orders_per_s=round(orders_per_s, 2), messages_per_s=round(messages_per_s, 2),
            ))
        self._reply(s, r.id, encode_message(SessionsReply(id=r.id, sessions=infos)))

    # ------------------------------------------------------------ operations

    def note(self, kind: str, text: str) -> None:
        """Log an operator event and keep it for the next ``stats`` messages."""
        log.info(text)
        self._event_seq += 1
        self.events.append(OperatorEvent(seq=self._event_seq, ts=self.clock_ns(), kind=kind, text=text))

    def _noted(self, kind: str, text: str, reply: M) -> M:
        """:meth:`note`, then ``reply`` (for the replies of accepted admin commands)."""
        self.note(kind, text)
        return reply

    def stats_message(self, events: list[OperatorEvent] | None = None) -> StatsMessage:
        """The current ``stats`` message, carrying ``events``."""
        now = self.monotonic()
        by_user: dict[str, int] = {}
        for session in self.sessions:
            if session.username is not None:
                by_user[session.username] = by_user.get(session.username, 0) + 1
        symbols_: dict[str, SymbolStats] = {}
        for name, book in sorted(self.engine.books.items()):
            bid = book.bids.best()
            ask = book.asks.best()
            resting = sum(level.count for side in (book.bids, book.asks) for level in side.levels.values())
            symbols_[name] = SymbolStats(
                bid=bid.price if bid else None, ask=ask.price if ask else None, last=book.last,
                volume=book.volume, open_interest=book.open_interest, orders_resting=resting,
                status=book.status,
            )
        return StatsMessage(
            ts=self.clock_ns(), uptime_s=round(now - self.started, 3), clients=len(self.sessions),
            sessions_by_user=by_user, memory_rss_bytes=rss_bytes(),
            orders_per_s=round(self._rates["orders"].sample(now, self.counters.orders), 1),
            trades_per_s=round(self._rates["trades"].sample(now, self.counters.trades), 1),
            messages_out_per_s=round(self._rates["out"].sample(now, self.counters.messages_out), 1),
            journal_seq=self._journal_seq(), journal_lag_ms=round(self.commit_lag_ms, 3),
            loop_lag_ms=round(self.loop_lag_ms, 3), symbols=symbols_, events=events or [],
        )

    def publish_stats(self) -> None:
        """Send ``stats`` to its subscribers (the server calls this twice a second).

        Everyone gets the events noted since the last broadcast; a session that
        subscribed since then gets the kept history instead.
        """
        new = [e for e in self.events if e.seq > self._events_published]
        self._events_published = self._event_seq
        if not self.stats_subs:
            self._stats_new.clear()
            return
        message = self.stats_message(new)
        frame = encode_message(message)
        history = frame
        if self._stats_new:
            history = encode_message(msgspec.structs.replace(message, events=list(self.events)))
        for session in list(self.stats_subs):
            self.releaser.after(self.engine.seq, self._send, session, history if session in self._stats_new else frame)
        self._stats_new.clear()


def _gifts_text(cash: int, positions: dict[str, int]) -> str:
    """`` with cash $1,000.00 and 50 ACME`` (or nothing), for operator events."""
    parts = [f"cash {dollars(cash)}"] if cash else []
    parts += [f"{qty} {symbol}" for symbol, qty in positions.items() if qty]
    return f" with {' and '.join(parts)}" if parts else ""

