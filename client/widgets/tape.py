"""A scrolling tape of events, newest on top, drawn with the Line API.

The tape does not own its entries: the app keeps them in its own model (a
bounded ``deque`` with ``appendleft``) and calls :meth:`Tape.show` at its
render rate with the sequence and a formatter. Only the visible lines are
formatted, so a tape of thousands of trades costs what its window shows.
When the reader has scrolled down to older entries, new ones arriving on top
do not move the view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["Tape"]

Formatter = Callable[[Any], Text]


class Tape(ScrollView, can_focus=True):
    """Newest-first event lines.

    Args:
        formatter: turns one entry into a one-line :class:`~rich.text.Text`.
        empty: what to show while there are no entries.
    """

    DEFAULT_CSS = """
    Tape { height: 1fr; overflow-x: hidden; }
    Tape > .tape--empty { color: $text-muted; text-style: italic; }
    """

    COMPONENT_CLASSES = {"tape--empty"}

    def __init__(
        self,
        formatter: Formatter = lambda entry: Text(str(entry)),
        *,
        empty: str = "nothing yet",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.formatter = formatter
        self.empty = empty
        self._entries: Sequence[Any] = ()
        self._version: object = None

    @property
    def entries(self) -> Sequence[Any]:
        """What the tape shows, newest first."""
        return self._entries

    def show(self, entries: Sequence[Any], *, version: object = None, added: int = 0) -> None:
        """Show ``entries`` (newest first); repaint unless ``version`` is unchanged.

        Args:
            entries: the sequence to show (kept by reference: the app may append to it).
            version: anything that changes when the entries do (e.g. a counter).
            added: entries added on top since the last call, to keep a scrolled view still.
        """
        if version is not None and version == self._version and entries is self._entries:
            return
        self._version = version
        self._entries = entries
        self.virtual_size = Size(self.size.width, len(entries))
        if added and self.scroll_y > 0:
            self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.rich_style
        index = int(self.scroll_y) + y
        entries = self._entries
        if not entries:
            if y == 0:
                text = Text(self.empty, style=self.get_component_rich_style("tape--empty"))
                return Strip(text.render(self.app.console), text.cell_len).crop_extend(0, width, style)
            return Strip.blank(width, style)
        if index >= len(entries):
            return Strip.blank(width, style)
        text = self.formatter(entries[index])
        text.no_wrap = True
        text.end = ""
        segments = [s for s in text.render(self.app.console) if s.text != "\n"]
        return Strip(Segment.apply_style(segments, style)).crop_extend(0, width, style)
