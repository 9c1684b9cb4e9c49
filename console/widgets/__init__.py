"""The console's widgets, one per module."""

from console.widgets.live_table import Column, LiveTable
from console.widgets.server import ServerNumbers
from console.widgets.sessions import SessionsTable
from console.widgets.symbols import SymbolTable

__all__ = ["Column", "LiveTable", "ServerNumbers", "SessionsTable", "SymbolTable"]
