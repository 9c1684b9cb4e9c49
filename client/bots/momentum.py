"""The momentum trader: buys what has been rising, sells what has been falling.

It follows the public ``trades`` of its symbols and compares a fast and a slow
average of the recent trade prices. When the fast one leads by more than a
threshold it sends an immediate-or-cancel order in that direction (a few ticks
through the touch, so it takes liquidity but never sweeps an empty book), up
to ``limit`` shares of inventory; it waits ``cooldown_s`` between trades in one
symbol. With no signal it sometimes trims its inventory back toward zero.
"""

from __future__ import annotations

import time

from client.bots.base import Bot
from client.session import Side

__all__ = ["MomentumTrader"]


def _average(prices: list[int]) -> float:
    return sum(prices) / len(prices)


class MomentumTrader(Bot):
    """Trend following on the recent trades.

    Class attributes tune it: ``fast``/``slow`` trades per average, ``threshold``
    (fraction of the price) the fast average must lead by, ``lots`` per order,
    ``limit`` shares of inventory per symbol, ``cooldown_s`` between orders in
    one symbol, ``through`` (fraction of the price) past the touch for its IOC.
    """

    kind = "momentum"
    weight = 1.0
    wants_trades = True
    fast = 5
    slow = 20
    threshold = 0.0004
    lots = 4
    limit = 120
    cooldown_s = 0.5
    through = 0.001
    trim_share = 0.05

    _last_order: dict[str, float]

    def on_setup(self) -> None:
        """A fresh session: no cooldowns running."""
        self._last_order = {}

    def signal(self, symbol: str) -> float | None:
        """Fast minus slow average of the recent trade prices, as a fraction of the price (None: too few)."""
        book = self.book(symbol)
        if book is None or len(book.trades) < self.slow:
            return None
        prices = [t.price for t in book.trades][-self.slow:]
        slow = _average(prices)
        return (_average(prices[-self.fast:]) - slow) / slow

    async def act(self) -> bool:
        """Trade the strongest signal past the threshold, else maybe trim; False when idle."""
        now = time.monotonic()
        best: tuple[float, str] | None = None
        for symbol in self.symbols:
            if now - self._last_order.get(symbol, 0.0) < self.cooldown_s:
                continue
            value = self.signal(symbol)
            if value is not None and abs(value) > self.threshold and (best is None or abs(value) > abs(best[0])):
                best = (value, symbol)
        if best is not None:
            value, symbol = best
            side: Side = "buy" if value > 0 else "sell"
            inventory = self.inventory(symbol)
            if (side == "buy" and inventory < self.limit) or (side == "sell" and inventory > -self.limit):
                return await self._take(symbol, side, now)
        if self.rng.random() < self.trim_share:
            symbol = self.rng.choice(self.symbols)
            inventory = self.inventory(symbol)
            if inventory != 0 and now - self._last_order.get(symbol, 0.0) >= self.cooldown_s:
                return await self._take(symbol, "sell" if inventory > 0 else "buy", now)
        return False

    async def _take(self, symbol: str, side: Side, now: float) -> bool:
        book = self.book(symbol)
        ticker = book.ticker if book is not None else None
        touch = None if ticker is None else (ticker.ask if side == "buy" else ticker.bid)
        if touch is None:
            return False
        lot = self.lot(symbol)
        qty = lot * self.lots
        if side == "sell":
            qty = min(qty, self.free_shares(symbol) // lot * lot)
        through = max(self.tick(symbol), int(touch * self.through))
        price = self.on_book(symbol, touch + through if side == "buy" else touch - through)
        if qty <= 0 or (side == "buy" and price * qty > self.free_cash()):
            return False
        self._last_order[symbol] = now
        await self.place(symbol, side, qty, price=price, tif="ioc")
        return True
