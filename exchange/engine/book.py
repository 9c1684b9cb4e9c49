"""One symbol's order book: two ``BookSide`` objects of one implementation.

Bids and asks are the same code, parameterised by ``sign``: a level's *key* is
``sign * price`` (asks: ``+price``, bids: ``-price``), so on either side the best
level is the one with the smallest key and an incoming order of the other side
with limit ``p`` may trade with every level whose key is ``<= sign * p``.

A level is a FIFO of orders: a list and the index of its front (``head``), which
the mypyc build compiles to direct list access. Canceling from the middle of a
level is O(1): the order is marked dead (``remaining == 0``) and skipped when
it reaches the front; a level drops the consumed entries before ``head`` once
they make up half its list, compacts itself when dead entries outnumber live
ones, and levels that empty are dropped lazily from the price heap, which is
rebuilt when stale keys pile up. Each side also remembers its best level
(``top``) so the matching loop rarely touches the heap. Memory therefore stays
proportional to what rests on the book.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from exchange.engine.commands import OrderType, Side, SymbolStatus, TimeInForce

if TYPE_CHECKING:
    from exchange.engine.accounts import Account, Holding

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # a build-time (mypyc) dependency only: without it the hints do nothing

    def mypyc_attr(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        return lambda cls: cls

__all__ = ["Book", "BookSide", "Level", "Order", "Stops", "side_sign"]

_COMPACT_MIN_DEAD: Final = 16
_STALE_SLACK: Final = 64
_HEAD_SLACK: Final = 32
# Final aliases: the mypyc build keeps them in C statics, where ``heapq.heappush``
# would be a module attribute lookup on every call.
_heappush: Final = heapq.heappush
_heappop: Final = heapq.heappop
_heapify: Final = heapq.heapify


def side_sign(side: str) -> int:
    """The key sign of a side: ``-1`` for bids, ``+1`` for asks."""
    return -1 if side == "buy" else 1


@mypyc_attr(free_list_len=1)
class Order:
    """A live order. ``qty`` is its total size (filled + remaining).

    A plain class rather than a struct so that the mypyc build compiles it to
    a native object with direct field access. ``acct`` is the owner's wallet,
    set when the order rests (``Account.add_order``); ``holding`` the owner's
    holding of the symbol, set by whoever creates the order; ``level`` the
    level it was queued in (``Level.append``).

    The other order types set more after construction: ``kind`` (``stop`` and
    ``stop_limit`` keep theirs after the trigger), ``stop_price`` (0: none),
    ``triggered``, ``arrival`` (the seq of the command that placed the stop,
    its place among stops of one price), ``expire_ts`` (0: none), and for an
    iceberg ``display`` (0: not one) and ``hidden``, the reserve behind the
    ``remaining`` shown on the book (the open quantity is ``remaining + hidden``).
    """

    __slots__ = (
        "acct", "holding", "level", "order_id", "user", "symbol", "side", "price", "qty", "remaining",
        "tif", "post_only", "client_order_id", "ts", "kind", "stop_price", "triggered", "arrival",
        "expire_ts", "display", "hidden",
    )

    acct: Account
    holding: Holding
    level: Level

    def __init__(
        self,
        order_id: int,
        user: int,
        symbol: str,
        side: Side,
        price: int,
        qty: int,
        remaining: int,
        tif: TimeInForce,
        post_only: bool,
        client_order_id: str | None,
        ts: int,
    ) -> None:
        self.order_id = order_id
        self.user = user
        self.symbol = symbol
        self.side: Side = side
        self.price = price
        self.qty = qty
        self.remaining = remaining
        self.tif: TimeInForce = tif
        self.post_only = post_only
        self.client_order_id = client_order_id
        self.ts = ts
        self.kind: OrderType = "limit"
        self.stop_price = 0
        self.triggered = False
        self.arrival = 0
        self.expire_ts = 0
        self.display = 0
        self.hidden = 0

    @property
    def pending(self) -> bool:
        """An untriggered stop: held, owned, not on the book."""
        return self.stop_price != 0 and not self.triggered

    def copy(self, price: int, qty: int, remaining: int, ts: int) -> Order:
        """The same order with a new price, size and open quantity (a fresh object, same extras)."""
        order = Order(
            self.order_id, self.user, self.symbol, self.side, price, qty, remaining,
            self.tif, self.post_only, self.client_order_id, ts,
        )
        order.kind = self.kind
        order.stop_price = self.stop_price
        order.triggered = self.triggered
        order.arrival = self.arrival
        order.expire_ts = self.expire_ts
        order.display = self.display
        order.holding = self.holding
        return order

    def __repr__(self) -> str:
        return (
            f"Order({self.order_id}, user={self.user}, {self.side} {self.remaining}/{self.qty} "
            f"{self.symbol}@{self.price}, {self.tif}, {self.kind}, stop={self.stop_price}, "
            f"hidden={self.hidden})"
        )


class Level:
    """The resting orders at one price, in time priority."""

    __slots__ = ("count", "dead", "head", "key", "orders", "price", "total")

    def __init__(self, price: int, key: int) -> None:
        self.price = price
        self.key = key
        self.orders: list[Order] = []  # consumed entries before ``head``, all dead
        self.head = 0
        self.total = 0
        self.count = 0
        self.dead = 0

    def append(self, order: Order) -> None:
        """Queue ``order`` at the back."""
        order.level = self
        self.orders.append(order)
        self.total += order.remaining
        self.count += 1

    def front(self) -> Order:
        """The first live order (the level must hold one)."""
        orders = self.orders
        head = self.head
        order = orders[head]
        while order.remaining == 0:
            head += 1
            self.dead -= 1
            order = orders[head]
        self.head = head
        return order

    def pop_front(self) -> None:
        """Drop the front order, which the caller has just emptied."""
        self.count -= 1
        if self.count == 0:
            self.orders.clear()
            self.head = 0
            self.dead = 0
            return
        head = self.head + 1
        if head > _HEAD_SLACK and head + head > len(self.orders):
            del self.orders[:head]
            head = 0
        self.head = head

    def kill(self, order: Order) -> None:
        """Forget a live order anywhere in the level (its remaining must be zeroed by caller)."""
        self.count -= 1
        if self.count == 0:
            self.orders.clear()
            self.head = 0
            self.dead = 0
            return
        self.dead += 1
        if self.dead > _COMPACT_MIN_DEAD and self.dead > self.count:
            self.orders = [o for o in self.orders if o.remaining]
            self.head = 0
            self.dead = 0

    def live(self) -> Iterator[Order]:
        """The live orders in priority order."""
        return iter([o for o in self.orders if o.remaining])


class BookSide:
    """The bids or the asks of one book."""

    __slots__ = ("heap", "levels", "side", "sign", "stale", "top", "total")

    def __init__(self, side: Side) -> None:
        self.side: Side = side
        self.sign = side_sign(side)
        self.levels: dict[int, Level] = {}
        self.heap: list[int] = []
        self.total = 0  # all resting quantity on this side
        self.stale = 0  # empty levels still in ``levels``/``heap``
        self.top: Level | None = None  # the best level when last looked up (maybe emptied since)

    def best(self) -> Level | None:
        """The best non-empty level, or None when the side is empty."""
        top = self.top
        if top is not None and top.count:
            return top
        heap = self.heap
        levels = self.levels
        while heap:
            level = levels[heap[0]]
            if level.count:
                self.top = level
                return level
            del levels[_heappop(heap)]
            self.stale -= 1
        self.top = None
        return None

    def key(self, price: int) -> int:
        """The level key of ``price`` on this side, ``sign * price``.

        Negated rather than multiplied: the compiled build multiplies by a
        negative int through its slow path, which allocates.
        """
        return -price if self.sign < 0 else price

    def level_for(self, price: int) -> Level:
        """The level at ``price``, created (and indexed) if needed."""
        key = self.key(price)
        level = self.levels.get(key)
        if level is None:
            level = Level(price, key)
            self.levels[key] = level
            _heappush(self.heap, key)
            top = self.top
            if top is not None and key < top.key:
                self.top = level
        elif level.count == 0:
            self.stale -= 1
        return level

    def level_emptied(self) -> None:
        """Note that a level went empty; rebuild the index when too many are stale."""
        self.stale += 1
        if self.stale > _STALE_SLACK and self.stale > len(self.levels) - self.stale:
            self.levels = {k: v for k, v in self.levels.items() if v.count}
            self.heap = list(self.levels)
            _heapify(self.heap)
            self.stale = 0

    def sorted_levels(self) -> list[Level]:
        """Non-empty levels, best first."""
        return [self.levels[k] for k in sorted(self.levels) if self.levels[k].count]


class Stops:
    """A book's untriggered stop orders, out of the market's sight.

    ``orders`` by id is the truth; two heaps of ``(key, arrival, order_id)``
    give the order they trigger in: buy stops by rising stop price, sell stops
    by falling stop price, then by arrival. Heap entries of stops that left
    (or were moved by a replace) are skipped when they come up and dropped
    when they pile up.
    """

    __slots__ = ("buys", "orders", "sells")

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.buys: list[tuple[int, int, int]] = []
        self.sells: list[tuple[int, int, int]] = []

    def add(self, order: Order) -> None:
        """File an untriggered stop (its ``stop_price`` and ``arrival`` set)."""
        self.orders[order.order_id] = order
        if order.side == "buy":
            _heappush(self.buys, (order.stop_price, order.arrival, order.order_id))
        else:
            _heappush(self.sells, (-order.stop_price, order.arrival, order.order_id))
        if len(self.buys) + len(self.sells) > 2 * len(self.orders) + _STALE_SLACK:
            self._rebuild()

    def discard(self, order: Order) -> None:
        """Forget a stop that triggered, was canceled or expired."""
        del self.orders[order.order_id]

    def _rebuild(self) -> None:
        self.buys = [(o.stop_price, o.arrival, o.order_id) for o in self.orders.values() if o.side == "buy"]
        self.sells = [(-o.stop_price, o.arrival, o.order_id) for o in self.orders.values() if o.side != "buy"]
        _heapify(self.buys)
        _heapify(self.sells)

    def _take(self, heap: list[tuple[int, int, int]], bound: int, out: list[Order]) -> None:
        orders = self.orders
        while heap and heap[0][0] <= bound:
            _, arrival, order_id = _heappop(heap)
            order = orders.get(order_id)
            if order is not None and order.arrival == arrival:
                del orders[order_id]
                out.append(order)

    def triggered(self, low: int, high: int) -> list[Order]:
        """Take out the stops that trades from ``low`` to ``high`` trigger, in trigger order.

        Buy stops at or below ``high`` first, then sell stops at or above ``low``.
        """
        out: list[Order] = []
        self._take(self.buys, high, out)
        self._take(self.sells, -low, out)
        return out

    def in_order(self) -> list[Order]:
        """Every stop in trigger order (buys, then sells), for snapshots."""
        return sorted(
            self.orders.values(),
            key=lambda o: (o.side != "buy", o.stop_price if o.side == "buy" else -o.stop_price, o.arrival),
        )


class Book:
    """One symbol: its two sides, book sequence, trading status and session stats.

    ``shares`` is all the shares of the symbol in every account together;
    ``stops`` the untriggered stop orders (not on the book); ``last`` the last
    trade's price, kept as ``last_price`` (0 before the first trade) so that
    recording a trade stores an unboxed int.
    """

    __slots__ = (
        "asks",
        "bids",
        "last_price",
        "last_qty",
        "lot",
        "seq",
        "shares",
        "status",
        "stops",
        "symbol",
        "tick",
        "volume",
    )

    def __init__(self, symbol: str, tick: int, lot: int) -> None:
        self.symbol = symbol
        self.tick = tick
        self.lot = lot
        self.status: SymbolStatus = "trading"
        self.seq = 0
        self.bids = BookSide("buy")
        self.asks = BookSide("sell")
        self.last_price = 0  # the last trade's price, 0 before the first (an unboxed int, unlike last)
        self.last_qty = 0
        self.volume = 0
        self.shares = 0
        self.stops = Stops()

    @property
    def last(self) -> int | None:
        """The last trade's price, ``None`` before the first trade."""
        return self.last_price or None

    @last.setter
    def last(self, price: int | None) -> None:
        self.last_price = price or 0

    def side(self, side: str) -> BookSide:
        """The side an order of ``side`` rests on."""
        return self.bids if side == "buy" else self.asks

    def opposite(self, side: str) -> BookSide:
        """The side an order of ``side`` trades against."""
        return self.asks if side == "buy" else self.bids

    @property
    def open_interest(self) -> int:
        """All resting quantity, both sides."""
        return self.bids.total + self.asks.total
