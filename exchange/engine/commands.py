"""The commands the engine applies: plain, typed, serialisable messages.

A command is what a user (or the administrator) asked for, already
authenticated: it names the acting user by the integer id the store gave it.
The sequencer gives each accepted command the next global sequence number and a
timestamp; the journal stores it as msgpack (``array_like`` keeps records
small). Commands are immutable.
"""

from __future__ import annotations

from typing import Final

import msgspec

from exchange.types import BUY, SELL, OrderType, Side, SymbolStatus, TimeInForce

__all__ = [
    "BUY",
    "SELL",
    "AddSymbol",
    "Cancel",
    "CancelAll",
    "Command",
    "Deposit",
    "Expire",
    "Halt",
    "NewOrder",
    "OrderType",
    "Replace",
    "Resume",
    "Side",
    "SymbolStatus",
    "TimeInForce",
    "decode_command",
    "encode_command",
]


class NewOrder(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="op", tag="order"):
    """Place an order. ``price`` is ``None`` for market and stop orders.

    The fields after ``client_order_id`` came later: journals written before
    them decode with their defaults (new fields only ever go at the end).
    ``stop_price`` is for stop and stop-limit orders, ``expire_ts`` (ns) for
    ``tif`` ``gtd``, ``display_qty`` makes an iceberg (reserve) order.
    """

    user: int
    symbol: str
    side: Side
    type: OrderType
    price: int | None
    qty: int
    tif: TimeInForce = "gtc"
    post_only: bool = False
    client_order_id: str | None = None
    stop_price: int | None = None
    expire_ts: int | None = None
    display_qty: int | None = None


class Cancel(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="op", tag="cancel"):
    """Cancel one open order of ``user`` by engine id or by client id."""

    user: int
    order_id: int | None = None
    client_order_id: str | None = None


class CancelAll(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="op", tag="cancel_all"):
    """Cancel every open order of ``user`` (on one symbol, or on all)."""

    user: int
    symbol: str | None = None


class Replace(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="op", tag="replace"):
    """Change an open order's price and/or open quantity.

    ``qty`` is the new *open* (remaining) quantity. Lowering only the quantity
    keeps time priority; any other change re-queues the order at the back of
    its (new) price level, and a new price that crosses trades first.
    ``stop_price`` moves an untriggered stop (a later field, see ``NewOrder``).
    """

    user: int
    order_id: int | None = None
    price: int | None = None
    qty: int | None = None
    client_order_id: str | None = None
    stop_price: int | None = None


class Deposit(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="op", tag="deposit"):
    """The administrator gifts ``user`` cash (cents) and/or ``qty`` shares of ``symbol``."""

    user: int
    cash: int = 0
    symbol: str | None = None
    qty: int = 0


class AddSymbol(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="op", tag="add_symbol"):
    """List a new symbol with its tick (price step) and lot (quantity step)."""

    symbol: str
    tick: int = 1
    lot: int = 1


class Halt(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="op", tag="halt"):
    """Stop trading a symbol: new orders and replaces are refused, cancels work."""

    symbol: str


class Resume(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="op", tag="resume"):
    """Resume trading a halted symbol."""

    symbol: str


class Expire(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="op", tag="expire"):
    """Expire the good-till-date orders due at the command's timestamp.

    The shell journals one now and then while such orders are due, so they
    expire on a quiet market too; every other command expires them as well
    before it is applied.
    """


Command = NewOrder | Cancel | CancelAll | Replace | Deposit | AddSymbol | Halt | Resume | Expire

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(Command)


def encode_command(command: Command) -> bytes:
    """Serialise a command to compact msgpack bytes (the journal's format)."""
    return _encoder.encode(command)


def decode_command(data: bytes) -> Command:
    """Parse bytes written by :func:`encode_command`.

    Raises:
        msgspec.ValidationError: the bytes are not a valid command.
    """
    command: Command = _decoder.decode(data)
    return command
