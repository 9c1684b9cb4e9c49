"""How the console writes numbers, money, times and tape lines (the common forms: :mod:`client.format`)."""

from __future__ import annotations

import datetime as dt

from rich.text import Text

from client import format as fmt
from client.format import clock, dollars, number, parse_dollars

__all__ = [
    "clock",
    "dollars",
    "duration",
    "megabytes",
    "number",
    "parse_dollars",
    "price",
    "rate",
    "tape_line",
]

KIND_STYLE = {
    "buy": "green",
    "sell": "red",
    "halt": "bold red",
    "resume": "bold green",
    "user": "cyan",
    "login": "dim",
    "security": "bold yellow",
    "admin": "bold cyan",
    "error": "bold red",
    "link": "yellow",
    "shutdown": "bold magenta",
}
"""Tape colour per event kind (see :class:`console.model.TapeEvent`)."""


def price(ticks: int | None) -> str:
    """A price in cents as ``1,101.25`` (``-`` when absent)."""
    return fmt.price(ticks, grouped=True)


def rate(value: float) -> str:
    """A per-second rate: ``812``, ``1.2k``, ``3.4M``."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:.1f}"


def megabytes(size: float) -> str:
    """Bytes as ``87.0 MiB``."""
    return f"{size / 1048576:,.1f} MiB"


def duration(seconds: float) -> str:
    """``3d 04:05:06``, ``04:05:06`` or ``05:06``."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    hms = f"{hours:02d}:{minutes:02d}:{secs:02d}" if hours or days else f"{minutes:02d}:{secs:02d}"
    return f"{days}d {hms}" if days else hms


def tape_line(ts_ns: int, kind: str, text: str, tz: dt.tzinfo | None = None) -> Text:
    """One tape line: time, a kind marker and the text, coloured by kind."""
    line = Text(clock(ts_ns, tz), style="dim")
    line.append(" ")
    line.append(text, style=KIND_STYLE.get(kind, ""))
    return line
