"""The events the engine returns: everything downstream is built from these.

``Engine.apply`` returns a list whose first element is always the *reply* to
the command (``Ack``, ``Canceled``, ``CanceledAll``, ``Reject`` or ``Applied``);
what follows is what the command caused, in order:

* ``Match`` — one trade: both private fills, the public L3 ``match`` and the
  public ``trade`` message are built from it.
* ``Open`` / ``Change`` / ``Done`` — book changes (public L3 ``open``,
  ``change``, ``done``). ``Done`` is also the private ``done`` message; a
  ``Done`` whose ``seq`` is 0 is an order that never rested (no book change),
  such as an untriggered stop's. Reason ``refreshed``: an iceberg's shown part
  filled and an ``Open`` of the same id (its next part, at the back) follows.
* ``Triggered`` — a stop order's trigger (private to its owner).

When good-till-date orders were due, their ``Done`` events (reason
``expired``) come right after the reply, before what the command caused.

Book events carry the symbol's book sequence number ``seq`` (consecutive per
symbol over every book change) and ``level_qty``, the total resting quantity
at that side and price after the change, so L2 follows without a book.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from exchange.engine.commands import Side, SymbolStatus

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # a build-time (mypyc) dependency only: without it the hints do nothing

    def mypyc_attr(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        return lambda cls: cls

__all__ = [
    "Ack",
    "Applied",
    "Canceled",
    "CanceledAll",
    "Change",
    "Done",
    "DoneReason",
    "Event",
    "Liquidity",
    "Match",
    "Open",
    "OrderStatus",
    "Reject",
    "Reply",
    "Triggered",
]

OrderStatus = Literal["open", "partially_filled", "filled", "canceled", "pending"]
DoneReason = Literal["filled", "canceled", "expired", "self_trade", "replaced", "refreshed"]
Liquidity = Literal["maker", "taker"]


@mypyc_attr(acyclic=True)
class _Event:
    """Common behaviour: value equality and a readable ``repr`` over ``_fields``.

    Plain classes rather than msgspec structs: the mypyc build compiles them to
    native objects whose constructors store unboxed ints (several times faster
    than building a struct from compiled code), outside the cyclic GC (they
    only hold ints and strings) and reusing the last freed instance's memory.
    Only ``Ack`` is ever changed after construction, and only by the engine.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Event)
        return self._values() == other._values()

    def __ne__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Event)
        return self._values() != other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        args = ", ".join([f"{name}={getattr(self, name)!r}" for name in self._fields])
        return f"{type(self).__name__}({args})"


@mypyc_attr(acyclic=True, free_list_len=1)
class Ack(_Event):
    """An order or replace was accepted; ``status`` is as of the end of the command.

    ``pending``: an untriggered stop, held but not on the book.
    """

    __slots__ = ("user", "order_id", "client_order_id", "symbol", "side", "status", "remaining")
    _fields: ClassVar[tuple[str, ...]] = (
        "user", "order_id", "client_order_id", "symbol", "side", "status", "remaining",
    )

    def __init__(
        self,
        user: int,
        order_id: int,
        client_order_id: str | None,
        symbol: str,
        side: Side,
        status: OrderStatus,
        remaining: int,
    ) -> None:
        self.user = user
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side: Side = side
        self.status: OrderStatus = status
        self.remaining = remaining


@mypyc_attr(acyclic=True, free_list_len=1)
class Reject(_Event):
    """The command was refused and changed nothing."""

    __slots__ = ("user", "code", "message", "client_order_id", "field")
    _fields: ClassVar[tuple[str, ...]] = ("user", "code", "message", "client_order_id", "field")

    def __init__(
        self, user: int, code: str, message: str, client_order_id: str | None = None, field: str | None = None
    ) -> None:
        self.user = user
        self.code = code
        self.message = message
        self.client_order_id = client_order_id
        self.field = field


@mypyc_attr(acyclic=True, free_list_len=1)
class Canceled(_Event):
    """Reply to ``Cancel``: the order left the book with ``remaining`` unfilled."""

    __slots__ = ("user", "order_id", "client_order_id", "remaining")
    _fields: ClassVar[tuple[str, ...]] = ("user", "order_id", "client_order_id", "remaining")

    def __init__(self, user: int, order_id: int, client_order_id: str | None, remaining: int) -> None:
        self.user = user
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.remaining = remaining


@mypyc_attr(acyclic=True, free_list_len=1)
class CanceledAll(_Event):
    """Reply to ``CancelAll``: how many orders were canceled."""

    __slots__ = ("user", "count")
    _fields: ClassVar[tuple[str, ...]] = ("user", "count")

    def __init__(self, user: int, count: int) -> None:
        self.user = user
        self.count = count


@mypyc_attr(acyclic=True, free_list_len=1)
class Applied(_Event):
    """Reply to an administrative command (deposit, symbol listing, halt, resume)."""

    __slots__ = ("op", "symbol", "status")
    _fields: ClassVar[tuple[str, ...]] = ("op", "symbol", "status")

    def __init__(self, op: str, symbol: str | None = None, status: SymbolStatus | None = None) -> None:
        self.op = op
        self.symbol = symbol
        self.status: SymbolStatus | None = status


