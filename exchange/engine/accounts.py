"""A user's wallet: cash and positions with the parts held by open orders."""

from __future__ import annotations

from exchange.engine.book import Order

__all__ = ["Account", "Holding"]


class Holding:
    """One symbol in one wallet: shares owned (``qty``) and the part held by open sells.

    ``has_qty`` / ``has_held`` say whether the symbol appears in the wallet's
    ``positions`` / ``held`` (the snapshot's keys): a deposit of shares adds it to
    both, a fill to ``positions``, a sell order to ``held``. Resting orders
    point to their owner's holding, so a fill settles without a dict lookup.
    """

    __slots__ = ("has_held", "has_qty", "held", "qty")

    def __init__(self) -> None:
        self.qty = 0
        self.held = 0
        self.has_qty = False
        self.has_held = False


class Account:
    """Cash (integer cents) and shares per symbol, each with its held part.

    ``cash`` and ``positions`` are totals, held parts included; what a user may
    still commit is ``cash - cash_held`` and ``positions[s] - held[s]``.
    ``orders`` holds the user's open orders by id (placement order) and
    ``client_ids`` the same orders by client order id.
    """

    __slots__ = ("cash", "cash_held", "client_ids", "holdings", "orders", "user")

    def __init__(self, user: int) -> None:
        self.user = user
        self.cash = 0
        self.cash_held = 0
        self.holdings: dict[str, Holding] = {}
        self.orders: dict[int, Order] = {}
        self.client_ids: dict[str, Order] = {}

    @property
    def positions(self) -> dict[str, int]:
        """Shares per symbol, held parts included (a copy)."""
        return {symbol: h.qty for symbol, h in self.holdings.items() if h.has_qty}

    @property
    def held(self) -> dict[str, int]:
        """Shares per symbol held by open sell orders (a copy)."""
        return {symbol: h.held for symbol, h in self.holdings.items() if h.has_held}

    def holding(self, symbol: str) -> Holding:
        """The wallet's holding of ``symbol``, created (empty, not yet listed) if needed."""
        h = self.holdings.get(symbol)
        if h is None:
            h = self.holdings[symbol] = Holding()
        return h

    def load(self, positions: dict[str, int], held: dict[str, int]) -> None:
        """Set the holdings from snapshot data (``positions`` and ``held`` by symbol)."""
        for symbol, qty in positions.items():
            h = self.holding(symbol)
            h.qty = qty
            h.has_qty = True
        for symbol, qty in held.items():
            h = self.holding(symbol)
            h.held = qty
            h.has_held = True

    def available_cash(self) -> int:
        """Cash not held by open orders."""
        return self.cash - self.cash_held

    def available_shares(self, symbol: str) -> int:
        """Shares of ``symbol`` not held by open sell orders."""
        h = self.holdings.get(symbol)
        return 0 if h is None else h.qty - h.held

    def add_order(self, order: Order) -> None:
        """Index a newly resting order (and make it point to this wallet)."""
        order.acct = self
        self.orders[order.order_id] = order
        if order.client_order_id is not None:
            self.client_ids[order.client_order_id] = order

    def drop_order(self, order: Order) -> None:
        """Forget an order that left the book."""
        del self.orders[order.order_id]
        if order.client_order_id is not None:
            del self.client_ids[order.client_order_id]
