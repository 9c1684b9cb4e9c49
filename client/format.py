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
    "TIMES", "clock", "dollars", "number", "parse_dollars", "parse_price", "parse_qty", "parse_until", "price", "qty",
    "until",
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


def parse_until(text: str, now: dt.datetime) -> int:
    """A good-till-date expiry as typed, in local time, as ns since the epoch.

    ``15:30`` or ``15:30:45`` is that time today; ``2026-12-24 15:30`` a given day.

    Raises:
        ValueError: not one of those forms, or not after ``now``.
    """
    raw = " ".join(text.split())
    if not raw:
        raise ValueError("enter an expiry time, e.g. 15:30 or 2026-12-24 15:30")
    when: dt.datetime | None = None
    for form in ("%H:%M", "%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            parsed = dt.datetime.strptime(raw, form)
        except ValueError:
            continue
        when = parsed if "%Y" in form else dt.datetime.combine(now.date(), parsed.time())
        break
    if when is None:
        raise ValueError(f"{raw!r} is not a time: give 15:30, or a date and time like 2026-12-24 15:30")
    when = when.replace(tzinfo=now.tzinfo) if now.tzinfo is not None else when
    if when <= now:
        raise ValueError(f"{raw} has passed: give a later time (a date too for another day)")
    return int(when.timestamp()) * 1_000_000_000


def until(ts_ns: int, tz: dt.tzinfo | None = None) -> str:
    """An expiry as a person reads it: ``HH:MM`` when it is today (local), else ``YYYY-MM-DD HH:MM``."""
    when = dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz)
    today = dt.datetime.now(tz).date()
    return when.strftime("%H:%M" if when.date() == today else "%Y-%m-%d %H:%M")
