"""The trader's recent fills, newest first, every symbol."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from client.trade import format as fmt
from client.trade.model import TradeModel

__all__ = ["FillsPanel"]


class FillsPanel(Static):
    """One line per fill: time, side, quantity, symbol, price, maker/taker, order id."""

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.border_title = "Fills"
        self._seen: tuple[int, int] | None = None

    def sync(self) -> None:
        """Repaint when a fill arrived."""
        fills = self.model.fills
        key = (len(fills), fills[-1].trade_id if fills else 0)
        if key == self._seen and self._seen is not None:
            return
        self._seen = key
        if not fills:
            self.update(Text("no fills yet", style="dim"))
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        rows = max(1, self.size.height or 8)
        for i, fill in enumerate(reversed(fills)):
            if i >= rows:
                break
            if i:
                text.append("\n")
            text.append(f"{fmt.clock(fill.ts)} ", style="dim")
            buy = fill.side == "buy"
            text.append("B " if buy else "S ", style="bold green" if buy else "bold red")
            text.append(f"{fmt.qty(fill.qty)} {fill.symbol} @{fmt.price(fill.price)} ")
            text.append("M" if fill.liquidity == "maker" else "T", style="dim")
            text.append(f" #{fill.order_id}", style="dim")
        self.update(text)

    def on_resize(self) -> None:
        self._seen = None
        self.sync()
