"""A DataTable fed whole snapshots that touches only the cells that changed.

Subclasses declare their :class:`Column` s; :meth:`LiveTable.sync` takes the
rows as ``{row key: {column key: cell}}`` and adds, removes or updates rows
and cells by difference, never re-measuring column widths. Columns marked
``narrow=False`` are left out when the table is narrower than
``WIDE_AT`` cells (the table is rebuilt when it crosses that width); a column
marked ``grow=True`` takes the width the others leave free (rebuilt when that
changes), so long names are not cut while there is room.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.widgets import DataTable

__all__ = ["Column", "LiveTable"]

Cell = str | Text


@dataclass(frozen=True)
class Column:
    """One column: its key, header, fixed width and whether it stays when narrow."""

    key: str
    label: str
    width: int
    narrow: bool = True
    right: bool = False
    grow: bool = False


class LiveTable(DataTable[Cell]):
    """A table redrawn from snapshots, cell by cell."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    WIDE_AT: ClassVar[int] = 100

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True, show_cursor=False)
        self._cells: dict[str, dict[str, Cell]] = {}
        self._wide: bool | None = None
        self._widths: tuple[int, ...] = ()
        self._last: Mapping[str, Mapping[str, Cell]] = {}

    @property
    def wide(self) -> bool:
        """Whether all columns are shown."""
        return bool(self._wide)

    def _columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.COLUMNS if self._wide or c.narrow)

    def _layout(self, width: int, wide: bool) -> tuple[int, ...]:
        """Each shown column's width at ``width`` cells: the declared ones, the free cells to ``grow`` columns."""
        columns = [c for c in self.COLUMNS if wide or c.narrow]
        growing = [c for c in columns if c.grow]
        # cell padding, and room for a vertical scrollbar (so a growing column never adds a horizontal one)
        padding = 2 * self.cell_padding * len(columns) + self.styles.scrollbar_size_vertical
        free = max(0, width - sum(c.width for c in columns) - padding)
        share = free // len(growing) if growing else 0
        return tuple(c.width + share if c.grow else c.width for c in columns)

    def _build(self, wide: bool, width: int) -> None:
        self._wide = wide
        self._widths = self._layout(width, wide)
        self.clear(columns=True)
        self._cells = {}
        for c, w in zip(self._columns(), self._widths, strict=True):
            label = Text(c.label, justify="right") if c.right else Text(c.label)
            self.add_column(label, width=w, key=c.key)
        if self._last:
            self.sync(self._last)

    def on_mount(self) -> None:
        width = self.size.width
        self._build(width >= self.WIDE_AT if width else True, width)

    def on_resize(self, event: events.Resize) -> None:
        width = event.size.width
        wide = width >= self.WIDE_AT
        if wide != self._wide or self._layout(width, wide) != self._widths:
            self._build(wide, width)

    def sync(self, rows: Mapping[str, Mapping[str, Cell]]) -> None:
        """Make the table show ``rows`` (in their order), changing only what differs.

        Call it inside ``app.batch_update()`` so the changes paint once.
        """
        self._last = rows
        if self._wide is None:
            return
        columns = self._columns()
        if [k for k in self._cells if k in rows] != [k for k in rows if k in self._cells]:
            self.clear()  # the order moved (rare: a symbol listed, a session sorted in)
            self._cells = {}
        for key in [k for k in self._cells if k not in rows]:
            self.remove_row(key)
            del self._cells[key]
        appended = False
        for key, cells in rows.items():
            shown = self._cells.get(key)
            if shown is None:
                self.add_row(*(_align(c, cells.get(c.key, "")) for c in columns), key=key)
                self._cells[key] = {c.key: cells.get(c.key, "") for c in columns}
                appended = True
                continue
            for c in columns:
                value = cells.get(c.key, "")
                if shown.get(c.key) != value:
                    shown[c.key] = value
                    self.update_cell(key, c.key, _align(c, value))
        if appended and list(self._cells) != list(rows):
            self.clear()
            self._cells = {}
            self.sync(rows)


def _align(column: Column, value: Cell) -> Cell:
    """Right-align the cells of a right-aligned column."""
    if not column.right:
        return value
    if isinstance(value, Text):
        text = value.copy()
        text.justify = "right"
        return text
    return Text(value, justify="right")
