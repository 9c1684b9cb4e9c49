"""The trading screen's widgets, one per module."""

from client.trade.widgets.balance import BalanceBar
from client.trade.widgets.fills import FillsPanel
from client.trade.widgets.header import SymbolHeader
from client.trade.widgets.ladder import Ladder
from client.trade.widgets.open_orders import OpenOrders
from client.trade.widgets.order_entry import OrderEntry
from client.trade.widgets.tape import TradeTape

__all__ = ["BalanceBar", "FillsPanel", "Ladder", "OpenOrders", "OrderEntry", "SymbolHeader", "TradeTape"]
