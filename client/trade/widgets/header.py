"""The top line: who trades, the shown symbol, its rules, best bid/ask and last trade."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from client import format as fmt
from client.trade.model import TradeModel

__all__ = ["SymbolHeader"]


class SymbolHeader(Widget):
    """``alice · ACME · bid 101.20x40  ask 101.30x12  last 101.25x3`` (quantities after the sign)."""

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self._seen = -1
        self._text = Text()

    def render(self) -> Text:
        return self._text

    def sync(self) -> None:
        """Repaint if the model changed."""
        model = self.model
        if model.version == self._seen:
            return
        self._seen = model.version
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" exch ", style="bold reverse")
        text.append(f" {model.user or '-'} ", style="bold")
        text.append("· ")
        text.append(model.symbol or "-", style="bold underline")
        rules = model.rules
        if rules is not None and rules.status != "trading":
            text.append(f" {rules.status.upper()}", style="bold reverse red")
        book = model.book
        if book is not None:
            bid, ask = book.best_bid(), book.best_ask()
            text.append("  bid ", style="dim")
            text.append(f"{fmt.price(bid[0])}{fmt.TIMES}{fmt.qty(bid[1])}" if bid else "-", style="green")
            text.append("  ask ", style="dim")
            text.append(f"{fmt.price(ask[0])}{fmt.TIMES}{fmt.qty(ask[1])}" if ask else "-", style="red")
        last = model.last_trade
        if last is not None:
            text.append("  last ", style="dim")
            text.append(f"{fmt.price(last.price)}{fmt.TIMES}{fmt.qty(last.qty)}", style="yellow")
        if model.resyncs:
            text.append(f"  resyncs {model.resyncs}", style="yellow")
        if text != self._text:
            self._text = text
            self.refresh()  # one line, fixed size: no layout
