"""The market maker: one bid and one ask per symbol around a drifting fair value.

Quotes sit ``half_spread`` ticks either side of the fair value, shifted against
the inventory (long → both quotes lower, to sell more and buy less). Each
action sends the one request most needed: a new quote on a side that has none
(these come first, so the market is two-sided again quickly), else, for the
next (symbol, side) slot in turn, a ``replace`` to the new price or a
``cancel`` of a quote that fills have worn down (a fresh full-size one follows).

**Inventory limit.** For every symbol, shares bought since the bot started minus
shares sold stay within ``±limit``. It holds because of one invariant per side:
``inventory + open bid quantity <= limit`` (and ``inventory - open ask quantity
>= -limit``). A new quote is sized to the room left; a price change uses
``replace`` with the price only, which never adds quantity; and fills move
quantity from the open order to the inventory, leaving the sum unchanged. The
bot places a quote on a side only when it has none there, and it only learns
that the old one is gone from its ``done`` (after every fill of it), so the
room it computes is never too large.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Unpack

from client.bots.base import Bot, BotLink, LiveOrder
from client.bots.fair import FairValues
from client.session import Side

__all__ = ["MarketMaker"]

Slot = tuple[str, Side]


class MarketMaker(Bot):
    """Two-sided quotes around :class:`~client.bots.fair.FairValues`, within an inventory limit.

    Args:
        fair: the fair values it quotes around (shared by every maker of a farm).
        half_spread: ticks between the (skewed) fair value and each quote, as a
            fraction of the price (at least one tick).
        size: shares per quote (rounded to the lot).
        limit: the inventory limit per symbol, in shares.
        (the rest as :class:`~client.bots.base.Bot`)
    """

    kind = "maker"
    weight = 3.0

    def __init__(
        self,
        name: str,
        password: str,
        *,
        fair: FairValues,
        half_spread: float = 0.0006,
        size: int = 20,
        limit: int = 200,
        **link: Unpack[BotLink],
    ) -> None:
        super().__init__(name, password, **link)
        self.fair = fair
        self.half_spread = half_spread
        self.size = size
        self.limit = limit
        self.quotes: dict[Slot, str] = {}
        sides: tuple[Side, Side] = ("buy", "sell")
        self._all_slots = [(s, side) for s in self.symbols for side in sides]
        self._slots = itertools.cycle(self._all_slots)
        self._slot_count = 2 * len(self.symbols)
        self._rebased = False

    def on_setup(self) -> None:
        """Forget quotes of an earlier session; start the fair values from the market once."""
        self.quotes.clear()
        if self._rebased:
            return
        self._rebased = True
        for symbol in self.symbols:
            book = self.book(symbol)
            last = book.ticker.last if book is not None and book.ticker is not None else None
            if last is not None and self.fair.steps == 0:
                self.fair.rebase(symbol, last)

    def quote(self, slot: Slot) -> LiveOrder | None:
        """The bot's live quote in ``slot``, if any."""
        cid = self.quotes.get(slot)
        order = self.orders.get(cid) if cid is not None else None
        if order is None:
            self.quotes.pop(slot, None)
        return order

    def room(self, symbol: str, side: Side) -> int:
        """Shares the bot may still buy (``buy``) or sell (``sell``) without passing its limit."""
        inventory = self.inventory(symbol)
        room = self.limit - inventory if side == "buy" else self.limit + inventory
        if side == "sell":
            room = min(room, self.free_shares(symbol))
        return max(0, room)

    def target_price(self, symbol: str, side: Side) -> int:
        """Where the quote of ``side`` belongs now."""
        fair = self.fair.value(symbol)
        step = self.tick(symbol)
        half = max(float(step), fair * self.half_spread)
        skew = -self.inventory(symbol) / max(1, self.limit) * 2 * half
        center = fair + skew
        price = center - half if side == "buy" else center + half
        return self.on_book(symbol, int(price))

    def plan(self, slot: Slot) -> Callable[[], Awaitable[object]] | None:
        """The one request ``slot`` needs now, or None."""
        symbol, side = slot
        order = self.quote(slot)
        lot = self.lot(symbol)
        size = max(lot, self.size // lot * lot)
        if order is None:
            qty = min(size, self.room(symbol, side)) // lot * lot
            if qty <= 0:
                return None
            price = self.target_price(symbol, side)
            if side == "buy" and price * qty > self.free_cash():
                return None
            return lambda: self._new_quote(slot, qty, price)
        if order.remaining * 3 < size:
            return lambda: self.cancel(order)
        price = self.target_price(symbol, side)
        if price != order.price:
            if side == "buy" and order.price is not None and (price - order.price) * order.remaining > self.free_cash():
                return lambda: self.cancel(order)
            return lambda: self.move(order, price)
        return None

    async def _new_quote(self, slot: Slot, qty: int, price: int) -> None:
        symbol, side = slot
        order = await self.place(symbol, side, qty, price=price)
        if order is not None:
            self.quotes[slot] = order.cid

    async def act(self) -> bool:
        """Fill an empty slot first (two-sided quotes come first), else fix the next slot in turn.

        Returns:
            False if every quote is where it belongs.
        """
        for slot in self._all_slots:
            if self.quote(slot) is None:
                request = self.plan(slot)
                if request is not None:
                    await request()
                    return True
        for slot in itertools.islice(self._slots, self._slot_count):
            request = self.plan(slot)
            if request is not None:
                await request()
                return True
        return False

    def two_sided(self, symbol: str) -> bool:
        """Whether the bot has both a bid and an ask on ``symbol`` now."""
        return self.quote((symbol, "buy")) is not None and self.quote((symbol, "sell")) is not None
