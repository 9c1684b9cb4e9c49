"""Trades from engine events: what the ``trades`` table stores."""

from __future__ import annotations

from collections.abc import Sequence

from exchange.engine import Event, Match
from exchange.store.base import Trade

__all__ = ["trades_from"]


def trades_from(events: Sequence[Event], seq: int, ts: int) -> list[Trade]:
    """The trades among ``events`` of the command journaled as ``seq`` at ``ts``."""
    trades: list[Trade] = []
    for e in events:  # a loop, not a comprehension: most commands have no trade (no call at all)
        if type(e) is Match:
            trades.append(Trade(
                e.trade_id, seq, ts, e.symbol, e.price, e.qty, e.side,
                e.maker_user, e.maker_order_id, e.taker_user, e.taker_order_id,
            ))
    return trades