@mypyc_attr(acyclic=True, free_list_len=1)
class Match(_Event):
    """A trade between a resting (maker) order and an incoming (taker) order.

    ``side`` is the maker's side; the trade price is the maker's price.
    """

    __slots__ = (
        "symbol", "seq", "trade_id", "price", "qty", "side", "maker_order_id", "maker_user",
        "maker_client_order_id", "maker_remaining", "taker_order_id", "taker_user",
        "taker_client_order_id", "taker_remaining", "level_qty",
    )
    _fields: ClassVar[tuple[str, ...]] = (
        "symbol", "seq", "trade_id", "price", "qty", "side", "maker_order_id", "maker_user",
        "maker_client_order_id", "maker_remaining", "taker_order_id", "taker_user",
        "taker_client_order_id", "taker_remaining", "level_qty",
    )

    def __init__(
        self,
        symbol: str,
        seq: int,
        trade_id: int,
        price: int,
        qty: int,
        side: Side,
        maker_order_id: int,
        maker_user: int,
        maker_client_order_id: str | None,
        maker_remaining: int,
        taker_order_id: int,
        taker_user: int,
        taker_client_order_id: str | None,
        taker_remaining: int,
        level_qty: int,
    ) -> None:
        self.symbol = symbol
        self.seq = seq
        self.trade_id = trade_id
        self.price = price
        self.qty = qty
        self.side: Side = side
        self.maker_order_id = maker_order_id
        self.maker_user = maker_user
        self.maker_client_order_id = maker_client_order_id
        self.maker_remaining = maker_remaining
        self.taker_order_id = taker_order_id
        self.taker_user = taker_user
        self.taker_client_order_id = taker_client_order_id
        self.taker_remaining = taker_remaining
        self.level_qty = level_qty


@mypyc_attr(acyclic=True, free_list_len=1)
class Open(_Event):
    """A resting order joined the book at the back of its level."""

    __slots__ = ("symbol", "seq", "order_id", "side", "price", "qty", "level_qty")
    _fields: ClassVar[tuple[str, ...]] = ("symbol", "seq", "order_id", "side", "price", "qty", "level_qty")

    def __init__(
        self,
        symbol: str,
        seq: int,
        order_id: int,
        side: Side,
        price: int,
        qty: int,
        level_qty: int,
    ) -> None:
        self.symbol = symbol
        self.seq = seq
        self.order_id = order_id
        self.side: Side = side
        self.price = price
        self.qty = qty
        self.level_qty = level_qty


@mypyc_attr(acyclic=True, free_list_len=1)
class Change(_Event):
    """A resting order's quantity dropped to ``qty`` without losing priority."""

    __slots__ = ("symbol", "seq", "order_id", "side", "price", "qty", "level_qty")
    _fields: ClassVar[tuple[str, ...]] = ("symbol", "seq", "order_id", "side", "price", "qty", "level_qty")

    def __init__(
        self,
        symbol: str,
        seq: int,
        order_id: int,
        side: Side,
        price: int,
        qty: int,
        level_qty: int,
    ) -> None:
        self.symbol = symbol
        self.seq = seq
        self.order_id = order_id
        self.side: Side = side
        self.price = price
        self.qty = qty
        self.level_qty = level_qty


@mypyc_attr(acyclic=True, free_list_len=1)
class Done(_Event):
    """An order left the book, or never rested (``seq`` 0, ``price`` may be None).

    ``reason`` ``replaced`` is a book-only event: the order lives on with the
    same id and an ``Open`` follows.
    """

    __slots__ = (
        "symbol", "seq", "order_id", "user", "client_order_id", "side", "price", "reason", "remaining",
        "level_qty",
    )
    _fields: ClassVar[tuple[str, ...]] = (
        "symbol", "seq", "order_id", "user", "client_order_id", "side", "price", "reason", "remaining",
        "level_qty",
    )

    def __init__(
        self,
        symbol: str,
        seq: int,
        order_id: int,
        user: int,
        client_order_id: str | None,
        side: Side,
        price: int | None,
        reason: DoneReason,
        remaining: int,
        level_qty: int,
    ) -> None:
        self.symbol = symbol
        self.seq = seq
        self.order_id = order_id
        self.user = user
        self.client_order_id = client_order_id
        self.side: Side = side
        self.price = price
        self.reason: DoneReason = reason
        self.remaining = remaining
        self.level_qty = level_qty


@mypyc_attr(acyclic=True, free_list_len=1)
class Triggered(_Event):
    """A trade went through a stop's ``stop_price``: it enters the market now.

    Private to the owner, it comes before the fills and book events of the
    order's entry; ``status`` and ``remaining`` are as of the end of that
    entry (stops it triggers in turn may trade with it later in the command).
    """

    __slots__ = ("symbol", "order_id", "user", "client_order_id", "side", "stop_price", "status", "remaining")
    _fields: ClassVar[tuple[str, ...]] = (
        "symbol", "order_id", "user", "client_order_id", "side", "stop_price", "status", "remaining",
    )

    def __init__(
        self,
        symbol: str,
        order_id: int,
        user: int,
        client_order_id: str | None,
        side: Side,
        stop_price: int,
        status: OrderStatus,
        remaining: int,
    ) -> None:
        self.symbol = symbol
        self.order_id = order_id
        self.user = user
        self.client_order_id = client_order_id
        self.side: Side = side
        self.stop_price = stop_price
        self.status: OrderStatus = status
        self.remaining = remaining


Reply = Ack | Reject | Canceled | CanceledAll | Applied
Event = Ack | Reject | Canceled | CanceledAll | Applied | Match | Open | Change | Done | Triggered
