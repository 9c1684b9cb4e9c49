"""Text forms of the exchange's integers: prices and cash in cents, quantities, times.

Prices and cash are integer cents on the wire (``10125`` is 101.25); the screen
shows them with two decimals and the order entry parses them back without
floats.
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = ["TIMES", "clock", "money", "parse_price", "parse_qty", "price", "qty"]

TIMES: Final = "\u00d7"
"""The multiplication sign shown between a price and a quantity, as in ``101.25x40`` (price times quantity)."""


def price(cents: int | None) -> str:
    """``10125`` → ``"101.25"`` (``"-"`` for None)."""
    if cents is None:
        return "-"
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def money(cents: int) -> str:
    """Cash with thousands separators: ``123456789`` → ``"1,234,567.89"``."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d}"


def qty(shares: int) -> str:
    """A quantity with thousands separators."""
    return f"{shares:,}"


def clock(ts_ns: int) -> str:
    """Local wall time ``HH:MM:SS`` of a nanosecond timestamp."""
    return time.strftime("%H:%M:%S", time.localtime(ts_ns / 1e9))


def parse_price(text: str) -> int:
    """``"101.25"`` → ``10125`` (cents), exactly.

    Raises:
        ValueError: not a number, negative, or finer than a cent.
    """
    raw = text.strip().replace(",", "")
    if not raw:
        raise ValueError("enter a price")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{text.strip()!r} is not a price") from None
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{text.strip()} has more than 2 decimals")
    if cents <= 0:
        raise ValueError("the price must be positive")
    return int(cents)


def parse_qty(text: str) -> int:
    """``"1,000"`` → ``1000``.

    Raises:
        ValueError: not a positive whole number.
    """
    raw = text.strip().replace(",", "").replace("_", "")
    if not raw:
        raise ValueError("enter a quantity")
    if not raw.isdigit():
        raise ValueError(f"{text.strip()!r} is not a whole number of shares")
    value = int(raw)
    if value <= 0:
        raise ValueError("the quantity must be positive")
    return value
