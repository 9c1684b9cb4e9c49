"""The public ``candles`` query: OHLC candles aggregated by the trades store, over the wire."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import time
from collections.abc import Iterable, Sequence

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client import ExchError
from exchange.gateway.candles import MAX_INTERVALS, CandleCache
from exchange.protocol import Candle, CandlesReply, CandlesRequest
from exchange.store.base import Store, Trade, TradeBucket, TradeCandles
from exchange.store.sqlite import SQLiteStore
from tests.conftest import StoreFactory
from tests.gateway.conftest import Exchange, MakeExchange

MINUTE = 60 * 1_000_000_000


def fold_candles(trades: Iterable[Trade], interval_ns: int, start_ns: int, end_ns: int) -> list[Candle]:
    """The reference the store's aggregate must equal: ``trades`` (in trade order) with ``ts`` in
    ``[start_ns, end_ns)`` folded one by one into candles, oldest first (the gateway's fold before
    the database did it)."""
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


def _rows(candles: Sequence[Candle] | Sequence[TradeBucket]) -> list[tuple[int, ...]]:
    """Candles or store buckets as ``(ts, open, high, low, close, volume, trades)`` tuples."""
    return [msgspec.structs.astuple(c) for c in candles]


async def test_candles_fold_the_trades_and_need_no_login(exchange: Exchange) -> None:
    seller = await exchange.trader(shares={"ACME": 100})
    buyer = await exchange.trader(cash=10_000_000)
    for price, qty in [(10120, 5), (10130, 7), (10115, 3), (10125, 10)]:
        await seller.order("ACME", "sell", qty, price=price)
        await buyer.order("ACME", "buy", qty, price=price)
    anonymous = await exchange.connect()
    reply = await anonymous.request("candles", symbol="ACME", interval_s=3600)
    assert isinstance(reply, CandlesReply)
    assert (reply.symbol, reply.interval_s) == ("ACME", 3600)
    # All four trades fall in this hour (or, across an hour boundary, in two candles).
    assert sum(c.trades for c in reply.candles) == 4
    assert sum(c.volume for c in reply.candles) == 25
    assert reply.candles[0].open == 10120 and reply.candles[-1].close == 10125
    assert max(c.high for c in reply.candles) == 10130 and min(c.low for c in reply.candles) == 10115
    assert all(c.ts % (3600 * 10**9) == 0 for c in reply.candles)
    assert (await anonymous.request("candles", symbol="BOLT")).candles == []  # type: ignore[union-attr]
    # A window that ends before the trades holds none of them.
    past = await anonymous.request("candles", symbol="ACME", end_ts=time.time_ns() - 3 * 86400 * 10**9)
    assert past.candles == []  # type: ignore[union-attr]


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"symbol": "NOPE"}, "unknown_symbol", "symbol"),
    ({"symbol": "ACME", "interval_s": 61}, "bad_request", "interval_s"),
    ({"symbol": "ACME", "limit": 0}, "bad_request", "limit"),
    ({"symbol": "ACME", "limit": 1001}, "bad_request", "limit"),
    ({"symbol": "ACME", "end_ts": -1}, "bad_request", "end_ts"),
    ({}, "bad_request", "symbol"),
])
async def test_bad_candles_requests_get_a_precise_error(
    exchange: Exchange, fields: dict[str, object], code: str, field: str
) -> None:
    s = await exchange.connect()
    with pytest.raises(ExchError) as err:
        await s.request("candles", **fields)
    assert (err.value.code, err.value.field) == (code, field)
    assert (await s.ping()).ts > 0  # the connection stays usable


def _trade(ts: int, price: int, qty: int, trade_id: int) -> Trade:
    return Trade(trade_id, trade_id, ts, "ACME", price, qty, "sell", 1, trade_id, 2, 100 + trade_id)


def test_the_store_buckets_by_interval_and_leaves_out_quiet_ones_and_the_window_edges(store: Store) -> None:
    t0 = 1_700_000_040 * 10**9  # a minute boundary
    trades = [
        _trade(t0 - 1, 9999, 1, 1),           # before the window
        _trade(t0, 10000, 2, 2),
        _trade(t0 + MINUTE - 1, 10050, 3, 3),
        _trade(t0 + 3 * MINUTE + 5, 9900, 4, 4),  # minutes 1 and 2 are quiet
        _trade(t0 + 2 * MINUTE, 10010, 1, 5),     # out of time order (a clock step back): still its own bucket
        _trade(t0 + 3 * MINUTE + 1, 9950, 2, 6),  # stamped before trade 4, traded after it: the close
        _trade(t0 + 4 * MINUTE, 1, 1, 7),         # at the window's end: excluded
    ]
    store.add_trades([*trades, Trade(8, 8, t0, "BOLT", 1, 1, "sell", 1, 8, 2, 108)])  # another symbol
    expected = [
        Candle(ts=t0, open=10000, high=10050, low=10000, close=10050, volume=5, trades=2),
        Candle(ts=t0 + 2 * MINUTE, open=10010, high=10010, low=10010, close=10010, volume=1, trades=1),
        Candle(ts=t0 + 3 * MINUTE, open=9900, high=9950, low=9900, close=9950, volume=6, trades=2),
    ]
    assert fold_candles(trades, MINUTE, t0, t0 + 4 * MINUTE) == expected
    got = store.candles("ACME", MINUTE, since=t0, until=t0 + 4 * MINUTE)
    assert _rows(got.buckets) == _rows(expected)
    assert (got.last_id, got.last_ts) == (6, t0 + 3 * MINUTE + 5)
    later = store.candles("ACME", MINUTE, since=t0, after_id=4)  # no end; only trades after id 4
    assert _rows(later.buckets) == [(t0 + 2 * MINUTE, 10010, 10010, 10010, 10010, 1, 1),
                                    (t0 + 3 * MINUTE, 9950, 9950, 9950, 9950, 2, 1),
                                    (t0 + 4 * MINUTE, 1, 1, 1, 1, 1, 1)]
    assert (later.last_id, later.last_ts) == (7, t0 + 4 * MINUTE)
    assert store.candles("ACME", MINUTE, since=t0, after_id=7) == TradeCandles(buckets=[], last_id=0, last_ts=None)


_example_ids = itertools.count(1)
_made = st.lists(
    st.tuples(
        st.integers(-120, 120),  # ts, in units, around the base: several trades to an interval, out of trade order
        st.integers(1, 100),  # price
        st.integers(1, 10**9),  # qty
        st.integers(1, 3),  # gap to the previous trade id
        st.integers(0, 4).map(lambda k: k == 0),  # one in five of another symbol
    ),
    min_size=3,
    max_size=40,
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    made=_made,
    base=st.sampled_from([0, 1_700_000_000 * 10**9]),
    unit=st.sampled_from([1, 1_000_000]),
    width=st.sampled_from([1, 7, 60, 1000]),
    window=st.tuples(st.integers(-150, 150), st.integers(0, 300)),  # start and length, in units
    open_ended=st.booleans(),
    counted=st.integers(0, 3),  # the first trades already counted: after_id is the last of them
)
def test_the_store_aggregate_equals_the_python_fold(
    store: Store, made: list[tuple[int, int, int, int, bool]], base: int, unit: int, width: int,
    window: tuple[int, int], open_ended: bool, counted: int,
) -> None:
    """Any trades (timestamps out of trade order, negative ones, several to an interval, another symbol
    among them), any window, the first few trades already counted (``after_id``) or not: the database's
    candles are the Python fold's, and ``last_id``/``last_ts`` the newest trade it covered."""
    n = next(_example_ids)
    symbol, first_id = f"S{n}", n * 1000  # each example its own symbol and trade ids, in the one store
    trades, trade_id = [], first_id
    for offset, price, qty, gap, other in made:
        trade_id += gap
        trades.append(Trade(trade_id, trade_id, base + offset * unit, symbol + "X" * other, price, qty,
                            "buy", 1, trade_id, 2, trade_id))
    store.add_trades(trades)
    interval = width * unit
    since, until = base + window[0] * unit, base + (window[0] + window[1]) * unit
    end = 2**63 if open_ended else until
    after_id = trades[counted - 1].trade_id if 0 < counted <= len(trades) else first_id
    covered = [t for t in trades if t.symbol == symbol and t.trade_id > after_id and since <= t.ts < end]
    got = store.candles(symbol, interval, since=since, until=None if open_ended else until, after_id=after_id)
    assert _rows(got.buckets) == _rows(fold_candles(covered, interval, since, end))
    assert got.last_id == max((t.trade_id for t in covered), default=0)
    assert got.last_ts == max((t.ts for t in covered), default=None)


