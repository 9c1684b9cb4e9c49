"""The per-symbol table: quotes, activity, status and trends."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from client.widgets.sparkline import sparkline
from console.format import number, price
from console.model import SymbolRow
from console.widgets.live_table import Cell, Column, LiveTable

__all__ = ["SymbolTable", "symbol_cells"]

PRICE_SPARK = 18
VOLUME_SPARK = 14


def symbol_cells(row: SymbolRow) -> dict[str, Cell]:
    """The cells of one symbol's row."""
    halted = row.status != "trading"
    return {
        "symbol": Text(row.symbol, style="bold"),
        "status": Text("HALTED", style="bold white on red") if halted else Text("open", style="green"),
        "bid": Text(price(row.bid), style="green"),
        "ask": Text(price(row.ask), style="red"),
        "last": Text(price(row.last), style="bold"),
        "volume": number(row.volume),
        "oi": number(row.open_interest),
        "resting": number(row.orders_resting),
        "trend": Text(sparkline(row.prices, PRICE_SPARK), style="cyan"),
        "vtrend": Text(sparkline(row.volumes, VOLUME_SPARK, lo=0), style="magenta"),
    }


class SymbolTable(LiveTable):
    """One row per listed symbol, from the ``stats`` feed and the trades."""

    COLUMNS = (
        Column("symbol", "Symbol", 6),
        Column("status", "Status", 6),
        Column("bid", "Bid", 8, right=True),
        Column("ask", "Ask", 8, right=True),
        Column("last", "Last", 8, right=True),
        Column("volume", "Volume", 9, right=True),
        Column("oi", "Rest qty", 8, right=True),
        Column("resting", "Rest ord", 8, right=True),
        Column("trend", "Price (1 min)", PRICE_SPARK, narrow=False),
        Column("vtrend", "Volume (1 min)", VOLUME_SPARK + 2, narrow=False),
    )
    WIDE_AT = 114

    def show(self, symbols: Mapping[str, SymbolRow]) -> None:
        """Show these symbols, sorted by name."""
        self.sync({name: symbol_cells(symbols[name]) for name in sorted(symbols)})

    @property
    def selected_symbol(self) -> str | None:
        """The symbol under the cursor, if any."""
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return key
