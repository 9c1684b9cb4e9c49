"""The trading client's text forms of prices, quantities, cash and times: kept as a name for :mod:`client.format`."""

from __future__ import annotations

from client.format import TIMES, clock, dollars, parse_price, parse_qty, price, qty

__all__ = ["TIMES", "clock", "dollars", "parse_price", "parse_qty", "price", "qty"]
