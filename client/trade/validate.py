"""Checks an order ticket against the symbol's rules before anything is sent.

The server checks everything again (and has the last word: funds, positions,
halts); these checks catch typing mistakes at once, with the reason in words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from client import format as fmt
from exchange.bounds import MAX_PRICE, MAX_QTY
from exchange.types import OrderType, Side, TimeInForce

__all__ = ["MAX_VALUE", "OrderTicket", "TicketError", "check_ticket", "collar_breach"]

MAX_VALUE: Final = min(MAX_PRICE, MAX_QTY)
"""Largest price (ticks) and quantity the protocol accepts."""



class TicketError(ValueError):
    """The ticket cannot be sent; ``field`` names the input to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class OrderTicket:
    """A checked order, ready for :meth:`client.Session.order`."""

    symbol: str
    side: Side
    qty: int
    price: int | None
    type: OrderType = "limit"
    tif: TimeInForce = "gtc"
    post_only: bool = False


def check_ticket(
    *,
    symbol: str,
    side: Side,
    price_text: str,
    qty_text: str,
    type: OrderType = "limit",
    tif: TimeInForce = "gtc",
    post_only: bool = False,
    tick: int | None = None,
    lot: int | None = None,
    halted: bool = False,
) -> OrderTicket:
    """Parse and check what the trader typed.

    Args:
        symbol: the symbol traded.
        side: ``buy`` or ``sell``.
        price_text: the price as typed (``101.25``); ignored for market orders.
        qty_text: the quantity as typed.
        type, tif, post_only: the order's kind.
        tick, lot: the symbol's price step (cents) and quantity step, when known.
        halted: the symbol is halted (the server would refuse).

    Returns:
        The ticket.

    Raises:
        TicketError: what is wrong, and which field (``price``, ``qty``, ``type``, ``symbol``).
    """
    if halted:
        raise TicketError("symbol", f"{symbol} is halted: new orders are refused (cancels still work)")
    shares = _checked("qty", qty_text, fmt.parse_qty, fmt.qty, step=lot, step_name=f"lot {lot}", unit=" shares")
    cents: int | None = None
    if type == "limit":
        cents = _checked("price", price_text, fmt.parse_price, fmt.price, step=tick,
                         step_name=f"tick {fmt.price(tick)}")
    if post_only and (type != "limit" or tif != "gtc"):
        raise TicketError("type", "post-only needs a limit GTC order")
    return OrderTicket(symbol=symbol, side=side, qty=shares, price=cents, type=type, tif=tif, post_only=post_only)


def _checked(
    field: str,
    text: str,
    parse: Callable[[str], int],
    show: Callable[[int], str],
    *,
    step: int | None,
    step_name: str,
    unit: str = "",
) -> int:
    """``text`` parsed, at most :data:`MAX_VALUE` and a multiple of ``step`` (when known), else :class:`TicketError`."""
    try:
        value = parse(text)
    except ValueError as exc:
        raise TicketError(field, str(exc)) from None
    if value > MAX_VALUE:
        raise TicketError(field, f"at most {show(MAX_VALUE)}{unit}")
    if step and value % step:
        raise TicketError(field, f"{show(value)} is not a multiple of the {step_name}")
    return value


def collar_breach(ticket: OrderTicket, reference: int | None, collar: float) -> float | None:
    """How far a limit price is from ``reference`` (a fraction, signed) when beyond ``collar``; else None.

    The fat-finger check: the trading client asks before sending such an order.

    Args:
        ticket: the checked order (market orders have no price: never beyond).
        reference: the symbol's last trade or mid (None: nothing to compare with).
        collar: the largest distance sent without asking, as a fraction (0.1 is 10%; 0 turns the check off).
    """
    if ticket.price is None or reference is None or reference <= 0 or collar <= 0:
        return None
    distance = (ticket.price - reference) / reference
    return distance if abs(distance) > collar else None
