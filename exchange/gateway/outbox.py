"""The outgoing stage: everything that leaves the exchange, released by the journal commit.

The gateway hands each accepted (or refused) command's reply frame and engine
events here; nothing goes out before the journal holds what it reflects
(:class:`~exchange.gateway.release.Releaser`). Then, in sequence order, the
requester gets its reply, every session of each owner its ``fill`` and ``done``
(the user→sessions index lives here), and each symbol's public messages go to
the market-data hub and, when one is configured, the bus to other processes.
The orders of one ``batch`` frame are released together (:meth:`Outbox.deliver_all`):
each one's reply and pushes in order, then the frame's public messages, one
publish per symbol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchange.engine.events import Done, Event, Match, Triggered
from exchange.gateway.private import PRIVATE_DONE_REASONS, done_frame, fill_frames, triggered_frame
from exchange.gateway.release import Releaser
from exchange.marketdata.feed import PublicMessages
from exchange.marketdata.hub import MarketDataHub
from exchange.serving.counters import Counters
from exchange.serving.session import ClientSession

__all__ = ["Outbox"]


class Outbox:
    """Replies, private pushes and public market data, each released after its commit.

    Args:
        committed: the sequence number already durable at start (the recovered engine's).
        engine_seq: the engine's current sequence number (what is accepted so far).
        hub: the in-process market-data hub.
        bus: publishes a symbol's public messages to other processes (None: in-process only).
        counters: the server's totals (``messages_out``, ``trades`` are counted here).
        monotonic: clock for the commit lag (s).
    """

    def __init__(
        self,
        *,
        committed: int,
        engine_seq: Callable[[], int],
        hub: MarketDataHub,
        bus: Callable[[str, list[Any]], None] | None,
        counters: Counters,
        monotonic: Callable[[], float],
    ) -> None:
        self.releaser = Releaser(committed)
        self.after = self.releaser.after
        """``after(seq, action, *args)``: run ``action`` once ``seq`` is committed, in queue order."""
        self._after_item = self.releaser.after_item
        self._deliver_all = self.deliver_all  # bound once (cheaper to compare)
        self.engine_seq = engine_seq
        self.hub = hub
        self.bus = bus
        self.counters = counters
        self.monotonic = monotonic
        self.by_user: dict[int, list[ClientSession]] = {}
        """Per user id: its logged-in sessions, which get its ``fill`` and ``done``."""
        self.commit_lag_ms = 0.0
        """How long the last commit took from the first command it covered (for ``stats``)."""
        self._uncommitted_since: float | None = None

    # ------------------------------------------------------------ sessions

    def logged_in(self, session: ClientSession) -> None:
        """``session`` now receives its user's private pushes."""
        self.by_user.setdefault(session.user_id, []).append(session)

    def forget(self, session: ClientSession) -> None:
        """``session`` closed: no more pushes to it."""
        peers = self.by_user.get(session.user_id)
        if peers is not None and session in peers:
            peers.remove(session)
            if not peers:
                del self.by_user[session.user_id]

    def sessions_of(self, user_id: int) -> list[ClientSession]:
        """The logged-in sessions of ``user_id`` (a copy)."""
        return list(self.by_user.get(user_id, ()))

    # ------------------------------------------------------------ commits

    def accepted(self) -> None:
        """The engine accepted a command: the journal is behind until the next commit covers it."""
        if self._uncommitted_since is None:
            self._uncommitted_since = self.monotonic()

    def committed(self, seq: int) -> None:
        """The journal committed everything up to ``seq`` (called on the loop): release what waited."""
        waiting = self._uncommitted_since
        if waiting is not None:
            now = self.monotonic()
            self.commit_lag_ms = (now - waiting) * 1000
            # What is still uncommitted was submitted after this commit's batch was cut.
            self._uncommitted_since = now if seq < self.engine_seq() else None
        self.releaser.commit(seq)

    # ------------------------------------------------------------ delivery

    def send(self, session: ClientSession, frame: bytes) -> None:
        """Queue ``frame`` on ``session`` now (counted when the session took it)."""
        if session.send(frame):
            self.counters.messages_out += 1

    def to_user(self, user_id: int, frame: bytes) -> None:
        """Send ``frame`` to every logged-in session of ``user_id``."""
        for session in self.by_user.get(user_id, ()):
            self.send(session, frame)

    def deliver_later(
        self, seq: int, session: ClientSession, frame: bytes, events: list[Event], public: PublicMessages, ts: int
    ) -> None:
        """:meth:`deliver` once ``seq`` is committed; inside a batch, one release for the frame's orders."""
        self._after_item(seq, self._deliver_all, (session, frame, events, public, ts))

    def deliver_all(self, items: list[tuple[ClientSession, bytes, list[Event], PublicMessages, int]]) -> None:
        """Several commands' output, once committed: each one's private output in order, then the public
        messages of all of them, one publish per symbol (the ``ack`` still precedes its order's pushes)."""
        if len(items) == 1:
            self.deliver(*items[0])
            return
        merged: PublicMessages = {}
        for session, frame, events, public, ts in items:
            self._private(session, frame, events, ts)
            for symbol, messages in public.items():
                have = merged.get(symbol)
                if have is None:
                    merged[symbol] = messages
                else:
                    have.extend(messages)
        self._public(merged)

    def deliver(
        self, session: ClientSession, frame: bytes, events: list[Event], public: PublicMessages, ts: int
    ) -> None:
        """One command's output, once committed: the reply, the owners' fills and dones, the public messages."""
        self._private(session, frame, events, ts)
        self._public(public)

    def _private(self, session: ClientSession, frame: bytes, events: list[Event], ts: int) -> None:
        self.send(session, frame)
        self._owners(events, ts)

    def push(self, events: list[Event], public: PublicMessages, ts: int) -> None:
        """What a committed command with no reply caused (a due expiry): the owners' pushes, the public messages."""
        self._owners(events, ts)
        self._public(public)

    def _owners(self, events: list[Event], ts: int) -> None:
        """The owners' fills, dones and stop triggers."""
        for ev in events:
            if isinstance(ev, Match):
                maker, taker = fill_frames(ev, ts)
                self.to_user(ev.maker_user, maker)
                self.to_user(ev.taker_user, taker)
                self.counters.trades += 1
            elif isinstance(ev, Done):
                if ev.reason in PRIVATE_DONE_REASONS:
                    self.to_user(ev.user, done_frame(ev, ts))
            elif isinstance(ev, Triggered):
                self.to_user(ev.user, triggered_frame(ev, ts))

    def _public(self, public: PublicMessages) -> None:
        if public:
            bus = self.bus
            for symbol, messages in public.items():
                self.hub.publish(symbol, messages)
                if bus is not None:
                    bus(symbol, messages)
