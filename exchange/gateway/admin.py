"""The administrators' requests: users, gifts, listings, halts and the sessions list.

Every command an admin sends goes through the gateway's one submit path
(backpressure, journal failure, release after the commit); the store's user
table is changed on the store's thread. Each accepted request is noted as an
operator event for the ``stats`` channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.engine.commands import AddSymbol, Command, Deposit, Halt, Resume
from exchange.engine.events import Reject
from exchange.money import dollars
from exchange.protocol.messages import (
    DepositReply,
    HaltReply,
    ResumeReply,
    SessionInfo,
    SessionsReply,
    SymbolAddReply,
    UserAddReply,
    UserDisableReply,
    UserEnableReply,
    UserInfo,
    UserListReply,
    UserPasswdReply,
    encode_message,
)
from exchange.protocol.requests import (
    DepositRequest,
    HaltRequest,
    RequestId,
    ResumeRequest,
    SessionsRequest,
    SymbolAddRequest,
    UserAddRequest,
    UserDisableRequest,
    UserEnableRequest,
    UserListRequest,
    UserPasswdRequest,
)
from exchange.serving.frames import error_frame
from exchange.serving.session import ClientSession, SessionState
from exchange.store.base import NotFound, StoreError, User, UserExists

if TYPE_CHECKING:
    from exchange.gateway.core import Gateway
    from exchange.serving.endpoint import Handler

__all__ = ["Admin"]


class Admin:
    """The admin handlers of ``gateway`` (its role check ran before any of them)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.logins = gateway.logins
        self.store = gateway.logins.store
        self.note = gateway.stats.note

    def handlers(self) -> dict[type, Handler]:
        """The request types this answers, for the gateway's dispatch table."""
        return {
            HaltRequest: self._halt,
            ResumeRequest: self._resume,
            SymbolAddRequest: self._symbol_add,
            SessionsRequest: self._sessions,
            UserAddRequest: self._user_add,
            UserListRequest: self._user_list,
            UserDisableRequest: self._user_disable,
            UserEnableRequest: self._user_enable,
            UserPasswdRequest: self._user_passwd,
            DepositRequest: self._deposit,
        }

    def _noted(self, kind: str, text: str, reply: Any) -> Any:
        """:meth:`note`, then ``reply`` (for the replies of accepted admin commands)."""
        self.note(kind, text)
        return reply

    async def _user_add(self, s: ClientSession, r: UserAddRequest) -> None:
        g = self.gateway
        for symbol in r.positions:
            if symbol not in g.engine.books:
                g._reply(s, r.id, error_frame(r.id, "unknown_symbol", f"no symbol {symbol!r}", field="positions"))
                return
        try:
            user = await self.logins.in_store(lambda: self.store.add_user(r.username, r.password, role=r.role))
        except ValueError as exc:  # more than bcrypt takes (72 bytes of UTF-8)
            g._reply(s, r.id, error_frame(r.id, "bad_request", str(exc), field="password"))
            return
        except UserExists:
            g._reply(s, r.id, error_frame(r.id, "bad_request", f"user {r.username!r} already exists",
                                          field="username"))
            return
        except StoreError as exc:
            g._reply(s, r.id, error_frame(r.id, "bad_request", str(exc)))
            return
        gifts: list[Command] = []
        if r.cash:
            gifts.append(Deposit(user.id, cash=r.cash))
        gifts.extend(Deposit(user.id, symbol=sym, qty=qty) for sym, qty in r.positions.items() if qty)
        for gift in gifts:
            got = g._sequence(s, r.id, gift, "user added, but ")
            if got is None:
                return
            first = got[1][0]
            if isinstance(first, Reject):
                g._reply(s, r.id, error_frame(r.id, first.code, f"user added, but: {first.message}"))
                return
        self.note("user", f"{s.username} added user {user.name} ({user.role}){_gifts_text(r.cash, r.positions)}")
        g._reply(s, r.id, encode_message(UserAddReply(id=r.id, username=user.name, role=user.role)))

    async def _user_list(self, s: ClientSession, r: UserListRequest) -> None:
        users = await self.logins.in_store(self.store.users)
        infos = [UserInfo(username=u.name, role=u.role, disabled=u.disabled, created_ts=u.created) for u in users]
        self.gateway._reply(s, r.id, encode_message(UserListReply(id=r.id, users=infos)))

    async def _user_disable(self, s: ClientSession, r: UserDisableRequest) -> None:
        user = await self._set_disabled(s, r.id, r.username, True)
        if user is None:
            return
        closed = self._log_out(user, "this user has been disabled", "user disabled")
        self.note("security", f"{s.username} disabled user {r.username} ({closed} sessions closed)")
        self.gateway._reply(s, r.id, encode_message(UserDisableReply(id=r.id, username=r.username,
                                                                     sessions_closed=closed)))

    async def _user_passwd(self, s: ClientSession, r: UserPasswdRequest) -> None:
        def change() -> User | None:
            self.store.set_password(r.username, r.password)
            return self.store.get_user(r.username)

        g = self.gateway
        try:
            user = await self.logins.in_store(change)
        except ValueError as exc:  # more than bcrypt takes (72 bytes of UTF-8)
            g._reply(s, r.id, error_frame(r.id, "bad_request", str(exc), field="password"))
            return
        except NotFound:
            user = None
        except StoreError as exc:
            g._reply(s, r.id, error_frame(r.id, "bad_request", str(exc)))
            return
        if user is None:
            g._reply(s, r.id, error_frame(r.id, "bad_request", f"no user {r.username!r}", field="username"))
            return
        # The asking session stays: an admin who changes their own password is not logged
        # out by it (their other sessions are, and every token issued before the change).
        closed = self._log_out(user, "the password of this user was changed; log in again", "password changed",
                               keep=s)
        self.note("security", f"{s.username} changed the password of {r.username} ({closed} sessions closed)")
        g._reply(s, r.id, encode_message(UserPasswdReply(id=r.id, username=r.username, sessions_closed=closed)))

    def _log_out(self, user: User, message: str, reason: str, *, keep: ClientSession | None = None) -> int:
        """Close every live session of ``user`` but ``keep`` (an ``error`` ``forbidden`` ``message``,
        then close 1008 ``reason``) and refuse its logins in flight; how many were closed.

        Call it right after the store change, before the reply: nothing here awaits, so
        every login of this user in flight now is refused when it completes (see
        Logins._current), every one that completed is closed here, and every later one
        reads the changed user.
        """
        g = self.gateway
        self.logins.revoke(user.name)
        closed = 0
        for peer in g.outbox.sessions_of(user.id):
            if peer is keep:
                continue
            g._send(peer, error_frame(None, "forbidden", message))
            peer.close(1008, reason)
            closed += 1
        return closed

    async def _user_enable(self, s: ClientSession, r: UserEnableRequest) -> None:
        if await self._set_disabled(s, r.id, r.username, False) is not None:
            self.note("user", f"{s.username} enabled user {r.username}")
            self.gateway._reply(s, r.id, encode_message(UserEnableReply(id=r.id, username=r.username)))

    async def _set_disabled(self, s: ClientSession, rid: RequestId, name: str, disabled: bool) -> User | None:
        """Disable or enable ``name`` in the store (revoking its tokens); the user, or None after an error reply."""
        try:
            return await self.logins.in_store(self.store.set_disabled, name, disabled)
        except StoreError:
            self.gateway._reply(s, rid, error_frame(rid, "bad_request", f"no user {name!r}", field="username"))
            return None

    async def _deposit(self, s: ClientSession, r: DepositRequest) -> None:
        user = await self.logins.in_store(self.store.get_user, r.username)
        if user is None:
            self.gateway._reply(s, r.id, error_frame(r.id, "bad_request", f"no user {r.username!r}",
                                                     field="username"))
            return
        gift = _gifts_text(r.cash, {r.symbol: r.qty} if r.symbol is not None else {}).removeprefix(" with ")
        self.gateway._submit(s, r.id, Deposit(user.id, r.cash, r.symbol, r.qty), lambda _: self._noted(
            "user", f"{s.username} gave {r.username} {gift}",
            DepositReply(id=r.id, username=r.username, cash=r.cash, symbol=r.symbol, qty=r.qty)))

    def _halt(self, s: ClientSession, r: HaltRequest) -> None:
        self.gateway._submit(s, r.id, Halt(r.symbol), lambda a: self._noted(
            "admin", f"{s.username} halted {r.symbol}", HaltReply(id=r.id, symbol=r.symbol, status="halted")))

    def _resume(self, s: ClientSession, r: ResumeRequest) -> None:
        self.gateway._submit(s, r.id, Resume(r.symbol), lambda a: self._noted(
            "admin", f"{s.username} resumed {r.symbol}", ResumeReply(id=r.id, symbol=r.symbol, status="trading")))

    def _symbol_add(self, s: ClientSession, r: SymbolAddRequest) -> None:
        self.gateway._submit(s, r.id, AddSymbol(r.symbol, r.tick, r.lot), lambda a: self._noted(
            "admin", f"{s.username} listed {r.symbol} (tick {r.tick}, lot {r.lot})",
            SymbolAddReply(id=r.id, symbol=r.symbol, tick=r.tick, lot=r.lot)))

    def _sessions(self, s: ClientSession, r: SessionsRequest) -> None:
        g = self.gateway
        now = g.monotonic()
        infos = []
        for p in sorted(g.sessions, key=lambda p: p.id):
            if p.state is SessionState.CLOSING:  # e.g. closed by user_disable, handshake not done yet
                continue
            orders_per_s, messages_per_s = p.rates(now)
            infos.append(SessionInfo(
                session_id=p.id, user=p.username, role=p.role, address=p.address, connected_ts=p.connected_ts,
                orders_per_s=round(orders_per_s, 2), messages_per_s=round(messages_per_s, 2),
            ))
        g._reply(s, r.id, encode_message(SessionsReply(id=r.id, sessions=infos)))


def _gifts_text(cash: int, positions: dict[str, int]) -> str:
    """`` with cash $1,000.00 and 50 ACME`` (or nothing), for operator events."""
    parts = [f"cash {dollars(cash)}"] if cash else []
    parts += [f"{qty} {symbol}" for symbol, qty in positions.items() if qty]
    return f" with {' and '.join(parts)}" if parts else ""
