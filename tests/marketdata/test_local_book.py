"""Local books kept by :class:`client.BookKeeper` equal the engine's books (real server, TLS, sockets).

After a random trading session every subscriber — real-time, conflated
(``interval_ms``), one that joined half-way, one that loses messages on purpose
— holds exactly the engine's book: the same orders (ids, prices, quantities) in
the same priority order, the same levels, the same ticker, at the same ``seq``.
The engine's book comes from recovering the stopped server's home.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client import BookKeeper, ExchError

from .localbook_helpers import (
    SYMBOLS,
    TRADERS,
    WAIT,
    Action,
    BookState,
    Market,
    assert_equal_to_engine,
    engine_states,
    keeper_state,
    wait_all,
)

EXAMPLES = 15

_trader = st.integers(0, TRADERS - 1)
_symbol = st.sampled_from(SYMBOLS)
_side = st.sampled_from(["buy", "sell"])
_price = st.integers(95, 105)
_qty = st.integers(1, 20)
_pick = st.integers(0, 1000)
_offset = st.integers(-2, 5)  # from 100 away from the other side: mostly resting, sometimes crossing


def price_for(side: str, offset: int) -> int:
    """A limit price ``offset`` ticks below 100 for a buy, above for a sell."""
    return 100 - offset if side == "buy" else 100 + offset


_limit = st.tuples(_trader, _symbol, _side, _offset, _qty, st.sampled_from(["gtc", "gtc", "gtc", "ioc"])).map(
    lambda t: ("limit", t[0], t[1], t[2], price_for(t[2], t[3]), t[4], t[5])
)
_order = st.tuples(_symbol, _side, _offset, _qty).map(lambda t: (t[0], t[1], price_for(t[1], t[2]), t[3]))
_stop = st.tuples(_trader, _symbol, _side, st.integers(-3, 4), _qty, st.none() | st.integers(-2, 3)).map(
    lambda t: ("stop", t[0], t[1], t[2], 100 + t[3] if t[2] == "buy" else 100 - t[3], t[4],
               None if t[5] is None else price_for(t[2], t[5]))
)
_iceberg = st.tuples(_trader, _symbol, _side, _offset, st.integers(4, 30), st.integers(1, 3)).map(
    lambda t: ("iceberg", t[0], t[1], t[2], price_for(t[2], t[3]), t[4], t[5])
)
_gtd = st.tuples(_trader, _symbol, _side, _offset, _qty, st.sampled_from([1, 50, 3_600_000])).map(
    lambda t: ("gtd", t[0], t[1], t[2], price_for(t[2], t[3]), t[4], t[5], None)
)
actions = st.one_of(
    _limit,
    _limit,
    _limit,
    _stop,
    _iceberg,
    _gtd,
    st.tuples(st.just("market"), _trader, _symbol, _side, st.integers(1, 10)),
    st.tuples(st.just("cancel"), _trader, _pick),
    st.tuples(st.just("replace"), _trader, _pick, st.none() | _price, _qty),
    st.tuples(st.just("replace"), _trader, _pick, _price, st.none()),
    st.tuples(st.just("batch"), _trader, st.lists(_order, min_size=2, max_size=6)),
)


async def scenario(root: Path, plan: list[Action], every: int, *, halt: bool = False) -> tuple[int, int]:
    """Trade ``plan`` with several subscribers attached; check them all against the engine.

    Returns:
        The messages the real-time lossy keeper dropped, and its resyncs.
    """
    market = await Market.start(root)
    try:
        live = await market.keeper()
        await live.track(SYMBOLS, level3=True, level2=True, ticker=True, trades=True)
        conflated = await market.keeper()
        await conflated.track(SYMBOLS, level3=True, level2=True, ticker=True, interval_ms=50)
        levels_only = await market.keeper()
        await levels_only.track(SYMBOLS, level3=False, level2=True, interval_ms=100)
        lossy = await market.lossy_keeper(every)
        await lossy.track(SYMBOLS, level3=True, level2=True)
        lossy_conflated = await market.lossy_keeper(2)
        await lossy_conflated.track(SYMBOLS, level3=False, level2=True, interval_ms=50)
        keepers: dict[str, BookKeeper] = {
            "live": live, "conflated": conflated, "levels_only": levels_only, "lossy": lossy,
            "lossy_conflated": lossy_conflated,
        }

        half = len(plan) // 2
        for action in plan[:half]:
            await market.play(action)
        if halt:
            await market.admin.halt("ACME")
            await live.wait_until(lambda: live["ACME"].halted, timeout=WAIT)
            with pytest.raises(ExchError) as refused:
                await market.traders[0].order("ACME", "buy", 1, price=1)
            assert refused.value.code == "halted" and live["ACME"].synced
            await market.admin.resume("ACME")
            await live.wait_until(lambda: not live["ACME"].halted, timeout=WAIT)
        late = await market.keeper()
        await late.track(SYMBOLS, level3=True, level2=True)
        keepers["late"] = late
        for action in plan[half:]:
            await market.play(action)

        lossy.dropping = lossy_conflated.dropping = False
        await market.tail()
        seqs = await market.last_seqs()
        await wait_all(keepers, seqs)
        states: dict[str, dict[str, BookState]] = {
            name: {symbol: keeper_state(keeper, symbol) for symbol in SYMBOLS} for name, keeper in keepers.items()
        }
        assert lossy.dropped == 0 or lossy.resyncs > 0
        assert lossy_conflated.dropped == 0 or lossy_conflated.resyncs > 0
        assert live.resyncs == conflated.resyncs == levels_only.resyncs == late.resyncs == 0
        assert all(book.status == "trading" for book in live.books.values())

        await market.stop()
        for name, keeper in keepers.items():
            assert keeper.closed is not None and keeper.closed.code == 1001, name
            assert not keeper.synced and not any(book.synced for book in keeper.books.values()), name
    finally:
        await market.close()

    engine = engine_states(market.home)
    for symbol in SYMBOLS:
        assert engine[symbol].seq == seqs[symbol]
        for name, per_symbol in states.items():
            assert_equal_to_engine(f"{name} {symbol}", per_symbol[symbol], engine[symbol])
    return lossy.dropped, lossy.resyncs


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=st.lists(actions, min_size=1, max_size=40), every=st.sampled_from([2, 3, 7]))
def test_every_local_book_equals_the_engine_book(
    tmp_path_factory: pytest.TempPathFactory, plan: list[Action], every: int
) -> None:
    asyncio.run(scenario(tmp_path_factory.mktemp("localbook"), plan, every))


def test_dropped_messages_are_noticed_and_resynced_to_the_engine_book(tmp_path: Path) -> None:
    rng = random.Random(5)
    plan: list[Action] = []
    for _ in range(80):
        kind = rng.choice(["limit", "limit", "limit", "limit", "market", "cancel", "replace", "stop", "iceberg", "gtd"])
        who, symbol, side = rng.randrange(TRADERS), rng.choice(SYMBOLS), rng.choice(["buy", "sell"])
        if kind == "limit":
            plan.append(("limit", who, symbol, side, price_for(side, rng.randint(-2, 5)), rng.randint(1, 20), "gtc"))
        elif kind == "market":
            plan.append(("market", who, symbol, side, rng.randint(1, 10)))
        elif kind == "cancel":
            plan.append(("cancel", who, rng.randrange(1000)))
        elif kind == "stop":
            offset = rng.randint(-1, 4)
            stop_price = 100 + offset if side == "buy" else 100 - offset
            limit = rng.choice([None, price_for(side, rng.randint(-2, 3))])
            plan.append(("stop", who, symbol, side, stop_price, rng.randint(1, 20), limit))
        elif kind == "iceberg":
            plan.append(("iceberg", who, symbol, side, price_for(side, rng.randint(-2, 3)), rng.randint(6, 30),
                         rng.randint(1, 5)))
        elif kind == "gtd":
            plan.append(("gtd", who, symbol, side, price_for(side, rng.randint(-2, 5)), rng.randint(1, 20),
                         rng.choice([1, 30, 3_600_000]), rng.choice([None, 1])))
        else:
            plan.append(("replace", who, rng.randrange(1000), rng.randint(95, 105), rng.randint(1, 20)))
    dropped, resyncs = asyncio.run(scenario(tmp_path, plan, 3, halt=True))
    assert dropped > 0 and resyncs > 0
