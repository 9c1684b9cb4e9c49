"""Text forms of the exchange's integers, shared by the console and the trading client.

Prices and cash are integer cents on the wire (``10125`` is 101.25); the screens
show them with two decimals and parse them back without floats — through
:mod:`exchange.money`, the one module that turns cents into text and back. Quantities and
counts get thousands separators; timestamps (ns since the epoch) read as wall
time.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from exchange.money import dollars, parse_dollars, parse_price, price

__all__ = [
    "TIMES", "clock", "dollars", "number", "parse_dollars", "parse_price", "parse_qty", "price", "qty",
]

TIMES: Final = "\u00d7"
"""The multiplication sign shown between a price and a quantity, as in ``101.25x40`` (price times quantity)."""


def number(value: int | None) -> str:
    """An integer with thousands separators (``"-"`` for None)."""
    return "-" if value is None else f"{value:,}"


qty = number
"""A quantity with thousands separators."""


def clock(ts_ns: int, tz: dt.tzinfo | None = None) -> str:
    """Wall time ``HH:MM:SS`` of a nanosecond timestamp, in ``tz`` (default: local)."""
    return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz).strftime("%H:%M:%S")


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
