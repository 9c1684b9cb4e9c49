"""Checks an order ticket against the symbol's rules before anything is sent.

The server checks everything again (and has the last word: funds, positions,
halts); these checks catch typing mistakes at once, with the reason in words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from client import format as fmt
from exchange.bounds import MAX_PRICE, MAX_QTY
from exchange.types import OrderType, Side, TimeInForce

__all__ = [
    "LIMIT_TYPES", "MAX_VALUE", "RESTING_TIFS", "STOP_TYPES", "OrderTicket", "TicketError", "check_ticket",
    "checked_price", "checked_qty", "collar_breach", "describe_ticket",
]

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
    stop_price: int | None = None
    expire_ts: int | None = None
    display_qty: int | None = None


STOP_TYPES: Final[tuple[OrderType, ...]] = ("stop", "stop_limit")
"""Order types that wait for a trade through their stop price."""
LIMIT_TYPES: Final[tuple[OrderType, ...]] = ("limit", "stop_limit")
"""Order types with a limit price (they may rest, show part of their size, and expire on a date)."""
RESTING_TIFS: Final[tuple[TimeInForce, ...]] = ("gtc", "gtd")
"""Times in force whose remainder rests on the book (post-only and icebergs need one)."""


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
    stop_text: str = "",
    until_text: str = "",
    show_text: str = "",
    now: dt.datetime | None = None,
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
        stop_text: the stop price of a stop or stop-limit order.
        until_text: when a good-till-date order expires (``15:30``, ``2026-12-24 15:30``; local time).
        show_text: the part of the size shown in the book (an iceberg); empty shows all of it.
        now: the local time ``until_text`` is read against (default: now).

    Returns:
        The ticket.

    Raises:
        TicketError: what is wrong, and which field (``price``, ``qty``, ``stop``, ``until``, ``show``,
            ``type``, ``symbol``).
    """
    if halted:
        raise TicketError("symbol", f"{symbol} is halted: new orders are refused (cancels still work)")
    shares = checked_qty("qty", qty_text, lot)
    cents: int | None = None
    if type in LIMIT_TYPES:
        cents = checked_price("price", price_text, tick)
    stop: int | None = None
    if type in STOP_TYPES:
        stop = checked_price("stop", stop_text, tick)
    if post_only and (type != "limit" or tif not in RESTING_TIFS):
        raise TicketError("type", "post-only needs a limit GTC or GTD order")
    expire_ts: int | None = None
    if tif == "gtd":
        if type not in LIMIT_TYPES:
            raise TicketError("type", "good-till-date needs a limit or stop-limit order")
        try:
            expire_ts = fmt.parse_until(until_text, now or dt.datetime.now().astimezone())
        except ValueError as exc:
            raise TicketError("until", str(exc)) from None
    display: int | None = None
    if show_text.strip():
        if type not in LIMIT_TYPES or tif not in RESTING_TIFS:
            raise TicketError("show", "only a resting (GTC or GTD) limit or stop-limit order can hide part of its size")
        display = checked_qty("show", show_text, lot)
        if display >= shares:
            raise TicketError("show", f"show less than the whole order ({fmt.qty(shares)}), or leave it empty")
    return OrderTicket(symbol=symbol, side=side, qty=shares, price=cents, type=type, tif=tif, post_only=post_only,
                       stop_price=stop, expire_ts=expire_ts, display_qty=display)


def checked_price(field: str, text: str, tick: int | None) -> int:
    """A price typed in dollars, as cents: at most :data:`MAX_VALUE`, on the tick (when known)."""
    return _checked(field, text, fmt.parse_price, fmt.price, step=tick, step_name=f"tick {fmt.price(tick)}")


def checked_qty(field: str, text: str, lot: int | None) -> int:
    """A quantity typed: a whole positive number, at most :data:`MAX_VALUE`, a multiple of the lot (when known)."""
    return _checked(field, text, fmt.parse_qty, fmt.qty, step=lot, step_name=f"lot {lot}", unit=" shares")


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
        reference: the symbol's last trade or mid (None: nothing to compare with); a stop-limit order's
            limit is compared with its own stop price instead (the market it will meet when it triggers).
        collar: the largest distance sent without asking, as a fraction (0.1 is 10%; 0 turns the check off).
    """
    if ticket.type == "stop_limit":
        reference = ticket.stop_price
    if ticket.price is None or reference is None or reference <= 0 or collar <= 0:
        return None
    distance = (ticket.price - reference) / reference
    return distance if abs(distance) > collar else None


def describe_ticket(t: OrderTicket) -> str:
    """The order in words, e.g. ``buy 10 ACME @ 101.20 when 101.00 trades, showing 2, until 15:30``."""
    where = f"@ {fmt.price(t.price)}" if t.price is not None else "at market"
    text = f"{t.side} {fmt.qty(t.qty)} {t.symbol} {where}"
    if t.stop_price is not None:
        text += f" when {fmt.price(t.stop_price)} trades"
    if t.display_qty is not None:
        text += f", showing {fmt.qty(t.display_qty)}"
    if t.expire_ts is not None:
        text += f", until {fmt.until(t.expire_ts)}"
    elif t.tif != "gtc":
        text += f" {t.tif.upper()}"
    return text + (" post-only" if t.post_only else "")