def test_the_cache_folds_only_new_trades_and_matches_a_full_fold(store: Store) -> None:
    """Each request aggregates only what was committed since the last; the answer equals folding everything."""
    now = 1_700_000_000 * 10**9 + 30 * 10**9
    t0 = now - now % MINUTE - 10 * MINUTE
    cache = CandleCache()
    request = CandlesRequest(symbol="ACME", interval_s=60, limit=20)
    store.add_trades([_trade(t0 + i * 20 * 10**9, 10000 + i, 1, i + 1) for i in range(15)])
    first = cache.candles(store, request, now)
    assert sum(c.trades for c in first) == 15
    # More trades, one of them stamped before the newest folded (a clock step back of 2 s).
    late = [_trade(t0 + 15 * 20 * 10**9, 10100, 5, 16), _trade(t0 + 14 * 20 * 10**9 - 2 * 10**9, 9000, 2, 17)]
    store.add_trades(late)
    second = cache.candles(store, request, now)
    window_end = now - now % MINUTE + MINUTE
    everything = fold_candles(store.trades(symbol="ACME"), MINUTE, window_end - 20 * MINUTE, window_end)
    assert second == everything
    assert sum(c.trades for c in second) == 17 and min(c.low for c in second) == 9000
    assert first[-1].close != second[-1].close or len(second) > len(first)  # the new trades changed the answer
    # The reply's candles are never changed: merging more in later does not change what was answered.
    store.add_trades([_trade(t0 + 16 * 20 * 10**9, 1, 1, 18)])
    snapshot = [c.low for c in second]
    cache.candles(store, request, now)
    assert [c.low for c in second] == snapshot
    # A window beyond what the cache keeps (paging far back) is aggregated for that request alone.
    old = CandlesRequest(symbol="ACME", interval_s=60, limit=5, end_ts=now - 2000 * MINUTE)
    assert cache.candles(store, old, now) == []
    store.add_trades([_trade(now - 2000 * MINUTE, 4242, 3, 19)])
    assert [(c.open, c.volume) for c in cache.candles(store, old, now)] == [(4242, 3)]


