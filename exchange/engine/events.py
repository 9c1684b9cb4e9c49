"""The events the engine returns: everything downstream is built from these.

``Engine.apply`` returns a list whose first element is always the *reply* to
the command (``Ack``, ``Canceled``, ``CanceledAll``, ``Reject`` or ``Applied``);
what follows is what the command caused, in order:

* ``Match`` — one trade: both private fills, the public L3 ``match`` and the
  public ``trade`` message are built from it.
* ``Open`` / ``Change`` / ``Done`` — book changes (public L3 ``open``,
  ``change``, ``done``). ``Done`` is also the private ``done`` message; a
  ``Done`` whose ``seq`` is 0 is an order that never rested (no book change).

Book events carry the symbol's book sequence number ``seq`` (consecutive per
symbol over every book change) and ``level_qty``, the total resting quantity
at that side and price after the change, so L2 follows without a book.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from exchange.engine.commands import Side, SymbolStatus

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
]

OrderStatus = Literal["open", "partially_filled", "filled", "canceled"]
DoneReason = Literal["filled", "canceled", "expired", "self_trade", "replaced"]
Liquidity = Literal["maker", "taker"]


class Ack(msgspec.Struct, gc=False, tag_field="kind", tag="ack"):
    """An order or replace was accepted; ``status`` is as of the end of the command."""

    user: int
    order_id: int
    client_order_id: str | None
    symbol: str
    side: Side
    status: OrderStatus
    remaining: int


class Reject(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag="reject"):
    """The command was refused and changed nothing."""

    user: int
    code: str
    message: str
    client_order_id: str | None = None


class Canceled(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag="canceled"):
    """Reply to ``Cancel``: the order left the book with ``remaining`` unfilled."""

    user: int
    order_id: int
    client_order_id: str | None
    remaining: int


class CanceledAll(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag="canceled_all"):
    """Reply to ``CancelAll``: how many orders were canceled."""

    user: int
    count: int


class Applied(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag="applied"):
    """Reply to an administrative command (deposit, symbol listing, halt, resume)."""

    op: str
    symbol: str | None = None
    status: SymbolStatus | None = None


class Match(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag="match"):
    """A trade between a resting (maker) order and an incoming (taker) order.

    ``side`` is the maker's side; the trade price is the maker's price.
    """

    symbol: str
    seq: int
    trade_id: int
    price: int
    qty: int
    side: Side
    maker_order_id: int
    maker_user: int
    maker_client_order_id: str | None
    maker_remaining: int
    taker_order_id: int
    taker_user: int
    taker_client_order_id: str | None
    taker_remaining: int
    level_qty: int


class Open(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag="open"):
    """A resting order joined the book at the back of its level."""

    symbol: str
    seq: int
    order_id: int
    side: Side
    price: int
    qty: int
    level_qty: int


class Change(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag="change"):
    """A resting order's quantity dropped to ``qty`` without losing priority."""

    symbol: str
    seq: int
    order_id: int
    side: Side
    price: int
    qty: int
    level_qty: int


class Done(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag="done"):
    """An order left the book, or never rested (``seq`` 0, ``price`` may be None).

    ``reason`` ``replaced`` is a book-only event: the order lives on with the
    same id and an ``Open`` follows.
    """

    symbol: str
    seq: int
    order_id: int
    user: int
    client_order_id: str | None
    side: Side
    price: int | None
    reason: DoneReason
    remaining: int
    level_qty: int


Reply = Ack | Reject | Canceled | CanceledAll | Applied
Event = Ack | Reject | Canceled | CanceledAll | Applied | Match | Open | Change | Done
