"""A user's wallet: cash and positions with the parts held by open orders."""

from __future__ import annotations

from exchange.engine.book import Order

__all__ = ["Account"]


class Account:
    """Cash (integer cents) and shares per symbol, each with its held part.

    ``cash`` and ``positions`` are totals, held parts included; what a user may
    still commit is ``cash - cash_held`` and ``positions[s] - held[s]``.
    ``orders`` holds the user's open orders by id (placement order) and
    ``client_ids`` the same orders by client order id.
    """

    __slots__ = ("cash", "cash_held", "client_ids", "held", "orders", "positions", "user")

    def __init__(self, user: int) -> None:
        self.user = user
        self.cash = 0
        self.cash_held = 0
        self.positions: dict[str, int] = {}
        self.held: dict[str, int] = {}
        self.orders: dict[int, Order] = {}
        self.client_ids: dict[str, Order] = {}

    def available_cash(self) -> int:
        """Cash not held by open orders."""
        return self.cash - self.cash_held

    def available_shares(self, symbol: str) -> int:
        """Shares of ``symbol`` not held by open sell orders."""
        return self.positions.get(symbol, 0) - self.held.get(symbol, 0)

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
