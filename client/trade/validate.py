"""Checks an order ticket against the symbol's rules before anything is sent.

The server checks everything again (and has the last word: funds, positions,
halts); these checks catch typing mistakes at once, with the reason in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from client.trade import format as fmt

__all__ = ["MAX_VALUE", "OrderTicket", "TicketError", "check_ticket"]

MAX_VALUE: Final = 1_000_000_000
"""Largest price (ticks) and quantity the protocol accepts."""

Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
Tif = Literal["gtc", "ioc", "fok"]


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
    tif: Tif = "gtc"
    post_only: bool = False


def check_ticket(
    *,
    symbol: str,
    side: Side,
    price_text: str,
    qty_text: str,
    type: OrderType = "limit",
    tif: Tif = "gtc",
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
    try:
        shares = fmt.parse_qty(qty_text)
    except ValueError as exc:
        raise TicketError("qty", str(exc)) from None
    if shares > MAX_VALUE:
        raise TicketError("qty", f"at most {fmt.qty(MAX_VALUE)} shares")
    if lot and shares % lot:
        raise TicketError("qty", f"{fmt.qty(shares)} is not a multiple of the lot {lot}")
    cents: int | None = None
    if type == "limit":
        try:
            cents = fmt.parse_price(price_text)
        except ValueError as exc:
            raise TicketError("price", str(exc)) from None
        if cents > MAX_VALUE:
            raise TicketError("price", f"at most {fmt.price(MAX_VALUE)}")
        if tick and cents % tick:
            raise TicketError("price", f"{fmt.price(cents)} is not a multiple of the tick {fmt.price(tick)}")
    if post_only and (type != "limit" or tif != "gtc"):
        raise TicketError("type", "post-only needs a limit GTC order")
    return OrderTicket(symbol=symbol, side=side, qty=shares, price=cents, type=type, tif=tif, post_only=post_only)
