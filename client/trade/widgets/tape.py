"""The trade tape of the shown symbol: every trade, newest first, coloured by the taker's side.

Also :class:`FeedTape`, what the trade tape and the fills panel share: the
shared :class:`~client.widgets.tape.Tape` over a sequence of the model kept
newest last, wrapping long lines, showing the newest that fit (no scrolling).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from client import format as fmt
from client.trade.model import TradeModel
from client.widgets.tape import Formatter, Tape
from exchange.protocol import TradeMessage

__all__ = ["FeedTape", "TradeTape", "trade_line"]


class FeedTape(Tape, can_focus=False):
    """One of the trading screen's feeds: :meth:`feed` says what to show, :meth:`sync` shows it."""

    DEFAULT_CSS = "FeedTape { overflow-y: hidden; }"

    def __init__(self, model: TradeModel, formatter: Formatter, *, title: str, empty: str,
                 id: str | None = None) -> None:
        super().__init__(formatter, empty=Text(empty, style="dim"), wrap=True, id=id)
        self.model = model
        self.border_title = title

    def feed(self) -> tuple[Sequence[Any], object]:
        """The entries (newest last) and what changes when they do."""
        raise NotImplementedError

    def sync(self) -> None:
        """Repaint when the feed changed."""
        entries, version = self.feed()
        self.show(entries, version=version, newest_last=True)


def trade_line(trade: TradeMessage) -> Text:
    """Time, price, quantity and ▲ (buyer took) / ▼ (seller took)."""
    up = trade.taker_side == "buy"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{fmt.clock(trade.ts)} ", style="dim")
    text.append(f"{fmt.price(trade.price):>9} ", style="green" if up else "red")
    text.append(f"{fmt.qty(trade.qty):>7} ")
    text.append("▲" if up else "▼", style="green" if up else "red")
    return text


class TradeTape(FeedTape):
    """The shown book's trades, one :func:`trade_line` each."""

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(model, trade_line, title="Tape", empty="no trades yet", id=id)

    def feed(self) -> tuple[Sequence[TradeMessage], object]:
        book = self.model.book
        trades = book.trades if book is not None else ()
        title = f"Tape {self.model.symbol}"
        if self.border_title != title:
            self.border_title = title
        return trades, (self.model.symbol, len(trades), trades[-1].trade_id if trades else 0)
