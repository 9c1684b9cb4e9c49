"""Money as people read and type it: dollars with cents. The wire, the engine and the stores keep integer cents.

The one place where cents become text and text becomes cents, for the CLI, the
operator console, the trading client, the server's operator events and its refusal
messages. Prices are cents too (a tick is a cent by default), shown the same way
without the dollar sign. No floats anywhere: ``Decimal`` parses, ``divmod`` formats.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["dollars", "parse_dollars", "parse_price", "price"]


def price(cents: int | None, *, grouped: bool = False) -> str:
    """``10125`` → ``"101.25"`` (``"-"`` for None); ``grouped``: with thousands separators (``1,101.25``)."""
    if cents is None:
        return "-"
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d}" if grouped else f"{sign}{whole}.{frac:02d}"


def dollars(cents: int) -> str:
    """Cash as a person reads it: ``123456789`` → ``"$1,234,567.89"``, ``-500`` → ``"-$5.00"``."""
    text = price(cents, grouped=True)
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def _cents(text: str, what: str, example: str) -> int:
    """``text`` (``1,000.5``, ``$12.34``, ``1_000``) as exact cents; ValueError in words otherwise."""
    shown = text.strip()
    raw = shown.replace(",", "").replace("_", "").removeprefix("$")
    if not raw:
        raise ValueError(f"enter {what}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{shown!r} is not {what} (e.g. {example})") from None
    if not value.is_finite():
        raise ValueError(f"{shown!r} is not {what} (e.g. {example})")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{shown} has more than 2 decimals (cents are the smallest unit)")
    return int(cents)


def parse_dollars(text: str) -> int:
    """Dollars as typed (``1000``, ``1,000.50``, ``$12.34``) to cents, exactly; zero allowed.

    Raises:
        ValueError: empty, not an amount, negative, or finer than a cent (the message says which).
    """
    cents = _cents(text, "an amount of dollars", "1000 or 1,000.50")
    if cents < 0:
        raise ValueError(f"{text.strip()} is negative: amounts are 0 or more")
    return cents


def parse_price(text: str) -> int:
    """``"101.25"`` → ``10125`` (cents), exactly.

    Raises:
        ValueError: empty, not a number, not positive, or finer than a cent.
    """
    cents = _cents(text, "a price", "101.25")
    if cents <= 0:
        raise ValueError("the price must be positive")
    return cents
