"""The engine's checkpoint format: its complete state as plain data.

``snapshot(engine)`` returns dicts and lists of ints, strings, bools and None
only (JSON- and msgpack-safe, never pickled objects); ``restore(data)`` builds
an engine that answers every further command exactly as the original would.
Format, version 2 (version 1, without stops and the order extras, still restores)::

    {"format": "exch-engine", "version": 1,
     "seq": int, "next_order_id": int, "next_trade_id": int,
     "limits": {"max_open_orders": int, "max_price": int, "max_qty": int, "max_deposit": int},
     "symbols": [{"symbol": str, "tick": int, "lot": int, "status": "trading"|"halted",
                  "seq": int, "last": int|None, "last_qty": int, "volume": int,
                  "bids": [ORDER, ...], "asks": [ORDER, ...],      # priority order
                  "stops": [[side, *ORDER], ...]}],                 # untriggered, trigger order
     "accounts": [{"user": int, "cash": int, "cash_held": int,
                   "positions": {SYM: int}, "held": {SYM: int},
                   "orders": [order_id, ...]}]}                        # placement order
    ORDER = [order_id, user, price, qty, remaining, tif, post_only, client_order_id, ts,
             kind, stop_price, triggered, arrival, expire_ts, display, hidden]

An iceberg's ``remaining`` is its shown part, ``hidden`` the rest of its open
quantity. The good-till-date index is rebuilt from the orders' ``expire_ts``.

Symbols are sorted by name and accounts by user id, so equal states give equal
snapshots. The totals the caps bound (``Engine.cash``, ``Book.shares``) are not
stored: ``restore`` sums them from the accounts. A snapshot of an engine the
caps bound always encodes as msgpack (``exchange.engine.limits`` proves it);
``restore`` also takes older states over the caps (they only refuse deposits).
"""

from __future__ import annotations

from typing import Any, Final

from exchange.engine.accounts import Account
from exchange.engine.book import Book, BookSide, Order
from exchange.engine.commands import Side
from exchange.engine.core import Engine
from exchange.engine.limits import Limits

__all__ = ["FORMAT", "VERSION", "SnapshotError", "restore", "snapshot"]

FORMAT: Final = "exch-engine"
VERSION: Final = 2
_READS: Final = (1, 2)


class SnapshotError(ValueError):
    """The data is not a snapshot this version can restore."""


def _row(o: Order) -> list[Any]:
    return [
        o.order_id, o.user, o.price, o.qty, o.remaining, o.tif, o.post_only, o.client_order_id, o.ts,
        o.kind, o.stop_price, o.triggered, o.arrival, o.expire_ts, o.display, o.hidden,
    ]


def _orders(side: BookSide) -> list[list[Any]]:
    return [_row(o) for level in side.sorted_levels() for o in level.live()]


def _order(symbol: str, side: Side, row: list[Any]) -> Order:
    oid, user, price, qty, remaining, tif, post_only, coid, ts = row[:9]
    order = Order(oid, user, symbol, side, price, qty, remaining, tif, post_only, coid, ts)
    if len(row) > 9:
        kind, stop_price, triggered, arrival, expire_ts, display, hidden = row[9:]
        order.kind = kind
        order.stop_price = stop_price
        order.triggered = triggered
        order.arrival = arrival
        order.expire_ts = expire_ts
        order.display = display
        order.hidden = hidden
    return order


def snapshot(engine: Engine) -> dict[str, Any]:
    """The complete state of ``engine`` as plain data (see the module doc)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "seq": engine.seq,
        "next_order_id": engine.next_order_id,
        "next_trade_id": engine.next_trade_id,
        "limits": engine.limits.as_dict(),
        "symbols": [
            {
                "symbol": b.symbol,
                "tick": b.tick,
                "lot": b.lot,
                "status": b.status,
                "seq": b.seq,
                "last": b.last,
                "last_qty": b.last_qty,
                "volume": b.volume,
                "bids": _orders(b.bids),
                "asks": _orders(b.asks),
                "stops": [[o.side, *_row(o)] for o in b.stops.in_order()],
            }
            for b in sorted(engine.books.values(), key=lambda b: b.symbol)
        ],
        "accounts": [
            {
                "user": a.user,
                "cash": a.cash,
                "cash_held": a.cash_held,
                "positions": dict(sorted(a.positions.items())),
                "held": dict(sorted(a.held.items())),
                "orders": list(a.orders),
            }
            for a in sorted(engine.accounts.values(), key=lambda a: a.user)
        ],
    }


def restore(data: dict[str, Any]) -> Engine:
    """Build an engine from :func:`snapshot` data.

    Raises:
        SnapshotError: wrong format or version, or inconsistent content.
    """
    if data.get("format") != FORMAT or data.get("version") not in _READS:
        raise SnapshotError(
            f"not an {FORMAT} v{VERSION} snapshot: {data.get('format')!r} v{data.get('version')!r}"
        )
    try:
        engine = Engine(limits=Limits(**data["limits"]))
        engine.seq = data["seq"]
        engine.next_order_id = data["next_order_id"]
        engine.next_trade_id = data["next_trade_id"]
        orders: dict[int, Order] = {}
        for s in data["symbols"]:
            book = Book(s["symbol"], s["tick"], s["lot"])
            book.status = s["status"]
            book.seq = s["seq"]
            book.last = s["last"]
            book.last_qty = s["last_qty"]
            book.volume = s["volume"]
            for side, rows in ((book.bids, s["bids"]), (book.asks, s["asks"])):
                for row in rows:
                    order = _order(book.symbol, side.side, row)
                    side.level_for(order.price).append(order)
                    side.total += order.remaining
                    orders[order.order_id] = order
            for side_name, *row in s.get("stops", ()):
                order = _order(book.symbol, side_name, row)
                book.stops.add(order)
                orders[order.order_id] = order
            engine.books[book.symbol] = book
        for a in data["accounts"]:
            acct = Account(a["user"])
            acct.cash = a["cash"]
            acct.cash_held = a["cash_held"]
            acct.load(dict(a["positions"]), dict(a["held"]))
            engine.cash += acct.cash
            for symbol, qty in a["positions"].items():
                engine.books[symbol].shares += qty
            for oid in a["orders"]:
                order = orders.pop(oid)
                order.holding = acct.holding(order.symbol)
                acct.add_order(order)
            engine.accounts[acct.user] = acct
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"malformed snapshot: {exc!r}") from exc
    if orders:
        raise SnapshotError(f"orders without an owner's index: {sorted(orders)[:5]}")
    engine.rebuild_expiries()
    return engine
