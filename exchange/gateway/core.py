"""The gateway: WebSocket frames in, engine commands out to the ledger, output to the outbox.

For each frame: decode into a typed request (a precise ``error`` otherwise,
:class:`~exchange.serving.endpoint.Endpoint`), check the session's state, role
and rate limits (:meth:`Gateway.authorize`), turn it into an engine command or a
read, and hand it to the sequencer. The reply and the engine's events go to the
:class:`~exchange.gateway.outbox.Outbox`, which releases them after the journal
commit. Logins are checked by :mod:`exchange.gateway.login`, the admin requests
answered by :mod:`exchange.gateway.admin`, the ``stats`` channel kept by
:class:`~exchange.gateway.stats.Stats`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol, TypeVar

import msgspec

from exchange.engine.commands import Cancel, CancelAll, Command, Expire, NewOrder, Replace
from exchange.engine.core import Engine
from exchange.engine.events import Applied, Event, Reject
from exchange.engine.queries import balance, open_orders
from exchange.gateway.admin import Admin
from exchange.gateway.candles import candles_handler
from exchange.gateway.history import History
from exchange.gateway.login import AUTH_FAILED, Logins
from exchange.gateway.outbox import Outbox
from exchange.gateway.private import reply_frame
from exchange.gateway.stats import Stats
from exchange.marketdata.feed import public_messages
from exchange.protocol.messages import BalanceReply, LoginReply, Message, OrdersReply, encode_message
from exchange.protocol.requests import (
    ADMIN_OPS,
    TRADER_OPS,
    BalanceRequest,
    CancelAllRequest,
    CancelRequest,
    CandlesRequest,
    HistoryRequest,
    Login,
    OrderRequest,
    OrdersRequest,
    ReplaceRequest,
    Request,
    RequestId,
    SubscribeRequest,
)
from exchange.serving.counters import Counters
from exchange.serving.endpoint import Endpoint
from exchange.serving.forwarded import TrustedProxies
from exchange.serving.frames import error_frame
from exchange.serving.limits import GatewayLimits
from exchange.serving.session import ClientSession, SessionState
from exchange.store.base import TradeStore

__all__ = ["AUTH_FAILED", "Gateway", "Sequencer"]

log = logging.getLogger("exch.gateway")
T = TypeVar("T")

_ORDER_OPS = frozenset({"order", "cancel", "replace", "cancel_all"})
_NOTED_CLOSES = {1009: "message too big", 1013: "slow consumer"}
"""Close codes worth an operator event (the server closed the connection for them)."""


class Sequencer(Protocol):
    """What the gateway needs of the journal shell: apply + journal, and the engine."""

    @property
    def engine(self) -> Engine:
        """The engine (read-only for the gateway)."""

    def submit(self, command: Command, ts: int | None = None) -> tuple[int, list[Event]]:
        """Apply ``command`` stamped ``ts``; journal it if accepted; return ``(seq, events)``."""


def _changed_state(events: list[Event]) -> bool:
    """Whether a sequenced command changed anything: accepted, or refused after due good-till-date
    orders expired ahead of it (the only events a refusal can follow)."""
    return not isinstance(events[0], Reject) or len(events) > 1


class Gateway(Endpoint):
    """The inbound side: authorization, trading requests, submit. Built by ``exchange.server``.

    Args:
        sequencer: applies and journals commands (the ledger).
        outbox: where replies and events wait for the commit, and the user→sessions index.
        logins: checks credentials and issues tokens (also the store's thread).
        stats: the ``stats`` channel and the operator event log.
        trades: the trade store for ``history`` and ``candles``: a connection of its own, used on
            ``queries`` only.
        queries: the thread those reads run on, apart from the logins' store thread, so that a
            long fold never holds a login behind it.
        sessions: the open connections (shared with ``stats``).
        counters: the server's totals (shared with ``outbox`` and ``stats``).
        limits: per-connection limits.
        clock_ns: wall clock for timestamps (ns); injectable for tests.
        monotonic: clock for rates (s).
        journal_seq: the durable sequence number.
        max_uncommitted: accepted commands the journal may be behind before new
            ones are refused with ``server_busy`` (backpressure, bounded memory).
        trusted_proxies: peers whose headers name the client (see :class:`Endpoint`).
    """

    def __init__(
        self,
        *,
        sequencer: Sequencer,
        outbox: Outbox,
        logins: Logins,
        stats: Stats,
        trades: TradeStore,
        queries: Executor,
        sessions: set[ClientSession],
        counters: Counters,
        limits: GatewayLimits | None = None,
        clock_ns: Callable[[], int],
        monotonic: Callable[[], float],
        journal_seq: Callable[[], int],
        max_uncommitted: int = 200_000,
        trusted_proxies: TrustedProxies | None = None,
    ) -> None:
        super().__init__(hub=outbox.hub, limits=limits, clock_ns=clock_ns, monotonic=monotonic,
                         trusted_proxies=trusted_proxies, sessions=sessions, counters=counters)
        self.sequencer = sequencer
        self.engine = sequencer.engine
        self.outbox = outbox
        self.logins = logins
        self.stats = stats
        self.trades = trades
        self.queries = queries
        self.max_uncommitted = max_uncommitted
        self._journal_seq = journal_seq
        self._after = outbox.after
        self._deliver_later = outbox.deliver_later
        self.handlers.update({
            OrderRequest: self._order,
            CancelRequest: self._cancel,
            ReplaceRequest: self._replace,
            CancelAllRequest: self._cancel_all,
            OrdersRequest: self._orders,
            BalanceRequest: self._balance,
            Login: self._login,
            HistoryRequest: History(store=trades, executor=queries, engine=self.engine, reply=self._reply),
            CandlesRequest: candles_handler(self),
            **Admin(self).handlers(),
        })

    async def query(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` (a read of :attr:`trades`) on the queries' thread."""
        return await asyncio.get_running_loop().run_in_executor(self.queries, fn, *args)

    # ------------------------------------------------------------ connections

    def grouping(self, on: bool) -> None:
        """A batch frame's orders share one release (see :class:`~exchange.gateway.release.Releaser`)."""
        self.outbox.releaser.grouping(on)

    def forget(self, session: ClientSession) -> None:
        """Drop a closed connection, including its pushes and ``stats`` subscription."""
        super().forget(session)
        self.outbox.forget(session)
        self.stats.unsubscribe(session)
        sent = session.conn.protocol.close_sent  # the server closed it: for what?
        if sent is not None and sent.code in _NOTED_CLOSES:
            who = f"{session.username} " if session.username else ""
            self.stats.note("security", f"session {session.id} ({who}{session.address}) closed {sent.code}: "
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

    # ---------------------------------------------------------------- submit

    def _later(self, action: Callable[..., None], *args: Any) -> None:
        """Run ``action`` once everything accepted so far is committed (keeps reply order)."""
        self._after(self.engine.seq, action, *args)

    def _sequence(
        self, session: ClientSession, rid: RequestId, command: Command, context: str = ""
    ) -> tuple[int, list[Event]] | None:
        """Apply and journal ``command``: ``(ts, events)``, or None after a ``server_busy`` reply.

        The one way into the sequencer: refused while the journal is more than
        ``max_uncommitted`` behind, and when the journal failed (never pretend).
        ``context`` starts the error messages (e.g. what was already done).
        """
        if self.engine.seq - self._journal_seq() >= self.max_uncommitted:
            self._reply(session, rid, error_frame(
                rid, "server_busy", f"{context}the journal is behind; try again in a moment"))
            return None
        ts = self.clock_ns()
        try:
            _, events = self.sequencer.submit(command, ts)
        except Exception as exc:  # the journal failed: refuse, never pretend
            log.exception("submit failed")
            self._reply(session, rid, error_frame(
                rid, "server_busy", f"{context}the exchange cannot accept this now: {exc}"))
            return None
        if _changed_state(events):
            self.outbox.accepted()
        return ts, events

    def _submit(
        self,
        session: ClientSession,
        rid: RequestId,
        command: Command,
        reply: Callable[[Applied], Message] | None = None,
    ) -> None:
        """Sequence ``command`` and hand its reply and events to the outbox."""
        got = self._sequence(session, rid, command)
        if got is None:
            return
        ts, events = got
        first = events[0]
        public = public_messages(self.engine, events, ts) if _changed_state(events) else {}
        if isinstance(first, Applied):
            assert reply is not None
            frame = encode_message(reply(first))
        else:
            frame = reply_frame(rid, first, ts)  # type: ignore[arg-type]
        self._deliver_later(self.engine.seq, session, frame, events, public, ts)

    def expire_due(self) -> None:
        """Journal an ``Expire`` when good-till-date orders are due (the periodic tick of a quiet market).

        Every command expires the due orders before it is applied; this tick
        makes them expire on time when no command comes. Nothing is journaled
        while none is due.
        """
        ts = self.clock_ns()
        if ts < self.engine.next_expiry or self.engine.seq - self._journal_seq() >= self.max_uncommitted:
            return
        try:
            _, events = self.sequencer.submit(Expire(), ts)
        except Exception:  # the journal failed: the next tick (or command) tries again
            log.exception("expiry tick failed")
            return
        if not _changed_state(events):
            return
        self.outbox.accepted()
        public = public_messages(self.engine, events, ts)
        self._after(self.engine.seq, self.outbox.push, events, public, ts)

    # ------------------------------------------------------------- trading

    def _order(self, s: ClientSession, r: OrderRequest) -> None:
        self.counters.orders += 1
        self._submit(s, r.id, NewOrder(
            s.user_id, r.symbol, r.side, r.type, r.price, r.qty, r.tif, r.post_only, r.client_order_id,
            r.stop_price, r.expire_ts, r.display_qty,
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
        if r.price is None and r.qty is None and r.stop_price is None:
            self._reply(s, r.id, error_frame(r.id, "bad_request", "give a new price, qty and/or stop_price",
                                             field="price"))
            return
        self._submit(s, r.id, Replace(s.user_id, r.order_id, r.price, r.qty, r.client_order_id, r.stop_price))

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
        if "stats" in channels:
            self.stats.subscribe(s)

    def unsubscribed(self, s: ClientSession, channels: list[str]) -> None:
        """Stop ``stats`` for this session."""
        if "stats" in channels:
            self.stats.unsubscribe(s)

    # ---------------------------------------------------------------- login

    async def _login(self, s: ClientSession, r: Login) -> None:
        """Log ``s`` in by password or token (:class:`~exchange.gateway.login.Logins` decides who).

        A login is either in the outbox's user index before a ``user_disable`` or
        ``user_passwd`` closes the user's sessions (and is closed with them) or is
        refused, never let in after the change was answered.
        """
        if s.state is not SessionState.CONNECTED:
            self._reply(s, r.id, error_frame(r.id, "bad_request", "this connection is already logged in"))
            return
        logins = self.logins
        if r.token is not None:
            user = await logins.by_token(r.token)
        elif r.username is not None and r.password is not None:
            name = r.username
            if not await logins.allowed(name, s.ip):
                self.counters.logins_failed += 1
                self.stats.note("security", f"login throttled: {name} from {s.address}")
                self._reply(s, r.id, error_frame(r.id, "auth_failed", AUTH_FAILED))
                return
            user = await logins.by_password(name, r.password, s.ip)
        else:
            self._reply(s, r.id, error_frame(r.id, "bad_request", "give username and password, or token",
                                             field="username"))
            return
        if user is None:
            self.counters.logins_failed += 1
            self.stats.note("security", f"login failed: {r.username or 'expired or revoked token'} from {s.address}")
            self._reply(s, r.id, error_frame(r.id, "auth_failed", AUTH_FAILED))
            return
        if s.state is not SessionState.CONNECTED:  # closed while we checked
            return
        s.login(user.name, user.id, user.role)
        self.outbox.logged_in(s)
        token, expires = logins.issue(user)
        self._reply(s, r.id, encode_message(LoginReply(
            id=r.id, user=user.name, role=user.role, token=token, token_expires_ts=expires
        )))
