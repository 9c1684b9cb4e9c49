"""The operators' ``stats`` channel and its event log.

:class:`Stats` builds the ``stats`` message, keeps the operator
events (:meth:`Stats.note`) and sends both to the admins subscribed, after the
commit like every other frame.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Set
from typing import TYPE_CHECKING

import msgspec

from exchange.protocol.messages import OperatorEvent, StatsMessage, SymbolStats, encode_message
from exchange.serving.counters import Counters, Rates, rss_bytes

if TYPE_CHECKING:
    from exchange.engine.core import Engine
    from exchange.gateway.outbox import Outbox
    from exchange.serving.session import ClientSession

__all__ = ["EVENTS_KEPT", "Stats"]

log = logging.getLogger("exch.gateway")

EVENTS_KEPT = 100
"""Operator events kept for consoles that subscribe to ``stats`` later."""

class Stats:
    """The ``stats`` channel: the server's state twice a second, with the operator events.

    Args:
        engine: the books (read only).
        sessions: the open connections (read only).
        counters: the server's totals.
        outbox: releases each ``stats`` frame after the commit, and knows the commit lag.
        journal_seq: the durable sequence number.
        clock_ns: wall clock for timestamps (ns).
        monotonic: clock for rates and uptime (s).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        sessions: Set[ClientSession],
        counters: Counters,
        outbox: Outbox,
        journal_seq: Callable[[], int],
        clock_ns: Callable[[], int],
        monotonic: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.counters = counters
        self.outbox = outbox
        self.journal_seq = journal_seq
        self.clock_ns = clock_ns
        self.monotonic = monotonic
        self.started = monotonic()
        self.loop_lag_ms = 0.0
        """The event loop's lateness, as last measured by the server."""
        self.events: deque[OperatorEvent] = deque(maxlen=EVENTS_KEPT)  # for operators, newest last
        self.subscribers: set[ClientSession] = set()
        self._rates = {name: Rates() for name in ("orders", "trades", "out")}
        self._event_seq = 0
        self._events_published = 0  # events up to this seq went out in a ``stats`` broadcast
        self._new: set[ClientSession] = set()  # subscribed since the last broadcast: owed the history

    def note(self, kind: str, text: str) -> None:
        """Log an operator event and keep it for the next ``stats`` messages."""
        log.info(text)
        self._event_seq += 1
        self.events.append(OperatorEvent(seq=self._event_seq, ts=self.clock_ns(), kind=kind, text=text))

    def subscribe(self, session: ClientSession) -> None:
        """``session`` (an admin's) gets ``stats`` from the next broadcast, with the kept events."""
        if session not in self.subscribers:
            self.subscribers.add(session)
            self._new.add(session)

    def unsubscribe(self, session: ClientSession) -> None:
        """No more ``stats`` for ``session`` (also when it closed)."""
        self.subscribers.discard(session)
        self._new.discard(session)

    def message(self, events: list[OperatorEvent] | None = None) -> StatsMessage:
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
            journal_seq=self.journal_seq(), journal_lag_ms=round(self.outbox.commit_lag_ms, 3),
            loop_lag_ms=round(self.loop_lag_ms, 3), logins_failed=self.counters.logins_failed, symbols=symbols_,
            events=events or [],
        )

    def publish(self) -> None:
        """Send ``stats`` to its subscribers (the server calls this twice a second).

        Everyone gets the events noted since the last broadcast; a session that
        subscribed since then gets the kept history instead.
        """
        new = [e for e in self.events if e.seq > self._events_published]
        self._events_published = self._event_seq
        if not self.subscribers:
            self._new.clear()
            return
        message = self.message(new)
        frame = encode_message(message)
        history = frame
        if self._new:
            history = encode_message(msgspec.structs.replace(message, events=list(self.events)))
        outbox = self.outbox
        for session in list(self.subscribers):
            outbox.after(self.engine.seq, outbox.send, session, history if session in self._new else frame)
        self._new.clear()
