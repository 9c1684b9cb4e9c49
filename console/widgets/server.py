"""The server's numbers: clients, rates, journal, lags, memory, uptime."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from console.format import duration, megabytes, number, rate
from console.model import ConsoleModel

__all__ = ["ServerNumbers", "server_pairs"]

HALF = 20


def server_pairs(model: ConsoleModel) -> list[tuple[str, str]]:
    """(label, value) pairs in reading order (two per line)."""
    m = model.stats
    if m is None:
        return [("Waiting for stats", "")]
    failed = "-" if model.failed_logins is None else number(model.failed_logins)
    return [
        ("Clients", number(m.clients)),
        ("Uptime", duration(m.uptime_s)),
        ("Orders/s", rate(m.orders_per_s)),
        ("Trades/s", rate(m.trades_per_s)),
        ("Msgs out/s", rate(m.messages_out_per_s)),
        ("Loop lag", f"{m.loop_lag_ms:.1f} ms"),
        ("Journal seq", number(m.journal_seq)),
        ("Commit lag", f"{m.journal_lag_ms:.1f} ms"),
        ("Memory", megabytes(m.memory_rss_bytes)),
        ("Failed logins", failed),
    ]


class ServerNumbers(Widget):
    """Two columns of label/value pairs; repaints only when the text changes."""

    DEFAULT_CSS = """
    ServerNumbers { height: 5; width: 43; }
    ServerNumbers > .servernumbers--label { color: $text-muted; }
    ServerNumbers > .servernumbers--value { text-style: bold; }
    """
    COMPONENT_CLASSES = {"servernumbers--label", "servernumbers--value"}

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._pairs: list[tuple[str, str]] = []

    def show(self, pairs: list[tuple[str, str]]) -> None:
        """Show these pairs (two per line)."""
        if pairs != self._pairs:
            self._pairs = pairs
            self.refresh()

    def render(self) -> Text:
        label_style = self.get_component_rich_style("servernumbers--label")
        value_style = self.get_component_rich_style("servernumbers--value")
        text = Text()
        for i, (label, value) in enumerate(self._pairs):
            if i and i % 2 == 0:
                text.append("\n")
            elif i % 2 == 1:
                text.append("   ")
            text.append(label, style=label_style)
            text.append(value.rjust(HALF - len(label)), style=value_style)
        return text
