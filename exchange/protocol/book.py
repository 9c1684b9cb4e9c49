"""Order books rebuilt from public market data: one model for every consumer.

The client library's local books, the market-data hub's snapshots for late
joiners and the tests all keep their books with these classes, from a
``snapshot`` followed by ``l3`` (or ``l2``) messages.

Bids and asks are one implementation: a level's key is ``sign * price``
(``-1`` for bids, ``+1`` for asks), so the best level of either side has the
smallest key (the top of a heap for L3 books, the first key of a
``SortedDict`` for L2 books).

Sequence rules (PROTOCOL.md): ``l3`` messages carry consecutive ``seq`` values
per symbol, so a message whose ``seq`` is not the next one raises
:class:`GapError` (resubscribe for a fresh snapshot); messages at or below the
book's ``seq`` are already reflected and are ignored. ``l2`` messages carry
``first_seq``..``seq``, the book changes they cover; their quantities are
absolute, so overlap is harmless and only a hole is a gap.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from typing import Final

from sortedcontainers import SortedDict

from exchange.protocol.messages import L2Message, L3Message

__all__ = ["GapError", "L2Book", "L3Book", "LevelChange", "side_sign"]

LevelChange = tuple[str, int, int]
"""``(side, price, new_level_qty)``; 0 means the level is gone."""

_SIDES: Final = ("buy", "sell")


def side_sign(side: str) -> int:
    """The key sign of a side: ``-1`` for bids, ``+1`` for asks."""
    return -1 if side == "buy" else 1


class GapError(Exception):
    """A message was missed: the book is stale until a new snapshot."""

    def __init__(self, symbol: str, expected: int, got: int) -> None:
        super().__init__(f"{symbol}: expected seq {expected}, got {got}")
        self.symbol = symbol
        self.expected = expected
        self.got = got


class _Level:
    __slots__ = ("price", "orders", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: dict[int, int] = {}  # order_id -> qty, in priority order
        self.total = 0


class _Side:
    """One side of an L3 book: levels by key, and a heap of keys for the best one.

    A level that empties stays (empty) until it reaches the top of the heap or
    the empties outnumber the live levels, so adding and removing a level costs
    a dict operation and a heap push, not a sorted-container update.
    """

    __slots__ = ("side", "sign", "levels", "heap", "empty", "total")

    def __init__(self, side: str) -> None:
        self.side = side
        self.sign = side_sign(side)
        self.levels: dict[int, _Level] = {}  # key -> level (possibly empty)
        self.heap: list[int] = []  # each key of ``levels`` once
        self.empty = 0  # empty levels still in ``levels``
        self.total = 0  # all resting quantity on this side

    def level(self, price: int) -> _Level:
        key = self.sign * price
        level = self.levels.get(key)
        if level is None:
            level = self.levels[key] = _Level(price)
            heapq.heappush(self.heap, key)
        elif not level.orders:
            self.empty -= 1
        return level

    def drop_if_empty(self, level: _Level) -> None:
        if level.orders:
            return
        self.empty += 1
        if self.empty > 64 and self.empty > len(self.levels) - self.empty:
            self.levels = {k: v for k, v in self.levels.items() if v.orders}
            self.heap = list(self.levels)
            heapq.heapify(self.heap)
            self.empty = 0

    def get(self, price: int) -> _Level | None:
        level = self.levels.get(self.sign * price)
        return level if level is not None and level.orders else None

    def best(self) -> _Level | None:
        heap, levels = self.heap, self.levels
        while heap:
            level = levels[heap[0]]
            if level.orders:
                return level
            del levels[heapq.heappop(heap)]
            self.empty -= 1
        return None

    def ordered(self, depth: int | None = None) -> list[_Level]:
        """Live levels, best first (the ``depth`` best only, if given)."""
        live = [k for k, level in self.levels.items() if level.orders]
        keys = sorted(live) if depth is None else heapq.nsmallest(depth, live)
        return [self.levels[k] for k in keys]


class L3Book:
    """Every resting order of one symbol, in priority order, from public messages.

    Also tracks the session's last trade and volume from ``match`` events
    (seeded from a ticker snapshot), so a ticker can be built without the engine.
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.seq = -1  # no snapshot yet
        self.sides = {side: _Side(side) for side in _SIDES}
        self.orders: dict[int, tuple[str, int]] = {}  # order_id -> (side, price)
        self.last: int | None = None
        self.last_qty: int | None = None
        self.volume = 0

    @property
    def synced(self) -> bool:
        """Whether a snapshot was loaded (and no gap seen since)."""
        return self.seq >= 0

    def load(
        self,
        seq: int,
        bids: Iterable[Sequence[int]],
        asks: Iterable[Sequence[int]],
        *,
        last: int | None = None,
        last_qty: int | None = None,
        volume: int = 0,
    ) -> None:
        """Replace the book with a ``level3`` snapshot: ``[order_id, price, qty]`` rows, priority order."""
        self.sides = {side: _Side(side) for side in _SIDES}
        self.orders = {}
        for side, rows in (("buy", bids), ("sell", asks)):
            book_side = self.sides[side]
            for order_id, price, qty in rows:
                level = book_side.level(price)
                level.orders[order_id] = qty
                level.total += qty
                book_side.total += qty
                self.orders[order_id] = (side, price)
        self.seq = seq
        self.last, self.last_qty, self.volume = last, last_qty, volume

    def reset(self) -> None:
        """Forget everything (after a gap, until the next snapshot)."""
        self.load(-1, (), ())

    def apply(self, msg: L3Message) -> list[LevelChange]:
        """Apply one ``l3`` message; return the L2 level changes it made.

        Raises:
            GapError: ``msg.seq`` is past the next expected one (or no snapshot yet).
        """
        if self.seq < 0 or msg.seq > self.seq + 1:
            raise GapError(self.symbol, self.seq + 1, msg.seq)
        if msg.seq <= self.seq:
            return []
        self.seq = msg.seq
        event = msg.event
        if event == "open":
            assert msg.order_id is not None and msg.side is not None and msg.price is not None
            assert msg.qty is not None
            side = self.sides[msg.side]
            level = side.level(msg.price)
            level.orders[msg.order_id] = msg.qty
            level.total += msg.qty
            side.total += msg.qty
            self.orders[msg.order_id] = (msg.side, msg.price)
            return [(msg.side, msg.price, level.total)]
        if event == "match":
            assert msg.maker_order_id is not None and msg.qty is not None and msg.price is not None
            self.last, self.last_qty = msg.price, msg.qty
            self.volume += msg.qty
            return self._cut(msg.maker_order_id, msg.qty, None)
        if event == "change":
            assert msg.order_id is not None and msg.qty is not None
            return self._cut(msg.order_id, None, msg.qty)
        if event == "done":
            assert msg.order_id is not None
            found = self.orders.pop(msg.order_id, None)
            if found is None:
                return []
            side_name, price = found
            side = self.sides[side_name]
            level = side.level(price)
            gone = level.orders.pop(msg.order_id, 0)
            level.total -= gone
            side.total -= gone
            side.drop_if_empty(level)
            return [(side_name, price, level.total)]
        return []

    def _cut(self, order_id: int, by: int | None, to: int | None) -> list[LevelChange]:
        found = self.orders.get(order_id)
        if found is None:
            return []
        side_name, price = found
        side = self.sides[side_name]
        level = side.level(price)
        qty = level.orders[order_id]
        new = qty - by if by is not None else (to if to is not None else qty)
        level.orders[order_id] = new
        level.total += new - qty
        side.total += new - qty
        return [(side_name, price, level.total)]

    # ------------------------------------------------------------------ views

    def best(self, side: str) -> tuple[int, int] | None:
        """``(price, total qty)`` of the best level of ``side``, or None."""
        level = self.sides[side].best()
        return None if level is None else (level.price, level.total)

    def levels(self, side: str, depth: int | None = None) -> list[tuple[int, int]]:
        """``(price, total qty)`` per level, best first."""
        return [(level.price, level.total) for level in self.sides[side].ordered(depth)]

    def orders_at(self, side: str, price: int) -> list[tuple[int, int]]:
        """``(order_id, qty)`` resting at ``price``, in queue order."""
        level = self.sides[side].get(price)
        return [] if level is None else list(level.orders.items())

    def rows(self, side: str) -> list[list[int]]:
        """Every order of ``side`` as ``[order_id, price, qty]``, priority order (snapshot form)."""
        return [[oid, level.price, qty] for level in self.sides[side].ordered() for oid, qty in level.orders.items()]

    @property
    def open_interest(self) -> int:
        """All resting quantity, both sides."""
        return sum(side.total for side in self.sides.values())

    def ticker(self) -> dict[str, int | None]:
        """The ticker fields (without ``symbol``)."""
        bid = self.best("buy")
        ask = self.best("sell")
        return {
            "seq": self.seq,
            "bid": bid[0] if bid else None,
            "bid_qty": bid[1] if bid else None,
            "ask": ask[0] if ask else None,
            "ask_qty": ask[1] if ask else None,
            "last": self.last,
            "last_qty": self.last_qty,
            "volume": self.volume,
            "open_interest": self.open_interest,
        }


