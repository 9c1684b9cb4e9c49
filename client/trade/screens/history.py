"""History and P&L: positions with average price and profit, finished orders and fills, older pages on request.

Everything comes from the model: the fills of this session and the pages of
``history`` the link loaded (the newest at login, older ones with ``m``). P&L is
average-cost over those fills (see :mod:`client.trade.pnl`), marked at each
symbol's last trade; shares given by the operator are in the wallet, not in P&L.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from client import format as fmt
from client.errors import ClientError
from client.trade.model import TradeModel

if TYPE_CHECKING:
    from client.trade.app import TradeApp

__all__ = ["SHOWN_FILLS", "HistoryScreen", "signed_money"]

SHOWN_FILLS = 1000
"""Newest fills listed (P&L counts every fill loaded)."""


def signed_money(cents: Fraction) -> Text:
    """``+$12.30`` in green, ``-$4.00`` in red (rounded to the cent), ``$0.00`` plain."""
    whole = round(cents)
    text = fmt.dollars(whole)
    return Text(f"+{text}" if whole > 0 else text, style="green" if whole > 0 else "red" if whole < 0 else "")


def _average(value: Fraction | None) -> str:
    return "-" if value is None else fmt.price(round(value))


class HistoryScreen(Screen[None]):
    """Positions and P&L, finished orders, fills (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,h", "app.pop_screen", "Back", id="history.back"),
        Binding("m", "more", "Older fills", id="history.more"),
    ]

    def __init__(self, model: TradeModel, *, repaint_hz: float = 4.0) -> None:
        super().__init__()
        self.model = model
        self.repaint_hz = repaint_hz
        self._seen = -1
        self._ledger_seen: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="history-box"):
            yield Static(id="history-title")
            positions: DataTable[str | Text] = DataTable(id="positions", cursor_type="none", zebra_stripes=True)
            positions.border_title = "Positions and P&L (average cost, marked at the last trade)"
            yield positions
            finished: DataTable[str | Text] = DataTable(id="finished", cursor_type="row", zebra_stripes=True)
            finished.border_title = "Finished orders"
            yield finished
            fills: DataTable[str | Text] = DataTable(id="history-fills", cursor_type="row", zebra_stripes=True)
            fills.border_title = "Fills (newest first)"
            yield fills
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#positions", DataTable).add_columns(
            "Symbol", "Wallet", "Traded", "Avg price", "Mark", "Realised", "Unrealised")
        self.query_one("#finished", DataTable).add_columns("Time", "Order", "Side", "Symbol", "Filled", "Avg price")
        self.query_one("#history-fills", DataTable).add_columns(
            "Time", "Side", "Qty", "Symbol", "Price", "M/T", "Order")
        self.sync()
        self.set_interval(1.0 / self.repaint_hz, self.sync)

    def sync(self) -> None:
        """Repaint when the model changed."""
        model = self.model
        if model.version == self._seen:
            return
        self._seen = model.version
        balance = model.balance
        wallet = balance.positions if balance is not None else {}
        table = self.query_one("#positions", DataTable)
        table.clear()
        total = Fraction(0)
        for symbol, pos in sorted(model.positions().items()):
            unrealised = pos.unrealised(model.reference_price(symbol))
            total += pos.realised + unrealised
            held = wallet.get(symbol)
            table.add_row(Text(symbol, style="bold"), fmt.qty(held.qty) if held else "-", f"{pos.qty:+,}",
                          _average(pos.average), fmt.price(model.reference_price(symbol)),
                          signed_money(pos.realised), signed_money(unrealised))
        title = Text.assemble(("History and P&L", "bold"), f"  {model.user or ''}  total P&L ", signed_money(total),
                              f"  ·  {len(model.ledger):,} fill{'' if len(model.ledger) == 1 else 's'} loaded",
                              ("" if model.history_next is None else " (m: older)", "dim"))
        self.query_one("#history-title", Static).update(title)
        ledger = (model.ledger_version, len(model.finished))
        if ledger == self._ledger_seen:
            return
        self._ledger_seen = ledger
        finished = self.query_one("#finished", DataTable)
        finished.clear()
        for order in model.finished:
            finished.add_row(fmt.clock(order.ts), f"#{order.order_id}", order.side, order.symbol,
                             fmt.qty(order.filled), fmt.price(round(Fraction(order.value, order.filled))))
        fills = self.query_one("#history-fills", DataTable)
        fills.clear()
        for trade_id in sorted(model.ledger, reverse=True)[:SHOWN_FILLS]:
            fill = model.ledger[trade_id]
            fills.add_row(fmt.clock(fill.ts), fill.side, fmt.qty(fill.qty), fill.symbol, fmt.price(fill.price),
                          "M" if fill.liquidity == "maker" else "T", f"#{fill.order_id}")

    def action_more(self) -> None:
        """Load the next older page of the history."""
        self._more()

    @work(exclusive=True, group="history")
    async def _more(self) -> None:
        link = cast("TradeApp", self.app).link
        if link is None:
            self.notify("offline: no history to load", severity="warning")
            return
        try:
            loaded = await link.more_history()
        except ClientError as exc:
            self.notify(f"history: {exc}", severity="error")
            return
        if not loaded:
            self.notify("no older fills")
