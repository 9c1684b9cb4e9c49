"""Noise traders: random limit and market orders around the market's middle.

Each action is one of: cancel one of its resting orders (the oldest, when it has
too many, else now and then a random one), a market order, or a limit order a
few ticks from the middle — usually passive, sometimes crossing. The side leans
against the bot's inventory so that it neither runs out of cash nor of shares
(no short selling on exch), and it never sends what its own wallet cannot pay
for.
"""

from __future__ import annotations

from client.bots.base import Bot
from client.bots.fair import anchor_price

__all__ = ["NoiseTrader"]


class NoiseTrader(Bot):
    """Random orders: the liquidity takers and small resting orders of the market.

    Class attributes tune it: ``max_open`` resting orders, ``market_share`` of
    market orders, ``cross_share`` of limit orders that cross, ``max_lots`` per
    order, ``spread`` (fraction of the price) for how far from the middle limit
    orders go, ``max_inventory`` shares before the side leans hard the other way.
    """

    kind = "noise"
    weight = 2.0
    max_open = 6
    market_share = 0.15
    cross_share = 0.25
    cancel_share = 0.15
    max_lots = 5
    spread = 0.002
    max_inventory = 150

    async def act(self) -> bool:
        """Send one random order or cancel."""
        rng = self.rng
        if self.orders and (len(self.orders) >= self.max_open or rng.random() < self.cancel_share):
            oldest = next(iter(self.orders.values()))
            victim = oldest if len(self.orders) >= self.max_open else rng.choice(list(self.orders.values()))
            await self.cancel(victim)
            return True
        symbol = rng.choice(self.symbols)
        mid = self.mid(symbol) or anchor_price(symbol)
        lot = self.lot(symbol)
        qty = lot * rng.randint(1, self.max_lots)
        side = self.side_for(0.5 - self.inventory(symbol) / (2 * self.max_inventory))
        if side == "sell" and self.free_shares(symbol) < qty:
            side = "buy"
        if rng.random() < self.market_share:
            if side == "buy" and self.free_cash() < 2 * mid * qty:
                return False
            await self.place(symbol, side, qty, type="market")
            return True
        offset = abs(rng.gauss(0.0, self.spread * mid))
        if rng.random() >= self.cross_share:
            offset = -offset  # passive: below the middle for a buy, above it for a sell
        price = self.on_book(symbol, int(mid + offset) if side == "buy" else int(mid - offset))
        if side == "buy" and price * qty > self.free_cash():
            return False
        if side == "sell" and self.free_shares(symbol) < qty:
            return False
        await self.place(symbol, side, qty, price=price)
        return True