class L2Book:
    """Aggregated levels of one symbol from a ``level2`` snapshot and ``l2`` messages."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.seq = -1
        self.sides: dict[str, SortedDict] = {side: SortedDict() for side in _SIDES}  # key -> (price, qty)

    @property
    def synced(self) -> bool:
        """Whether a snapshot was loaded (and no gap seen since)."""
        return self.seq >= 0

    def load(self, seq: int, bids: Iterable[Sequence[int]], asks: Iterable[Sequence[int]]) -> None:
        """Replace the book with a ``level2`` snapshot (``[price, qty]`` rows)."""
        self.sides = {side: SortedDict() for side in _SIDES}
        for side, rows in (("buy", bids), ("sell", asks)):
            sign = side_sign(side)
            for price, qty in rows:
                self.sides[side][sign * price] = (price, qty)
        self.seq = seq

    def reset(self) -> None:
        """Forget everything (after a gap, until the next snapshot)."""
        self.load(-1, (), ())

    def apply(self, msg: L2Message) -> None:
        """Apply one ``l2`` message.

        Raises:
            GapError: it starts past the next book change (or no snapshot yet).
        """
        first = msg.first_seq if msg.first_seq is not None else msg.seq
        if self.seq < 0 or first > self.seq + 1:
            raise GapError(self.symbol, self.seq + 1, first)
        if msg.seq <= self.seq:
            return
        self.seq = msg.seq
        for side, price, qty in msg.changes:
            levels = self.sides[side]
            key = side_sign(side) * price
            if qty:
                levels[key] = (price, qty)
            else:
                levels.pop(key, None)

    def best(self, side: str) -> tuple[int, int] | None:
        """``(price, qty)`` of the best level, or None."""
        levels = self.sides[side]
        if not levels:
            return None
        best: tuple[int, int] = levels.peekitem(0)[1]
        return best

    def levels(self, side: str, depth: int | None = None) -> list[tuple[int, int]]:
        """``(price, qty)`` per level, best first."""
        values: list[tuple[int, int]] = list(self.sides[side].values())
        return values if depth is None else values[:depth]
