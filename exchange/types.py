"""The exchange's shared vocabulary: one definition for the engine, the protocol and the clients.

Plain literal types and constants only, so importing it loads nothing else
(``exch trade`` and the console use it without the matching engine).
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["BUY", "SELL", "SIDES", "TIFS", "OrderType", "Side", "SymbolStatus", "TimeInForce"]

Side = Literal["buy", "sell"]
"""Which side of the book an order is on."""
OrderType = Literal["limit", "market"]
"""A limit order has a price; a market order takes what the book offers."""
TimeInForce = Literal["gtc", "ioc", "fok"]
"""Good till cancelled, immediate or cancel, fill or kill."""
SymbolStatus = Literal["trading", "halted"]
"""Whether a symbol's book accepts orders."""

BUY: Final = "buy"
SELL: Final = "sell"
SIDES: Final[tuple[Side, Side]] = ("buy", "sell")
TIFS: Final[tuple[TimeInForce, ...]] = ("gtc", "ioc", "fok")
