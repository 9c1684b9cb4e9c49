"""The market-data hub: public books from released messages, fanned out to subscribers.

One hub serves the public channels (``ticker``, ``level2``, ``level3``,
``trades``) wherever they are served: inside ``exch serve`` (fed in-process
after each journal commit) and inside every ``exch marketdata`` process (fed
from the bus). It keeps each symbol's public :class:`L3Book` (so it can answer
late joiners with snapshots and derive L2 and tickers without the engine) and
the last trades.

Delivery: ``level3`` and ``trades`` go to every subscriber as they happen.
``ticker`` and ``level2`` go out per published batch, or — for subscribers that
asked for ``interval_ms`` — at most once per interval with the net level
changes since the previous one (``first_seq``..``seq``). A subscriber whose
outbound buffer is congested is skipped on a conflated tick and gets a fresh
``level2`` snapshot instead once it drains, so it never holds the engine back
and its memory stays bounded; on real-time channels the session's own buffer
limit disconnects it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, Final, Protocol

import msgspec

from exchange.protocol.book import L3Book
from exchange.protocol.messages import (
    L2Message,
    L3Message,
    SnapshotMessage,
    StatusMessage,
    TickerMessage,
    TradeMessage,
    encode_message,
)

__all__ = ["CHANNELS", "CONFLATED", "MarketDataHub", "Subscriber", "SymbolState", "quantize_interval"]

CHANNELS: Final = ("ticker", "level2", "level3", "trades")
CONFLATED: Final = frozenset({"ticker", "level2"})
_TICK_MS: Final = 50
_decode_public: Final = msgspec.json.Decoder(L3Message | TradeMessage | StatusMessage)


def quantize_interval(interval_ms: int) -> int:
    """Intervals are served in steps of 50 ms (so timers stay few)."""
    return max(_TICK_MS, (interval_ms + _TICK_MS // 2) // _TICK_MS * _TICK_MS)


class Subscriber(Protocol):
    """What the hub needs of a connection."""

    def send(self, frame: bytes) -> bool:
        """Queue a frame; False if the connection is gone."""

    def congested(self) -> bool:
        """Whether its outbound buffer is backed up."""


class SymbolState:
    """A symbol's public state: its L3 book, listing, recent trades."""

    def __init__(self, symbol: str, *, tick: int = 1, lot: int = 1, status: str = "trading",
                 recent: int = 50) -> None:
        self.book = L3Book(symbol)
        self.book.load(0, (), ())
        self.tick = tick
        self.lot = lot
        self.status = status
        self.trades: deque[TradeMessage] = deque(maxlen=recent)


class _Group:
    """Subscribers of one conflated (symbol, interval): net changes since the last tick."""

    __slots__ = ("interval", "members", "changes", "first_seq", "dirty", "stale")

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.members: dict[Subscriber, set[str]] = {}  # subscriber -> conflated channels
        self.changes: dict[tuple[str, int], int] = {}
        self.first_seq = 0
        self.dirty = False
        self.stale: set[Subscriber] = set()  # skipped while congested: owe a snapshot


