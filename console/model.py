"""The console's live model: plain Python state updated from the feed, read by the view.

Every pushed message goes to :meth:`ConsoleModel.apply` (on the event loop,
as it arrives, cheap: no rendering); the app repaints from the model at a
steady rate, and only what changed (see the ``version`` counters). Events the
operator should notice (halts, users added or disabled, failed logins, the
server's shutdown) are derived here from the feed and the polls, and put on
the tape with the trades.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.format import price
from exchange.protocol import (
    SessionInfo,
    ShutdownMessage,
    SnapshotMessage,
    StatsMessage,
    StatusMessage,
    TradeMessage,
    UserInfo,
)

__all__ = ["HISTORY", "ConsoleModel", "SymbolRow", "TapeEvent"]

HISTORY = 120
"""Stats samples kept for the charts (two a second: one minute)."""
TAPE_SIZE = 1000
TRADE_KINDS = frozenset({"buy", "sell"})
"""Tape kinds that are trades (the rest are events)."""
EVENTS_REMEMBERED = 1000
"""Operator events remembered so a repeated history is not put on the tape twice."""


@dataclass(slots=True)
class TapeEvent:
    """One line of the tape.

    Attributes:
        ts: when (ns since the epoch; the server's time for what the server sent).
        kind: ``buy`` or ``sell`` (a trade, by the taker's side), ``halt``, ``resume``,
            ``user``, ``login``, ``security``, ``admin``, ``error``, ``link`` or ``shutdown`` (it picks the colour).
        text: what happened, in words.
    """

    ts: int
    kind: str
    text: str


@dataclass(slots=True)
class SymbolRow:
    """What the console knows about one symbol."""

    symbol: str
    bid: int | None = None
    ask: int | None = None
    last: int | None = None
    volume: int = 0
    open_interest: int = 0
    orders_resting: int = 0
    status: str = "trading"
    trades: int = 0
    last_trade_id: int = 0
    prices: deque[float | None] = field(default_factory=lambda: deque(maxlen=HISTORY))
    volumes: deque[float | None] = field(default_factory=lambda: deque(maxlen=HISTORY))


class ConsoleModel:
    """The state behind the console's screen.

    Args:
        clock: wall time in seconds (for events the console itself notes); fixed in tests.
        tz: the time zone times are shown in (default: local).
        tape_size: tape lines kept.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        tz: dt.tzinfo | None = None,
        tape_size: int = TAPE_SIZE,
    ) -> None:
        self.clock = clock
        self.tz = tz
        self.stats: StatsMessage | None = None
        self.symbols: dict[str, SymbolRow] = {}
        self.rss: deque[float | None] = deque(maxlen=HISTORY)
        self.orders_rate: deque[float | None] = deque(maxlen=HISTORY)
        self.trades_rate: deque[float | None] = deque(maxlen=HISTORY)
        self.out_rate: deque[float | None] = deque(maxlen=HISTORY)
        self.sessions: list[SessionInfo] = []
        self.users: dict[str, UserInfo] | None = None
        self.failed_logins: int | None = None
        self.shutdown: ShutdownMessage | None = None
        self.tape: deque[TapeEvent] = deque(maxlen=tape_size)
        self.version = 0
        """Bumped on every change (the app skips repainting when it did not move)."""
        self.sessions_version = 0
        self.tape_version = 0
        self._tape_added = 0
        self.events: deque[TapeEvent] = deque(maxlen=tape_size)
        """The tape without the trades (operator events, halts, logins, links): newest first."""
        self.events_version = 0
        self._events_added = 0
        self._by_user: dict[str, int] | None = None
        self._events_seen: dict[tuple[int, int], None] = {}  # operator events on the tape, oldest first

    # ------------------------------------------------------------------ input

    def apply(self, msg: Any) -> None:
        """Take one pushed message from the server (others are ignored)."""
        if isinstance(msg, StatsMessage):
            self.on_stats(msg)
        elif isinstance(msg, TradeMessage):
            self.on_trade(msg.symbol, msg.trade_id, msg.price, msg.qty, msg.taker_side, msg.ts)
        elif isinstance(msg, SnapshotMessage):
            for t in msg.trades or ():
                self.on_trade(t["symbol"], t["trade_id"], t["price"], t["qty"], t["taker_side"], t["ts"])
        elif isinstance(msg, StatusMessage):
            self.on_status(msg.symbol, msg.status, self.now_ns())
        elif isinstance(msg, ShutdownMessage):
            self.shutdown = msg
            self.note("shutdown", f"shutdown: {msg.reason}", msg.ts)

    def on_stats(self, m: StatsMessage) -> None:
        """A ``stats`` message: the numbers, the charts and what changed since the last one."""
        first = self.stats is None
        self.stats = m
        self.failed_logins = m.logins_failed
        self.rss.append(float(m.memory_rss_bytes))
        self.orders_rate.append(m.orders_per_s)
        self.trades_rate.append(m.trades_per_s)
        self.out_rate.append(m.messages_out_per_s)
        for name, s in m.symbols.items():
            row = self.symbols.get(name)
            created = row is None or not row.prices
            if row is None:
                row = self.symbols[name] = SymbolRow(name, status=s.status)
                if not first:
                    self.note("admin", f"{name} listed", m.ts)
            elif row.status != s.status:
                self.on_status(name, s.status, m.ts)
            before = row.volume
            row.bid, row.ask, row.last = s.bid, s.ask, s.last
            row.volume, row.open_interest, row.orders_resting = s.volume, s.open_interest, s.orders_resting
            row.prices.append(None if s.last is None else float(s.last))
            row.volumes.append(0.0 if created else float(max(0, s.volume - before)))
        self._sessions_changed(m.sessions_by_user, m.ts)
        for event in m.events:
            key = (event.ts, event.seq)
            if key not in self._events_seen:  # the history after a resubscribe repeats what was seen
                self._events_seen[key] = None
                self.note(event.kind, event.text, event.ts)
        while len(self._events_seen) > EVENTS_REMEMBERED:
            del self._events_seen[next(iter(self._events_seen))]
        self.version += 1

    def on_trade(self, symbol: str, trade_id: int, px: int, qty: int, side: str, ts: int) -> None:
        """A trade (from the ``trades`` channel or its snapshot); repeats are skipped."""
        row = self.symbols.get(symbol)
        if row is None:
            row = self.symbols[symbol] = SymbolRow(symbol)
        if trade_id <= row.last_trade_id:
            return
        row.last_trade_id = trade_id
        row.trades += 1
        self._push(TapeEvent(ts, side, f"{symbol:<5} {side:<4} {qty:>6,} @ {price(px):>8}"))

    def on_status(self, symbol: str, status: str, ts: int) -> None:
        """A symbol was halted, resumed or listed."""
        row = self.symbols.get(symbol)
        if row is None:
            self.symbols[symbol] = SymbolRow(symbol, status=status)
            self.note("admin", f"{symbol} listed ({status})", ts)
            return
        if row.status == status:
            return
        row.status = status
        if status == "halted":
            self.note("halt", f"{symbol} HALTED", ts)
        else:
            self.note("resume", f"{symbol} {status} again", ts)

    def listed(self, symbol: str, status: str) -> None:
        """A symbol from the ``symbols`` reply: new ones quietly, a changed status as an event."""
        if symbol in self.symbols:
            self.on_status(symbol, status, self.now_ns())
        else:
            self.symbols[symbol] = SymbolRow(symbol, status=status)
            self.version += 1

    def _sessions_changed(self, by_user: Mapping[str, int], ts: int) -> None:
        previous, self._by_user = self._by_user, dict(by_user)
        if previous is None:
            return
        for user in sorted(set(previous) | set(by_user)):
            was, now = previous.get(user, 0), by_user.get(user, 0)
            if now > was:
                self.note("login", f"{user} connected ({now} session{'s' if now > 1 else ''})", ts)
            elif now < was:
                left = f"{now} left" if now else "gone"
                self.note("login", f"{user} disconnected ({left})", ts)

    # ------------------------------------------------------------------ polls

    def set_sessions(self, sessions: Iterable[SessionInfo]) -> None:
        """The answer of a ``sessions`` poll."""
        new = sorted(sessions, key=lambda s: s.session_id)
        if new != self.sessions:
            self.sessions = new
            self.sessions_version += 1
            self.version += 1

    def set_users(self, users: Iterable[UserInfo]) -> None:
        """The answer of a ``user_list`` poll (the admin forms suggest these names).

        Who added, disabled or funded whom reaches the tape as the server's
        operator events, in ``stats``.
        """
        self.users = {u.username: u for u in users}

    # ------------------------------------------------------------------ tape

    def note(self, kind: str, text: str, ts: int | None = None) -> None:
        """Put an event on the tape (``ts`` default: now)."""
        self._push(TapeEvent(self.now_ns() if ts is None else ts, kind, text))

    def _push(self, event: TapeEvent) -> None:
        self.tape.appendleft(event)
        self.tape_version += 1
        self._tape_added += 1
        if event.kind not in TRADE_KINDS:
            self.events.appendleft(event)
            self.events_version += 1
            self._events_added += 1
        self.version += 1

    def take_tape_added(self) -> tuple[int, int]:
        """Lines added since the last call to the tape and to :attr:`events` (a scrolled view keeps still)."""
        added = (self._tape_added, self._events_added)
        self._tape_added = self._events_added = 0
        return added

    def now_ns(self) -> int:
        """Now, in ns since the epoch (the model's clock)."""
        return int(self.clock() * 1e9)
