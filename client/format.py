"""Text forms of the exchange's integers, shared by the console and the trading client.

Prices and cash are integer cents on the wire (``10125`` is 101.25); the screens
show them with two decimals and parse them back without floats. Quantities and
counts get thousands separators; timestamps (ns since the epoch) read as wall
time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = ["TIMES", "clock", "money", "number", "parse_price", "parse_qty", "price", "qty"]

TIMES: Final = "\u00d7"
"""The multiplication sign shown between a price and a quantity, as in ``101.25x40`` (price times quantity)."""


def price(cents: int | None, *, grouped: bool = False) -> str:
    """``10125`` → ``"101.25"`` (``"-"`` for None); ``grouped``: with thousands separators."""
    if cents is None:
        return "-"
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d}" if grouped else f"{sign}{whole}.{frac:02d}"


def money(cents: int) -> str:
    """Cash with thousands separators: ``123456789`` → ``"1,234,567.89"``."""
    return price(cents, grouped=True)


def number(value: int | None) -> str:
    """An integer with thousands separators (``"-"`` for None)."""
    return "-" if value is None else f"{value:,}"


qty = number
"""A quantity with thousands separators."""


def clock(ts_ns: int, tz: dt.tzinfo | None = None) -> str:
    """Wall time ``HH:MM:SS`` of a nanosecond timestamp, in ``tz`` (default: local)."""
    return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz).strftime("%H:%M:%S")


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
