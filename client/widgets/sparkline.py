"""Sparklines and small block charts for terminal dashboards.

:func:`sparkline` turns a series into one line of block characters (it fits
in a table cell); :func:`chart_rows` draws a series several rows high with
eighth-blocks; :class:`SparkChart` is a widget showing a title, the latest
value and that chart. Used by the operator console and the trading client.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from rich.text import Text
from textual.widget import Widget

__all__ = ["BLOCKS", "SparkChart", "chart_rows", "sparkline"]

BLOCKS = "▁▂▃▄▅▆▇█"
"""The eight bar heights of a one-line sparkline, lowest first."""
_EIGHTHS = " ▁▂▃▄▅▆▇█"


def _clean(values: Iterable[float | None]) -> list[float | None]:
    return [None if v is None or math.isnan(v) else float(v) for v in values]


def _bounds(values: Sequence[float | None], lo: float | None, hi: float | None) -> tuple[float, float]:
    present = [v for v in values if v is not None]
    low = lo if lo is not None else (min(present) if present else 0.0)
    high = hi if hi is not None else (max(present) if present else 0.0)
    return low, high


def sparkline(
    values: Iterable[float | None], width: int | None = None, *, lo: float | None = None, hi: float | None = None
) -> str:
    """One line of block characters, one per value (the last ``width`` values).

    Args:
        values: the series, oldest first; None draws a blank (no data then).
        width: keep the last ``width`` values and pad on the left to that width.
        lo, hi: the range mapped to the lowest and highest block (default: the data's).

    Returns:
        A string of ``BLOCKS`` characters and spaces; a flat series draws the lowest block.
    """
    data = _clean(values)
    if width is not None:
        data = data[-width:] if width > 0 else []
    low, high = _bounds(data, lo, hi)
    span = high - low
    out = []
    for v in data:
        if v is None:
            out.append(" ")
        elif span <= 0:
            out.append(BLOCKS[0])
        else:
            level = round((min(max(v, low), high) - low) / span * (len(BLOCKS) - 1))
            out.append(BLOCKS[level])
    line = "".join(out)
    return line.rjust(width) if width is not None else line


def chart_rows(
    values: Iterable[float | None], width: int, height: int, *, lo: float | None = None, hi: float | None = None
) -> list[str]:
    """A bar chart ``height`` rows high of the last ``width`` values, top row first.

    Each column is one value drawn with eighth-blocks, so the resolution is
    ``8 * height`` levels. With no ``lo``, the baseline is zero for series that
    never go negative (a memory or rate chart should not exaggerate noise).

    Returns:
        ``height`` strings of exactly ``width`` characters.
    """
    if width <= 0 or height <= 0:
        return [""] * max(height, 0)
    data = _clean(values)[-width:]
    padding: list[float | None] = [None] * (width - len(data))
    data = padding + data
    present = [v for v in data if v is not None]
    low = lo if lo is not None else (0.0 if present and min(present) >= 0 else (min(present) if present else 0.0))
    high = hi if hi is not None else (max(present) if present else 0.0)
    span = high - low
    levels = height * 8
    heights = []
    for v in data:
        if v is None:
            heights.append(0)
        elif span <= 0:
            heights.append(1 if present and high > 0 else 0)
        else:
            heights.append(max(1, round((min(max(v, low), high) - low) / span * levels)))
    rows = []
    for row in range(height - 1, -1, -1):
        base = row * 8
        rows.append("".join(_EIGHTHS[min(8, max(0, h - base))] for h in heights))
    return rows


class SparkChart(Widget):
    """A titled chart of a series: ``title  latest`` on the first line, bars below.

    Call :meth:`set_data` with the series (oldest first); the widget repaints
    only when the data changed. The chart is as wide as the widget and as high
    as the widget minus the title line. With ``zero_based`` (the default) the
    bars start at zero; without, they span the data's own range (for a gauge
    such as memory, whose changes would not show against zero).
    """

    DEFAULT_CSS = """
    SparkChart { height: 4; }
    SparkChart > .sparkchart--title { text-style: bold; }
    SparkChart > .sparkchart--bars { color: $accent; }
    """

    COMPONENT_CLASSES = {"sparkchart--title", "sparkchart--bars"}

    def __init__(
        self,
        title: str,
        *,
        fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
        zero_based: bool = True,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.fmt = fmt
        self.zero_based = zero_based
        self._data: tuple[float | None, ...] = ()

    @property
    def data(self) -> tuple[float | None, ...]:
        """The series shown, oldest first."""
        return self._data

    def set_data(self, values: Iterable[float | None]) -> None:
        """Show this series (repaints only if it differs from the last one)."""
        data = tuple(values)
        if data != self._data:
            self._data = data
            self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        title_style = self.get_component_rich_style("sparkchart--title")
        bar_style = self.get_component_rich_style("sparkchart--bars")
        present = [v for v in self._data if v is not None]
        text = Text(self.title, style=title_style, no_wrap=True, overflow="crop")
        if present:
            latest = self.fmt(present[-1])
            text.append(" " * max(1, width - len(self.title) - len(latest)) + latest)
        lo = None
        if not self.zero_based and present:
            low, high = min(present), max(present)
            lo = low - (high - low) * 0.1 if high > low else low / 2  # flat: half height
        for line in chart_rows(self._data, width, max(height - 1, 0), lo=lo):
            text.append("\n")
            text.append(line, style=bar_style)
        return text