def test_the_cache_forgets_candles_that_fall_out_of_the_window(store: Store) -> None:
    now = 1_700_000_000 * 10**9
    cache = CandleCache()
    request = CandlesRequest(symbol="ACME", interval_s=60, limit=MAX_INTERVALS)
    store.add_trades([_trade(now - 999 * MINUTE, 10000, 1, 1), _trade(now, 10001, 1, 2)])
    assert len(cache.candles(store, request, now)) == 2
    later = now + 2 * MINUTE  # the oldest candle is now more than MAX_INTERVALS intervals back
    assert [c.open for c in cache.candles(store, request, later)] == [10001]


def test_a_window_in_the_past_reads_only_its_own_trades_from_the_store(store: Store) -> None:
    """Paging far back (or any ``end_ts`` before the cache's window) reads the window's trades, not every
    trade since its start: an anonymous request could otherwise scan the whole history on the store thread."""
    now = 1_700_000_000 * 10**9
    old = now - 3000 * MINUTE
    store.add_trades([_trade(old + i * MINUTE, 10000 + i, 1, i + 1) for i in range(5)])  # in the window
    store.add_trades([_trade(now - i * MINUTE, 20000, 1, 100 + i) for i in range(50)])  # after it
    asked: list[tuple[int, int | None]] = []
    read: list[int] = []

    class Counting:
        """The real store, with the ranges asked of its ``candles`` and the trades they covered counted
        (and no ``trades``: the cache reads no trade one by one)."""

        def candles(
            self, symbol: str, interval_ns: int, *, since: int, until: int | None = None, after_id: int = 0
        ) -> TradeCandles:
            got = store.candles(symbol, interval_ns, since=since, until=until, after_id=after_id)
            asked.append((since, until))
            read.append(sum(b.trades for b in got.buckets))
            return got

    request = CandlesRequest(symbol="ACME", interval_s=60, limit=10, end_ts=old + 5 * MINUTE)
    candles = CandleCache().candles(Counting(), request, now)  # type: ignore[arg-type]
    assert [c.open for c in candles] == [10000 + i for i in range(5)]
    end = old + 5 * MINUTE - (old + 5 * MINUTE) % MINUTE + MINUTE
    assert asked == [(end - 10 * MINUTE, end)]  # the window's 10 minutes, bounded at both ends
    assert read == [5]  # not the 50 later trades


