"""A scrolling tape of events, newest on top, drawn with the Line API.

The tape does not own its entries: the app keeps them in its own model (a
bounded ``deque``, with ``appendleft`` or, shown with ``newest_last``, with
``append``) and calls :meth:`Tape.show` at its render rate with the sequence
and a formatter. Only the visible lines are formatted, so a tape of thousands
of trades costs what its window shows. When the reader has scrolled down to
older entries, new ones arriving on top do not move the view.

With ``wrap``, an entry wider than the tape goes on over more lines (as in a
``Static``) instead of being cut at the edge; every entry is then formatted
when the entries or the width change, so that is for short tapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual, visualize

__all__ = ["Tape"]

Formatter = Callable[[Any], Text]


class Tape(ScrollView, can_focus=True):
    """Newest-first event lines.

    Args:
        formatter: turns one entry into a one-line :class:`~rich.text.Text`.
        empty: what to show while there are no entries (a plain string takes the
            ``tape--empty`` style).
        wrap: wrap entries wider than the tape onto the next lines.
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
        empty: str | Text = "nothing yet",
        wrap: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.formatter = formatter
        self.empty = empty
        self.wrap = wrap
        self._entries: Sequence[Any] = ()
        self._newest_last = False
        self._version: object = None
        self._wrapped: tuple[int, list[Strip]] | None = None
        """With ``wrap``: the width and the lines."""

    @property
    def entries(self) -> Sequence[Any]:
        """What the tape shows, as given to :meth:`show`."""
        return self._entries

    def entry(self, index: int) -> Any:
        """The ``index``-th entry from the top (0: the newest)."""
        return self._entries[-1 - index] if self._newest_last else self._entries[index]

    def show(
        self, entries: Sequence[Any], *, version: object = None, added: int = 0, newest_last: bool = False
    ) -> None:
        """Show ``entries`` (newest first); repaint unless ``version`` is unchanged.

        Args:
            entries: the sequence to show (kept by reference: the app may append to it).
            version: anything that changes when the entries do (e.g. a counter).
            added: entries added on top since the last call, to keep a scrolled view still.
            newest_last: the sequence is oldest first (shown the other way up).
        """
        if version is not None and version == self._version and entries is self._entries:
            return
        self._version = version
        self._entries = entries
        self._newest_last = newest_last
        self._wrapped = None
        self._set_virtual_size()
        if added and self.scroll_y > 0:
            self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)
        self.refresh()

    def on_resize(self) -> None:
        if self.wrap:
            self._set_virtual_size()

    def _set_virtual_size(self) -> None:
        lines = len(self._wrapped_lines()) if self.wrap and self.size.width else len(self._entries)
        self.virtual_size = Size(self.size.width, lines)

    def _wrapped_lines(self) -> list[Strip]:
        """Every entry's lines, wrapped at the width (``wrap``), rendered as a ``Static`` renders text."""
        width = self.size.width
        if self._wrapped is None or self._wrapped[0] != width:
            texts = [self.formatter(self.entry(i)) for i in range(len(self._entries))] or [self._empty_text()]
            strips: list[Strip] = []
            for row, text in enumerate(texts):
                lines = Visual.to_strips(self, visualize(self, text), width, None, self.visual_style)
                strips += [_offset_rows(line, row) for line in lines] if row else lines
            self._wrapped = (width, strips)
        return self._wrapped[1]

    def _empty_text(self) -> Text:
        if isinstance(self.empty, Text):
            return self.empty
        return Text(self.empty, style=self.get_component_rich_style("tape--empty"))

    def render(self) -> Text:
        """The entries, one a line and unwrapped: with ``wrap`` all of them (as a ``Static`` holds its
        text, for selecting with the mouse), else those in view (to read what the tape shows)."""
        count = len(self._entries)
        if not count:
            return self._empty_text()
        shown = range(count) if self.wrap else range(
            int(self.scroll_y), min(count, int(self.scroll_y) + max(1, self.size.height)))
        return Text("\n").join(self.formatter(self.entry(i)) for i in shown)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = int(self.scroll_y) + y
        if self.wrap:
            lines = self._wrapped_lines()
            return lines[index] if index < len(lines) else Strip.blank(width, self.visual_style.rich_style)
        style = self.rich_style
        entries = self._entries
        if not entries:
            if y == 0:
                text = self._empty_text()
                return Strip(text.render(self.app.console), text.cell_len).crop_extend(0, width, style)
            return Strip.blank(width, style)
        if index >= len(entries):
            return Strip.blank(width, style)
        text = self.formatter(self.entry(index))
        text.no_wrap = True
        text.end = ""
        segments = [s for s in text.render(self.app.console) if s.text != "\n"]
        return Strip(Segment.apply_style(segments, style)).crop_extend(0, width, style)


def _offset_rows(strip: Strip, rows: int) -> Strip:
    """``strip`` with its text-selection offsets ``rows`` lines down (its entry's line in :meth:`Tape.render`)."""
    segments = []
    for text, style, control in strip:
        offset = style.meta.get("offset") if style is not None else None
        if style is not None and offset is not None:
            style += Style.from_meta({"offset": (offset[0], offset[1] + rows)})
        segments.append(Segment(text, style, control))
    return Strip(segments, strip.cell_length)
