"""The public ``candles`` query: OHLC candles built from the trades store.

A candle covers ``interval_s`` seconds aligned to the Unix epoch (a 1-hour
candle starts on the hour, UTC). The handler reads the symbol's trades of the
window ``[end - limit * interval, end)`` from the store on the store's own
thread (never on the event loop) and folds them there, so only the candles
cross back to the loop. Intervals without trades are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from exchange.gateway.session import ClientSession
from exchange.protocol.messages import Candle, CandlesReply, encode_message
from exchange.protocol.requests import CandlesRequest
from exchange.store.base import Store, Trade

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from exchange.gateway.core import Gateway

__all__ = ["candles_handler", "candles_of", "fold_candles"]

NS = 1_000_000_000


def fold_candles(trades: Iterable[Trade], interval_ns: int, start_ns: int, end_ns: int) -> list[Candle]:
    """Candles of ``trades`` (in trade order) whose ``ts`` is in ``[start_ns, end_ns)``, oldest first."""
    by_start: dict[int, Candle] = {}
    for t in trades:
        if not start_ns <= t.ts < end_ns:
            continue
        bucket = t.ts - t.ts % interval_ns
        c = by_start.get(bucket)
        if c is None:
            by_start[bucket] = Candle(ts=bucket, open=t.price, high=t.price, low=t.price, close=t.price,
                                      volume=t.qty, trades=1)
            continue
        c.high = max(c.high, t.price)
        c.low = min(c.low, t.price)
        c.close = t.price
        c.volume += t.qty
        c.trades += 1
    return [by_start[k] for k in sorted(by_start)]


def candles_of(store: Store, r: CandlesRequest, now_ns: int) -> list[Candle]:
    """The candles ``r`` asks for, read from ``store`` (call on the store's thread)."""
    interval_ns = r.interval_s * NS
    end = r.end_ts if r.end_ts is not None else now_ns
    end = end - end % interval_ns + interval_ns  # through the end of the interval holding ``end``
    start = end - r.limit * interval_ns
    return fold_candles(store.trades(since=start, symbol=r.symbol), interval_ns, start, end)


def candles_handler(gateway: Gateway) -> Callable[[ClientSession, CandlesRequest], Awaitable[None]]:
    """The gateway's handler of ``candles`` (any connection: it is public market data)."""

    async def handle(s: ClientSession, r: CandlesRequest) -> None:
        if r.symbol not in gateway.engine.books:
            gateway._unknown_symbol(s, r.id, r.symbol)
            return
        rows = await gateway._in_store(candles_of, gateway.store, r, gateway.clock_ns())
        gateway._reply(s, r.id, encode_message(CandlesReply(
            id=r.id, symbol=r.symbol, interval_s=r.interval_s, candles=rows,
        )))

    return handle
