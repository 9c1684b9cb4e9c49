"""The wallet in one line: cash (available and held), every position with its hold, and the P&L of the fills."""

from __future__ import annotations

from fractions import Fraction

from rich.text import Text
from textual.widgets import Static

from client import format as fmt
from client.trade.model import TradeModel

__all__ = ["BalanceBar"]


class BalanceBar(Static):
    """``Cash $9,898.75 ($1,898.75 held) │ P&L +$12.30 │ ACME 160 (50 held) │ …``.

    P&L is realised plus unrealised over the fills known (see :mod:`client.trade.pnl`); ``h`` shows the detail.
    """

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self._seen = -1
        self._text: Text | None = None

    def sync(self) -> None:
        """Repaint when what it shows changed."""
        model = self.model
        if model.version == self._seen:
            return
        self._seen = model.version
        text = self._line()
        if text != self._text:
            self._text = text
            self.update(text)

    def _line(self) -> Text:
        model = self.model
        balance = model.balance
        if balance is None:
            return Text("balance: loading…", style="dim")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("Cash ", style="bold")
        text.append(fmt.dollars(balance.cash))
        if balance.cash_held:
            text.append(" (", style="dim")
            text.append(fmt.dollars(balance.cash_held), style="yellow")
            text.append(" held)", style="dim")
        traded = model.positions()
        if traded:
            total = sum((p.realised + p.unrealised(model.reference_price(s)) for s, p in traded.items()), Fraction(0))
            cents = round(total)
            text.append(" │ P&L ", style="bold")
            text.append(("+" if cents > 0 else "") + fmt.dollars(cents),
                        style="green" if cents > 0 else "red" if cents < 0 else "")
        for symbol, pos in sorted(balance.positions.items()):
            if not pos.qty and not pos.held:
                continue
            text.append(" │ ", style="dim")
            text.append(symbol, style="bold" if symbol == model.symbol else "")
            text.append(f" {fmt.qty(pos.qty)}")
            if pos.held:
                text.append(" (", style="dim")
                text.append(fmt.qty(pos.held), style="yellow")
                text.append(" held)", style="dim")
        return text