async def test_a_long_candles_fold_does_not_hold_a_login_behind_it(make_exchange: MakeExchange) -> None:
    """Anyone may ask for candles, and the first request of a series folds its whole window; that runs on
    a thread and store connection of its own, so a login (which reads the users on the store's thread)
    is answered while the fold still runs."""
    ex = make_exchange()
    name, password = await ex.add_user()
    history = SQLiteStore(ex.home, bcrypt_rounds=4)  # a second connection beside the running server
    now, day = time.time_ns(), 86400 * 10**9
    history.add_trades([_trade(now - (i % 900) * day - i, 10000, 1, 10**6 + i) for i in range(300_000)])
    history.close()
    anonymous = await ex.connect()
    folding = asyncio.create_task(anonymous.request("candles", symbol="ACME", interval_s=86400, limit=1000))
    await asyncio.sleep(0.05)  # the request has reached the server and its fold has started
    trader = await ex.connect()
    await trader.login(name, password)
    logged_in_while_folding = not folding.done()
    reply = await folding
    assert isinstance(reply, CandlesReply) and sum(c.trades for c in reply.candles) == 300_000
    assert logged_in_while_folding


def _cpu_wait() -> float | None:
    """Seconds this thread has waited for a CPU while runnable (Linux's run-queue delay, in
    ``/proc/thread-self/schedstat``); None where the system does not say."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def test_a_first_fold_over_a_long_history_leaves_the_gil_to_the_other_threads(
    store: Store, store_factory: StoreFactory
) -> None:
    """The first request of a series covers up to 1,000 intervals: here 300,000 trades. The database
    aggregates them (its driver releases the GIL meanwhile), so the thread asking holds the GIL for
    moments only, and this thread, waking every 10 ms, is seldom held up. Folded in Python, the
    trades held it up for a quarter (SQLite's driver lets go of the GIL between rows) to two thirds
    (psycopg's does not) of the fold.

    The switch interval is raised to 1 s meanwhile: a thread running Python then keeps the GIL until
    it blocks, so whatever the fold holds shows in full as this thread's stall, not as a share of
    5 ms slices. The time this thread waited for a CPU (other processes, or the database's own
    work on a busy machine) is not the GIL's doing and is not counted."""
    if _cpu_wait() is None:
        pytest.skip("the system does not report a thread's CPU waits (/proc/thread-self/schedstat), which this "
                    "test tells apart from the GIL's")
    now, day = time.time_ns(), 86400 * 10**9
    store.add_trades([_trade(now - (i % 900) * day - i, 10000 + i % 7, 1, 10**6 + i) for i in range(300_000)])
    reader = store_factory()  # a connection of its own, as the gateway's queries thread has
    request = CandlesRequest(symbol="ACME", interval_s=86400, limit=MAX_INTERVALS)
    answers: list[list[Candle]] = []

    def first_folds() -> None:
        for _ in range(3):  # a fresh cache each time: three first folds, a second or more to watch
            answers.append(CandleCache().candles(reader, request, now))

    folding = threading.Thread(target=first_folds, name="candles")
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        stalled, started = 0.0, time.perf_counter()
        folding.start()
        while folding.is_alive():
            woke, waited = time.perf_counter(), (_cpu_wait() or 0.0)
            time.sleep(0.01)
            late = time.perf_counter() - woke - 0.01
            stalled += max(0.0, late - ((_cpu_wait() or 0.0) - waited))
        elapsed = time.perf_counter() - started
    finally:
        sys.setswitchinterval(switch)
        folding.join()
    assert [sum(c.trades for c in a) for a in answers] == [300_000] * 3
    assert stalled < 0.1 * elapsed, f"held up {stalled * 1e3:.0f} ms of the folds' {elapsed * 1e3:.0f} ms"
