"""Read-only views of engine state, as plain data for replies and snapshots.

These never change the engine; the gateway and market data use them to answer
``orders``, ``balance`` and ``symbols`` and to build feed snapshots.
"""

from __future__ import annotations

from typing import Any

from exchange.engine.book import Book, BookSide, Order
from exchange.engine.core import Engine

__all__ = ["balance", "level2", "level3", "open_orders", "order_view", "symbols", "ticker"]


def order_view(order: Order) -> dict[str, Any]:
    """One open order as the protocol's ``orders`` reply lists it.

    ``remaining`` is the open quantity (an iceberg's hidden part included);
    an untriggered stop is ``pending``.
    """
    open_qty = order.remaining + order.hidden
    status = "pending" if order.pending else "partially_filled" if open_qty < order.qty else "open"
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.kind,
        "tif": order.tif,
        "post_only": order.post_only,
        "price": None if order.kind == "stop" else order.price,
        "qty": order.qty,
        "remaining": open_qty,
        "status": status,
        "ts": order.ts,
        "stop_price": order.stop_price or None,
        "triggered": order.triggered,
        "expire_ts": order.expire_ts or None,
        "display_qty": order.display or None,
    }


def open_orders(engine: Engine, user: int, symbol: str | None = None) -> list[dict[str, Any]]:
    """The open orders of ``user`` (optionally on one symbol), oldest first."""
    acct = engine.accounts.get(user)
    if acct is None:
        return []
    return [order_view(o) for o in acct.orders.values() if symbol is None or o.symbol == symbol]


def balance(engine: Engine, user: int) -> dict[str, Any]:
    """Cash and positions of ``user``, totals with their held parts."""
    acct = engine.accounts.get(user)
    if acct is None:
        return {"cash": 0, "cash_held": 0, "positions": {}}
    return {
        "cash": acct.cash,
        "cash_held": acct.cash_held,
        "positions": {
            sym: {"qty": qty, "held": acct.held.get(sym, 0)}
            for sym, qty in sorted(acct.positions.items())
        },
    }


def symbols(engine: Engine) -> list[dict[str, Any]]:
    """Every listed symbol with its tick, lot and status."""
    return [
        {"symbol": b.symbol, "tick": b.tick, "lot": b.lot, "status": b.status}
        for b in sorted(engine.books.values(), key=lambda b: b.symbol)
    ]


def _l3_side(side: BookSide) -> list[list[int]]:
    return [[o.order_id, level.price, o.remaining] for level in side.sorted_levels() for o in level.live()]


def level3(book: Book) -> dict[str, Any]:
    """Every resting order, in priority order per side: ``[order_id, price, qty]``."""
    return {"seq": book.seq, "bids": _l3_side(book.bids), "asks": _l3_side(book.asks)}


def _l2_side(side: BookSide, depth: int | None) -> list[list[int]]:
    return [[level.price, level.total] for level in side.sorted_levels()[:depth]]


def level2(book: Book, depth: int | None = None) -> dict[str, Any]:
    """Aggregated levels, best first: ``[price, qty]``."""
    return {"seq": book.seq, "bids": _l2_side(book.bids, depth), "asks": _l2_side(book.asks, depth)}


def ticker(book: Book) -> dict[str, Any]:
    """Best bid/ask, last trade, session volume and open interest (L1)."""
    bid = book.bids.best()
    ask = book.asks.best()
    return {
        "seq": book.seq,
        "bid": bid.price if bid else None,
        "bid_qty": bid.total if bid else None,
        "ask": ask.price if ask else None,
        "ask_qty": ask.total if ask else None,
        "last": book.last,
        "last_qty": book.last_qty if book.last is not None else None,
        "volume": book.volume,
        "open_interest": book.open_interest,
    }
