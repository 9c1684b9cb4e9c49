"""A one-line bar saying whether the app's link to the exchange is up, and since when."""

from __future__ import annotations

import time

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from client.live import LinkState

__all__ = ["LinkBar"]

_STYLE = {
    LinkState.UP: ("● connected", "bold green"),
    LinkState.CONNECTING: ("◌ connecting", "bold yellow"),
    LinkState.DOWN: ("○ disconnected", "bold red"),
    LinkState.FAILED: ("✗ failed", "bold red"),
    LinkState.CLOSED: ("○ closed", "dim"),
}


class LinkBar(Widget):
    """Link state, the server, data age (stale after ``stale_after`` s) and the last notice.

    Call :meth:`set_link` from ``LiveConnection.on_state`` and :meth:`touch` on
    every message; the bar repaints once a second on its own.
    """

    DEFAULT_CSS = """
    LinkBar { height: 1; padding: 0 1; background: $panel; }
    """

    state: reactive[LinkState] = reactive(LinkState.CONNECTING)
    detail: reactive[str] = reactive("")

    def __init__(self, url: str = "", *, stale_after: float = 3.0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.url = url
        self.stale_after = stale_after
        self.last_data = 0.0
        self.notice = ""

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh)

    def set_link(self, state: LinkState, detail: str = "") -> None:
        """The link changed (from ``LiveConnection.on_state``)."""
        self.state = state
        self.detail = detail

    def set_notice(self, text: str) -> None:
        """Show a server notice (e.g. ``shutdown``) until the next one."""
        self.notice = text
        self.refresh()

    def touch(self) -> None:
        """Data just arrived."""
        self.last_data = time.monotonic()

    @property
    def stale(self) -> bool:
        """Whether data is older than ``stale_after`` while the link claims to be up."""
        return self.state is LinkState.UP and self.last_data > 0 and (
            time.monotonic() - self.last_data > self.stale_after)

    def render(self) -> Text:
        label, style = _STYLE[self.state]
        text = Text.assemble((label, style), "  ", (self.url, "dim"))
        if self.stale:
            text.append(f"  STALE {time.monotonic() - self.last_data:.0f}s", style="bold yellow")
        if self.notice:  # before the detail: on a narrow terminal the notice matters more
            text.append(f"  ⚠ {self.notice}", style="bold magenta")
        if self.detail:
            text.append(f"  {self.detail}", style="italic")
        return text
