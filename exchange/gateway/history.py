"""The ``history`` request: a trader's recent fills and finished orders, from the trade store.

Fills come from the ``trades`` table (every match the journal committed), newest
first, a page at a time (``before`` a trade id, ``limit`` rows); the store is
read on the store's own thread, never on the event loop. The page's orders that
are no longer open in the engine are its *finished orders*, each with what
those fills did (quantity and value). An order that ended without a fill left
no trade, so it is not in the history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial

from exchange.engine.core import Engine
from exchange.protocol.messages import HistoryFill, HistoryOrder, HistoryReply, encode_message
from exchange.protocol.requests import HistoryRequest, RequestId
from exchange.serving.session import ClientSession
from exchange.store.base import Trade, TradeStore

__all__ = ["History", "fills_of", "finished_orders"]

Reply = Callable[[ClientSession, RequestId, bytes], None]


def fills_of(user: int, trades: list[Trade]) -> list[HistoryFill]:
    """``user``'s side of each trade (its order, side and liquidity), in the same order."""
    out = []
    for t in trades:
        maker = t.maker_user == user
        out.append(HistoryFill(
            trade_id=t.trade_id, order_id=t.maker_order_id if maker else t.taker_order_id, symbol=t.symbol,
            side=t.side if maker else ("buy" if t.side == "sell" else "sell"), price=t.price, qty=t.qty,
            liquidity="maker" if maker else "taker", ts=t.ts,
        ))
    return out


def finished_orders(fills: list[HistoryFill], open_ids: set[int]) -> list[HistoryOrder]:
    """The orders of ``fills`` not in ``open_ids``, newest fill first: filled quantity and value (price * qty)."""
    orders: dict[int, HistoryOrder] = {}
    for f in fills:
        if f.order_id in open_ids:
            continue
        seen = orders.get(f.order_id)
        if seen is None:
            orders[f.order_id] = HistoryOrder(order_id=f.order_id, symbol=f.symbol, side=f.side, filled=f.qty,
                                              value=f.price * f.qty, ts=f.ts)
        else:
            seen.filled += f.qty
            seen.value += f.price * f.qty
    return list(orders.values())


class History:
    """The gateway's ``history`` handler.

    Args:
        store: where the trades are (used on ``executor`` only).
        executor: the store's thread.
        engine: which orders are still open.
        reply: sends a reply in order with the session's others.
    """

    def __init__(self, *, store: TradeStore, executor: Executor, engine: Engine, reply: Reply) -> None:
        self.store = store
        self.executor = executor
        self.engine = engine
        self.reply = reply

    async def __call__(self, session: ClientSession, req: HistoryRequest) -> None:
        user = session.user_id
        read = partial(self.store.user_trades, user, before=req.before, limit=req.limit + 1)
        trades = await asyncio.get_running_loop().run_in_executor(self.executor, read)
        page = trades[:req.limit]
        fills = fills_of(user, page)
        account = self.engine.accounts.get(user)
        open_ids = set(account.orders) if account is not None else set()
        self.reply(session, req.id, encode_message(HistoryReply(
            id=req.id, fills=fills, orders=finished_orders(fills, open_ids),
            next_before=page[-1].trade_id if len(trades) > req.limit else None,
        )))