class MarketDataHub:
    """Public books and subscriptions for every symbol.

    Args:
        recent_trades: trades kept for a ``trades`` snapshot.
    """

    def __init__(self, *, recent_trades: int = 50) -> None:
        self.recent_trades = recent_trades
        self.symbols: dict[str, SymbolState] = {}
        self.live: dict[tuple[str, str], set[Subscriber]] = {}  # (channel, symbol) -> real-time subscribers
        self.groups: dict[tuple[str, int], _Group] = {}  # (symbol, interval) -> conflated group
        self._groups_of: dict[str, list[_Group]] = {}  # symbol -> its conflated groups (the same objects)
        self.of: dict[Subscriber, set[tuple[str, str, int]]] = {}  # subscriber -> (channel, symbol, interval)
        self.published = 0
        self._due: dict[int, float] = {}

    # ---------------------------------------------------------------- symbols

    def add_symbol(self, symbol: str, *, tick: int = 1, lot: int = 1, status: str = "trading") -> None:
        """Know a symbol (an empty book at seq 0) if it is new."""
        if symbol not in self.symbols:
            self.symbols[symbol] = SymbolState(symbol, tick=tick, lot=lot, status=status,
                                               recent=self.recent_trades)

    def load(self, symbol: str, snapshot: dict[str, Any]) -> None:
        """Replace a symbol's state with a bus snapshot (see :meth:`snapshot_of`)."""
        state = SymbolState(symbol, tick=snapshot.get("tick", 1), lot=snapshot.get("lot", 1),
                            status=snapshot.get("status", "trading"), recent=self.recent_trades)
        state.book.load(snapshot["seq"], snapshot["bids"], snapshot["asks"], last=snapshot.get("last"),
                        last_qty=snapshot.get("last_qty"), volume=snapshot.get("volume", 0))
        state.trades.extend(msgspec.convert(t, TradeMessage) for t in snapshot.get("trades", ()))
        self.symbols[symbol] = state

    def snapshot_of(self, symbol: str) -> dict[str, Any]:
        """A symbol's whole public state as plain data (what the bus stores for late joiners)."""
        state = self.symbols[symbol]
        book = state.book
        return {
            "symbol": symbol, "seq": book.seq, "tick": state.tick, "lot": state.lot, "status": state.status,
            "bids": book.rows("buy"), "asks": book.rows("sell"), "last": book.last, "last_qty": book.last_qty,
            "volume": book.volume, "trades": [msgspec.to_builtins(t) for t in state.trades],
        }

    # ---------------------------------------------------------------- publish

    def publish(self, symbol: str, messages: Iterable[L3Message | TradeMessage | StatusMessage],
                frames: Iterable[bytes] | None = None) -> None:
        """Apply one released batch of a symbol's public messages and fan it out.

        ``frames`` may carry the messages already encoded (same order), to save
        re-encoding what came encoded from the bus.
        """
        state = self.symbols.get(symbol)
        if state is None:
            self.add_symbol(symbol)
            state = self.symbols[symbol]
        book = state.book
        l3_subs = self.live.get(("level3", symbol))
        trade_subs = self.live.get(("trades", symbol))
        encoded = iter(frames) if frames is not None else None
        changes: dict[tuple[str, int], int] = {}
        first_seq = 0
        known = book.seq  # messages at or below it are already reflected (replayed from the bus)
        for msg in messages:
            frame = next(encoded) if encoded is not None else None
            if isinstance(msg, L3Message):
                if msg.seq <= known:
                    continue
                for side, price, qty in book.apply(msg):
                    changes[(side, price)] = qty
                if not first_seq:
                    first_seq = msg.seq
                if l3_subs:
                    frame = frame or encode_message(msg)
                    for sub in l3_subs:
                        sub.send(frame)
            elif isinstance(msg, TradeMessage):
                if msg.seq <= known:
                    continue
                state.trades.append(msg)
                if trade_subs:
                    frame = frame or encode_message(msg)
                    for sub in trade_subs:
                        sub.send(frame)
            else:
                state.status, state.tick, state.lot = msg.status, msg.tick, msg.lot
                frame = frame or encode_message(msg)
                for sub in self._everyone(symbol):
                    sub.send(frame)
        self.published += 1
        if not first_seq:
            return
        seq = book.seq
        l2_subs = self.live.get(("level2", symbol))
        if l2_subs:
            frame = encode_message(L2Message(symbol=symbol, seq=seq, first_seq=first_seq,
                                             changes=[(s, p, q) for (s, p), q in changes.items()]))
            for sub in l2_subs:
                sub.send(frame)
        ticker_subs = self.live.get(("ticker", symbol))
        if ticker_subs:
            frame = self._ticker_frame(state)
            for sub in ticker_subs:
                sub.send(frame)
        for group in self._groups_of.get(symbol, ()):
            if group.members:
                if not group.dirty:
                    group.first_seq = first_seq
                    group.dirty = True
                group.changes.update(changes)

    def publish_frames(self, symbol: str, frames: list[bytes]) -> None:
        """:meth:`publish` for encoded frames (as they come from the bus)."""
        self.publish(symbol, [_decode_public.decode(f) for f in frames], frames)

    def _everyone(self, symbol: str) -> set[Subscriber]:
        subs: set[Subscriber] = set()
        for channel in CHANNELS:
            subs |= self.live.get((channel, symbol), set())
        for (group_symbol, _), group in self.groups.items():
            if group_symbol == symbol:
                subs |= set(group.members)
        return subs

    def _ticker_frame(self, state: SymbolState) -> bytes:
        return encode_message(TickerMessage(symbol=state.book.symbol, **state.book.ticker()))  # type: ignore[arg-type]

    # ------------------------------------------------------------ conflation

    def intervals(self) -> set[int]:
        """The conflation intervals in use (ms)."""
        return {interval for (_, interval), group in self.groups.items() if group.members}

    def pump(self, now: float) -> None:
        """Run the ticks that are due at ``now`` (seconds, monotonic); call it every 25 ms or so."""
        for interval in self.intervals():
            step = interval / 1000
            due = self._due.get(interval)
            if due is None:
                self._due[interval] = now + step
            elif now >= due:
                self.tick(interval)
                # Keep the cadence: the next tick is one interval after this one was due.
                self._due[interval] = due + step if due + step > now else now + step

    def tick(self, interval: int) -> None:
        """Send every ``interval`` group its net changes since the last tick."""
        for (symbol, group_interval), group in self.groups.items():
            if group_interval != interval or not group.members:
                continue
            state = self.symbols[symbol]
            book = state.book
            l2_frame = ticker_frame = None
            if group.dirty:
                l2_frame = encode_message(L2Message(
                    symbol=symbol, seq=book.seq, first_seq=group.first_seq,
                    changes=[(s, p, q) for (s, p), q in group.changes.items()],
                ))
                ticker_frame = self._ticker_frame(state)
            for sub, channels in group.members.items():
                if sub.congested():
                    group.stale.add(sub)
                    continue
                if sub in group.stale:
                    group.stale.discard(sub)
                    if "level2" in channels:
                        sub.send(self.snapshot("level2", symbol))
                    if "ticker" in channels:
                        sub.send(ticker_frame or self._ticker_frame(state))
                    continue
                if l2_frame is not None and "level2" in channels:
                    sub.send(l2_frame)
                if ticker_frame is not None and "ticker" in channels:
                    sub.send(ticker_frame)
            group.changes = {}
            group.dirty = False

    # ---------------------------------------------------------- subscriptions

    def snapshot(self, channel: str, symbol: str) -> bytes:
        """The ``snapshot`` a new subscriber of (channel, symbol) gets first."""
        state = self.symbols[symbol]
        book = state.book
        msg: SnapshotMessage
        if channel == "level3":
            msg = SnapshotMessage(channel=channel, symbol=symbol, seq=book.seq, bids=book.rows("buy"),
                                  asks=book.rows("sell"))
        elif channel == "level2":
            msg = SnapshotMessage(channel=channel, symbol=symbol, seq=book.seq,
                                  bids=[list(x) for x in book.levels("buy")],
                                  asks=[list(x) for x in book.levels("sell")])
        elif channel == "ticker":
            msg = SnapshotMessage(channel=channel, symbol=symbol, seq=book.seq, ticker=book.ticker())
        else:
            msg = SnapshotMessage(channel=channel, symbol=symbol, seq=book.seq,
                                  trades=[msgspec.to_builtins(t) for t in state.trades])
        return encode_message(msg)

    def subscribe(self, sub: Subscriber, channels: Iterable[str], symbols: Iterable[str],
                  interval_ms: int | None = None) -> list[bytes]:
        """Add subscriptions; return the snapshots to send first (one per channel and symbol).

        Raises:
            KeyError: an unknown symbol (nothing was changed).
        """
        symbols = list(symbols)
        for symbol in symbols:
            if symbol not in self.symbols:
                raise KeyError(symbol)
        interval = quantize_interval(interval_ms) if interval_ms else 0
        mine = self.of.setdefault(sub, set())
        snapshots: list[bytes] = []
        for channel in channels:
            for symbol in symbols:
                self._drop(sub, channel, symbol)
                if interval and channel in CONFLATED:
                    group = self.groups.get((symbol, interval))
                    if group is None:
                        group = self.groups[(symbol, interval)] = _Group(interval)
                        self._groups_of.setdefault(symbol, []).append(group)
                    group.members.setdefault(sub, set()).add(channel)
                    mine.add((channel, symbol, interval))
                else:
                    self.live.setdefault((channel, symbol), set()).add(sub)
                    mine.add((channel, symbol, 0))
                snapshots.append(self.snapshot(channel, symbol))
        return snapshots

    def unsubscribe(self, sub: Subscriber, channels: Iterable[str], symbols: Iterable[str]) -> None:
        """Remove subscriptions (unknown ones are ignored)."""
        for channel in channels:
            for symbol in symbols:
                self._drop(sub, channel, symbol)

    def _drop(self, sub: Subscriber, channel: str, symbol: str) -> None:
        mine = self.of.get(sub)
        if not mine:
            return
        for entry in [e for e in mine if e[0] == channel and e[1] == symbol]:
            mine.discard(entry)
            interval = entry[2]
            if interval:
                group = self.groups.get((symbol, interval))
                if group is not None and sub in group.members:
                    group.members[sub].discard(channel)
                    if not group.members[sub]:
                        del group.members[sub]
                        group.stale.discard(sub)
            else:
                live = self.live.get((channel, symbol))
                if live is not None:
                    live.discard(sub)

    def forget(self, sub: Subscriber) -> None:
        """Drop every subscription of a connection that closed."""
        for channel, symbol, _ in list(self.of.get(sub, ())):
            self._drop(sub, channel, symbol)
        self.of.pop(sub, None)

    def subscribers(self) -> int:
        """Connections with at least one subscription."""
        return sum(1 for entries in self.of.values() if entries)
