"""The wallet in one line: cash (available and held) and every position with its hold."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from client import format as fmt
from client.trade.model import TradeModel
from exchange.protocol import BalanceReply

__all__ = ["BalanceBar"]


class BalanceBar(Static):
    """``Cash $9,898.75 ($1,898.75 held) │ ACME 160 (50 held) │ …``: totals, and what open orders hold."""

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self._seen: BalanceReply | None = None

    def sync(self) -> None:
        """Repaint when a new ``balance`` reply arrived."""
        balance = self.model.balance
        if balance is self._seen and self._seen is not None:
            return
        self._seen = balance
        if balance is None:
            self.update(Text("balance: loading…", style="dim"))
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("Cash ", style="bold")
        text.append(fmt.dollars(balance.cash))
        if balance.cash_held:
            text.append(" (", style="dim")
            text.append(fmt.dollars(balance.cash_held), style="yellow")
            text.append(" held)", style="dim")
        for symbol, pos in sorted(balance.positions.items()):
            if not pos.qty and not pos.held:
                continue
            text.append(" │ ", style="dim")
            text.append(symbol, style="bold" if symbol == self.model.symbol else "")
            text.append(f" {fmt.qty(pos.qty)}")
            if pos.held:
                text.append(" (", style="dim")
                text.append(fmt.qty(pos.held), style="yellow")
                text.append(" held)", style="dim")
        self.update(text)
