"""The public ``candles`` query: OHLC candles built from the trades store.

A candle covers ``interval_s`` seconds aligned to the Unix epoch (a 1-hour
candle starts on the hour, UTC); intervals without trades are left out. The
store is read on the gateway's queries thread (never on the event loop, nor on
the thread logins use) and the trades are folded there, so only candles cross
back to the loop.

Folding is paid for once: a :class:`CandleCache` keeps, per (symbol,
interval) that someone asked for, the candles of the last ``MAX_INTERVALS``
intervals, and on each request folds in only the trades committed since the
previous one. A window reaching further back (``end_ts`` paging into the past)
is folded from the store for that request alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import msgspec

from exchange.protocol.messages import Candle, CandlesReply, encode_message
from exchange.protocol.requests import CandlesRequest
from exchange.serving.session import ClientSession
from exchange.store.base import Trade, TradeStore

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from exchange.gateway.core import Gateway

__all__ = ["MAX_INTERVALS", "CandleCache", "candles_handler", "fold_candles"]

NS: Final = 1_000_000_000
MAX_INTERVALS: Final = 1000
"""The most intervals one request covers (its ``limit``), and what the cache keeps per series."""
LATE_NS: Final = 5 * NS
"""How far before the newest folded trade a refresh looks again (a trade journaled after one
stamped a little later, e.g. across a clock step, is still folded once: trade ids decide)."""


def _fold(by_start: dict[int, Candle], t: Trade, interval_ns: int) -> None:
    bucket = t.ts - t.ts % interval_ns
    c = by_start.get(bucket)
    if c is None:
        by_start[bucket] = Candle(ts=bucket, open=t.price, high=t.price, low=t.price, close=t.price,
                                  volume=t.qty, trades=1)
        return
    c.high = max(c.high, t.price)
    c.low = min(c.low, t.price)
    c.close = t.price
    c.volume += t.qty
    c.trades += 1


def fold_candles(trades: Iterable[Trade], interval_ns: int, start_ns: int, end_ns: int) -> list[Candle]:
    """Candles of ``trades`` (in trade order) whose ``ts`` is in ``[start_ns, end_ns)``, oldest first."""
    by_start: dict[int, Candle] = {}
    for t in trades:
        if start_ns <= t.ts < end_ns:
            _fold(by_start, t, interval_ns)
    return [by_start[k] for k in sorted(by_start)]


@dataclass
class _Series:
    """The candles of one (symbol, interval) from ``floor`` on, and the newest trade folded."""

    floor: int
    last_ts: int = 0
    last_id: int = 0
    by_start: dict[int, Candle] = field(default_factory=dict)


class CandleCache:
    """Recent candles per (symbol, interval), kept current from the store. Use on one thread only."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, int], _Series] = {}

    def candles(self, store: TradeStore, r: CandlesRequest, now_ns: int) -> list[Candle]:
        """The candles ``r`` asks for, as of what ``store`` holds now."""
        interval_ns = r.interval_s * NS
        end = r.end_ts if r.end_ts is not None else now_ns
        end = end - end % interval_ns + interval_ns  # through the end of the interval holding ``end``
        start = end - r.limit * interval_ns
        floor = now_ns - now_ns % interval_ns - (MAX_INTERVALS - 1) * interval_ns
        if start < floor:  # further back than the cache keeps: this request alone
            return fold_candles(store.trades(since=start, until=end, symbol=r.symbol), interval_ns, start, end)
        series = self._refresh(store, r.symbol, interval_ns, floor)
        # Copies: the loop encodes them while this thread may fold the next trades into the cache.
        return [msgspec.structs.replace(c) for k, c in sorted(series.by_start.items()) if start <= k < end]

    def _refresh(self, store: TradeStore, symbol: str, interval_ns: int, floor: int) -> _Series:
        key = (symbol, interval_ns)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(floor=floor, last_ts=floor)
        elif floor > series.floor:  # time moved on: forget candles that fell out of the window
            series.floor = floor
            series.by_start = {k: c for k, c in series.by_start.items() if k >= floor}
        since = max(series.floor, series.last_ts - LATE_NS)
        for t in store.trades(since=since, symbol=symbol):
            if t.trade_id > series.last_id:
                _fold(series.by_start, t, interval_ns)
                series.last_id = t.trade_id
                series.last_ts = max(series.last_ts, t.ts)
        return series


def candles_handler(gateway: Gateway) -> Callable[[ClientSession, CandlesRequest], Awaitable[None]]:
    """The gateway's handler of ``candles`` (any connection: it is public market data)."""
    cache = CandleCache()

    async def handle(s: ClientSession, r: CandlesRequest) -> None:
        if r.symbol not in gateway.engine.books:
            gateway._unknown_symbol(s, r.id, r.symbol)
            return
        rows = await gateway.query(cache.candles, gateway.trades, r, gateway.clock_ns())
        gateway._reply(s, r.id, encode_message(CandlesReply(
            id=r.id, symbol=r.symbol, interval_s=r.interval_s, candles=rows,
        )))

    return handle
