"""The command palette's trading commands (Ctrl+P): the screen's actions and one per symbol."""

from __future__ import annotations

from functools import partial

from client.widgets.commands import Command, CommandList

__all__ = ["TradeCommands"]


class TradeCommands(CommandList):
    """Buy, sell, cancel, cancel all, replace, order kinds, reload, and ``Show SYMBOL`` per symbol."""

    def commands(self) -> list[Command]:
        from client.trade.screens.main import TradeScreen

        screen = self.screen
        if not isinstance(screen, TradeScreen):
            return []
        out: list[Command] = [
            ("Buy", screen.action_buy, "Send a buy of the order entry's price and quantity"),
            ("Sell", screen.action_sell, "Send a sell of the order entry's price and quantity"),
            ("Cancel selected order", screen.action_cancel, "Cancel the order under the open-orders cursor"),
            ("Cancel all orders", screen.action_cancel_all, "Cancel every open order, every symbol"),
            ("Replace selected order", screen.action_replace, "New price or quantity for the selected order"),
            ("Toggle limit / market", screen.action_toggle_type, "Order type of the order entry"),
            ("Cycle time in force", screen.action_cycle_tif, "GTC → IOC → FOK"),
            ("Toggle post-only", screen.action_toggle_post_only, "Refuse instead of taking liquidity"),
            ("Reload orders and balance", screen.action_refresh_wallet, "Ask the server again"),
            ("Switch symbol…", screen.action_switch_symbol, "Choose the symbol shown"),
        ]
        for symbol in screen.model.symbols:
            if symbol != screen.model.symbol:
                out.append((f"Show {symbol}", partial(screen.switch_to, symbol), f"Switch the ladder to {symbol}"))
        return out
