"""The trading client's screens: login, the trading screen and its modals."""

from client.trade.screens.confirm import ConfirmOrder
from client.trade.screens.history import HistoryScreen
from client.trade.screens.login import LoginScreen, explain_login_error
from client.trade.screens.main import TradeScreen
from client.trade.screens.replace import ReplaceScreen
from client.trade.screens.symbols import SymbolSwitcher

__all__ = [
    "ConfirmOrder",
    "HistoryScreen",
    "LoginScreen",
    "ReplaceScreen",
    "SymbolSwitcher",
    "TradeScreen",
    "explain_login_error",
]
