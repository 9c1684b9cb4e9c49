"""The exchange's shared vocabulary: one definition for the engine, the protocol and the clients.

Plain literal types and constants only, so importing it loads nothing else
(``exch trade`` and the console use it without the matching engine).
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["BUY", "SELL", "SIDES", "TIFS", "OrderType", "Side", "SymbolStatus", "TimeInForce"]

Side = Literal["buy", "sell"]
"""Which side of the book an order is on."""
OrderType = Literal["limit", "market", "stop", "stop_limit"]
"""A limit order has a price; a market order takes what the book offers; a stop (stop-limit)
order waits, unseen by the market, until a trade prints through its ``stop_price`` and then
enters as a market (limit) order."""
TimeInForce = Literal["gtc", "ioc", "fok", "gtd"]
"""Good till cancelled, immediate or cancel, fill or kill, good till date (``expire_ts``)."""
SymbolStatus = Literal["trading", "halted"]
"""Whether a symbol's book accepts orders."""

BUY: Final = "buy"
SELL: Final = "sell"
SIDES: Final[tuple[Side, Side]] = ("buy", "sell")
TIFS: Final[tuple[TimeInForce, ...]] = ("gtc", "ioc", "fok")
"""The times in force that need no other field (``gtd`` also needs ``expire_ts``)."""
