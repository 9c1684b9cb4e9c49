"""The trader's recent fills, newest first, every symbol: this session's, and the history's from the server."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from client import format as fmt
from client.trade.model import AnyFill, TradeModel
from client.trade.widgets.tape import FeedTape

__all__ = ["FillsPanel", "fill_line"]


def fill_line(fill: AnyFill) -> Text:
    """Time, side, quantity, symbol, price, maker/taker, order id."""
    buy = fill.side == "buy"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{fmt.clock(fill.ts)} ", style="dim")
    text.append("B " if buy else "S ", style="bold green" if buy else "bold red")
    text.append(f"{fmt.qty(fill.qty)} {fill.symbol} @{fmt.price(fill.price)} ")
    text.append("M" if fill.liquidity == "maker" else "T", style="dim")
    text.append(f" #{fill.order_id}", style="dim")
    return text


class FillsPanel(FeedTape):
    """The trader's fills, one :func:`fill_line` each."""

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(model, fill_line, title="Fills", empty="no fills yet", id=id)

    def feed(self) -> tuple[Sequence[AnyFill], object]:
        fills = self.model.fills
        return fills, (len(fills), fills[0].trade_id if fills else 0, fills[-1].trade_id if fills else 0)
