"""Deterministic data for the trading client: a model filled from fixed messages, no server.

Used by the snapshot tests and handy to look at the screen without an exchange::

    python -m tests.trade.demo          # the trading screen, offline
"""

from __future__ import annotations

from pathlib import Path

from client.book import SymbolBook
from client.trade import TradeApp, TradeModel, TradeSettings
from exchange.protocol import (
    BalanceReply,
    FillMessage,
    L3Message,
    OrderInfo,
    PositionInfo,
    SymbolInfo,
    TradeMessage,
)
from exchange.protocol.book import L3Book

__all__ = ["T0", "demo_app", "demo_model"]

T0 = 1_700_000_000_000_000_000
"""A fixed timestamp (ns); tests set TZ=UTC so times read the same everywhere."""

MINE = (107, 112, 118)
"""The demo trader's resting order ids."""


def _book() -> SymbolBook:
    book = SymbolBook("ACME", 50)
    book.channels = {"level3", "trades"}
    book.l3 = L3Book("ACME")
    bids = [[101, 10120, 40], [102, 10120, 25], [107, 10120, 10], [103, 10115, 60], [104, 10110, 5],
            [105, 10110, 5], [106, 10110, 200], [112, 10100, 30], [113, 10095, 12], [114, 10090, 80],
            [115, 10085, 7], [116, 10080, 150], [117, 10075, 9]]
    asks = [[201, 10130, 15], [202, 10130, 35], [118, 10135, 20], [203, 10135, 5], [204, 10140, 300],
            [205, 10150, 45], [206, 10155, 10], [207, 10160, 60], [208, 10170, 25], [209, 10180, 100]]
    # a long queue at 10140 (many small orders) to show truncation
    asks += [[300 + i, 10145, 1 + i % 9] for i in range(40)]
    book.l3.load(1000, bids, asks)
    book.l3.apply(L3Message(symbol="ACME", seq=1001, event="match", side="sell", price=10130, qty=5,
                            maker_order_id=201, taker_order_id=999, trade_id=77))
    for i, (price, qty, side) in enumerate([(10125, 3, "sell"), (10130, 10, "buy"), (10130, 5, "buy")]):
        book.trades.append(TradeMessage(symbol="ACME", seq=990 + i, trade_id=75 + i, price=price, qty=qty,
                                        taker_side=side, ts=T0 + i * 1_500_000_000))
    return book


def demo_model() -> TradeModel:
    """A trader (``alice``) with three resting orders, two fills, a wallet, on ACME."""
    model = TradeModel("ACME")
    model.user = "alice"
    model.load_symbols([SymbolInfo(symbol="ACME", tick=5, lot=1, status="trading"),
                        SymbolInfo(symbol="BOLT", tick=1, lot=10, status="trading"),
                        SymbolInfo(symbol="CHIP", tick=1, lot=1, status="halted")])
    model.select("ACME", _book())
    model.load_orders([
        OrderInfo(order_id=107, client_order_id=None, symbol="ACME", side="buy", type="limit", tif="gtc",
                  post_only=False, price=10120, qty=10, remaining=10, status="open", ts=T0),
        OrderInfo(order_id=112, client_order_id=None, symbol="ACME", side="buy", type="limit", tif="gtc",
                  post_only=False, price=10100, qty=50, remaining=30, status="partially_filled", ts=T0),
        OrderInfo(order_id=118, client_order_id=None, symbol="ACME", side="sell", type="limit", tif="gtc",
                  post_only=True, price=10135, qty=20, remaining=20, status="open", ts=T0),
    ])
    model.load_balance(BalanceReply(cash=1_234_567_89, cash_held=40_480_00 // 100,
                                    positions={"ACME": PositionInfo(qty=150, held=20),
                                               "BOLT": PositionInfo(qty=40, held=0)}))
    for i, (oid, price, qty) in enumerate([(112, 10100, 12), (112, 10100, 8)]):
        model.private(FillMessage(order_id=oid, client_order_id=None, symbol="ACME", side="buy", price=price,
                                  qty=qty, remaining=30 + 8 * (1 - i), trade_id=60 + i, liquidity="maker",
                                  ts=T0 - 60_000_000_000 + i * 1_000_000_000))
    model.link = ("up", "")
    model.last_data = 0.0
    return model


def demo_app(**kwargs: object) -> TradeApp:
    """The trading screen over :func:`demo_model`, offline."""
    settings = TradeSettings(home=Path("/nonexistent-exch-home"), url="wss://exch.example:8443/ws", user="alice")
    return TradeApp(settings, model=demo_model(), offline=True, **kwargs)  # type: ignore[arg-type]


if __name__ == "__main__":
    demo_app().run()
