"""The public ``candles`` query: OHLC candles aggregated by the trades store.

A candle covers ``interval_s`` seconds aligned to the Unix epoch (a 1-hour
candle starts on the hour, UTC); intervals without trades are left out. Open
and close are the prices of the interval's first and last trade in trade order
(trade ids), whatever their timestamps say.

The database builds the candles (:meth:`~exchange.store.base.TradeStore.candles`,
one ``GROUP BY`` query) and only they come back to Python: anyone may ask for a
series, and a first request folds up to ``MAX_INTERVALS`` intervals of trades
(300,000 and more). Folded in Python, that held the GIL for seconds, slowing
every thread of the server, the event loop and the order path included; while
SQLite or PostgreSQL aggregate, their drivers release the GIL. The query runs
on the gateway's queries thread and store connection (never on the event loop,
nor on the thread logins use).

A :class:`CandleCache` keeps, per (symbol, interval) that someone asked for,
the candles of the last ``MAX_INTERVALS`` intervals; each request then asks the
store to aggregate only the trades committed since the previous one (trade ids
above the newest seen), and merges those candles into the kept ones. A window
reaching further back (``end_ts`` paging into the past) is aggregated from the
store for that request alone, over its own interval range only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from exchange.protocol.messages import Candle, CandlesReply, encode_message
from exchange.protocol.requests import CandlesRequest
from exchange.serving.session import ClientSession
from exchange.store.base import TradeBucket, TradeCandles, TradeStore

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from exchange.gateway.core import Gateway

__all__ = ["LATE_NS", "MAX_INTERVALS", "CandleCache", "candles_handler"]

NS: Final = 1_000_000_000
MAX_INTERVALS: Final = 1000
"""The most intervals one request covers (its ``limit``), and what the cache keeps per series."""
LATE_NS: Final = 5 * NS
"""How far before the newest aggregated trade a refresh looks again (a trade journaled after one
stamped a little later, e.g. across a clock step, is still counted once: trade ids decide)."""


def _candle(b: TradeBucket) -> Candle:
    return Candle(ts=b.ts, open=b.open, high=b.high, low=b.low, close=b.close, volume=b.volume, trades=b.trades)


def _merge(old: Candle | None, new: Candle) -> Candle:
    """One interval's candle ``old`` followed by ``new``, a candle of later trades (higher ids) in it."""
    if old is None:
        return new
    return Candle(ts=old.ts, open=old.open, high=max(old.high, new.high), low=min(old.low, new.low),
                  close=new.close, volume=old.volume + new.volume, trades=old.trades + new.trades)


@dataclass(frozen=True)
class _Series:
    """The candles of one (symbol, interval) from ``floor`` on, and the newest trade aggregated.

    Never changed in place, nor are its candles: a reply may still be encoding them on the loop
    while this thread builds the next series.
    """

    floor: int
    last_ts: int
    last_id: int = 0
    by_start: dict[int, Candle] = field(default_factory=dict)

    def from_floor(self, floor: int) -> _Series:
        """The series without the candles before ``floor`` (time moved on)."""
        if floor <= self.floor:
            return self
        kept = {k: c for k, c in self.by_start.items() if k >= floor}
        return _Series(floor=floor, last_ts=self.last_ts, last_id=self.last_id, by_start=kept)

    def merged(self, new: TradeCandles) -> _Series:
        """The series with ``new`` (candles of trades above ``last_id``) merged in."""
        by_start = self.by_start | {b.ts: _merge(self.by_start.get(b.ts), _candle(b)) for b in new.buckets}
        last_ts = self.last_ts if new.last_ts is None else max(self.last_ts, new.last_ts)
        return _Series(floor=self.floor, last_ts=last_ts, last_id=max(self.last_id, new.last_id), by_start=by_start)


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
            return [_candle(b) for b in store.candles(r.symbol, interval_ns, since=start, until=end).buckets]
        series = self._refresh(store, r.symbol, interval_ns, floor)
        return [c for k, c in sorted(series.by_start.items()) if start <= k < end]

    def _refresh(self, store: TradeStore, symbol: str, interval_ns: int, floor: int) -> _Series:
        key = (symbol, interval_ns)
        kept = self._series.get(key)
        series = _Series(floor=floor, last_ts=floor) if kept is None else kept.from_floor(floor)
        since = max(series.floor, series.last_ts - LATE_NS)
        new = store.candles(symbol, interval_ns, since=since, after_id=series.last_id)
        series = self._series[key] = series.merged(new)
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
