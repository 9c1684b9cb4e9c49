"""The trade tape of the shown symbol: every trade, newest first, coloured by the taker's side."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from client.trade import format as fmt
from client.trade.model import TradeModel

__all__ = ["TradeTape"]


class TradeTape(Static):
    """Time, price, quantity and ▲ (buyer took) / ▼ (seller took) per trade."""

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.border_title = "Tape"
        self._seen: tuple[str, int, int] | None = None

    def sync(self) -> None:
        """Repaint when a trade arrived (or the symbol changed)."""
        book = self.model.book
        trades = book.trades if book is not None else ()
        key = (self.model.symbol, len(trades), trades[-1].trade_id if trades else 0)
        if key == self._seen:
            return
        self._seen = key
        self.border_title = f"Tape {self.model.symbol}"
        if not trades:
            self.update(Text("no trades yet", style="dim"))
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        rows = max(1, self.size.height or 10)
        for i, trade in enumerate(reversed(trades)):
            if i >= rows:
                break
            if i:
                text.append("\n")
            up = trade.taker_side == "buy"
            text.append(f"{fmt.clock(trade.ts)} ", style="dim")
            text.append(f"{fmt.price(trade.price):>9} ", style="green" if up else "red")
            text.append(f"{fmt.qty(trade.qty):>7} ")
            text.append("▲" if up else "▼", style="green" if up else "red")
        self.update(text)

    def on_resize(self) -> None:
        self._seen = None
        self.sync()
