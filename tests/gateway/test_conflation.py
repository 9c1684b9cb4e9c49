"""``interval_ms`` conflation of ticker/level2, and the connection cap."""

from __future__ import annotations

import itertools

import pytest

from client import ConnectError
from exchange.protocol import L2Message, SnapshotMessage, TickerMessage
from exchange.serving.limits import GatewayLimits

from .conftest import Exchange, MakeExchange, Pushes

CHANGES = 10


def apply_l2(snapshot: SnapshotMessage, updates: list[L2Message]) -> dict[tuple[str, int], int]:
    """A level-2 book from a snapshot and the updates after it."""
    book = {("buy", p): q for p, q in snapshot.bids or []}
    book.update({("sell", p): q for p, q in snapshot.asks or []})
    for m in updates:
        for side, price, qty in m.changes:
            if qty:
                book[(side, price)] = qty
            else:
                book.pop((side, price), None)
    return book


async def test_interval_ms_conflates_ticker_and_level2_to_the_net_changes(exchange: Exchange) -> None:
    trader = await exchange.trader(cash=10**7)
    live, fast, slow = [await exchange.connect() for _ in range(3)]
    p_live, p_fast, p_slow = Pushes(live), Pushes(fast), Pushes(slow)
    await live.subscribe(["ticker", "level2"], "ACME")
    reply = await fast.subscribe(["ticker", "level2"], "ACME", interval_ms=50)
    assert reply.interval_ms == 50
    await slow.subscribe(["ticker", "level2"], "ACME", interval_ms=60_000)
    snaps = {}
    for name, pushes in (("live", p_live), ("fast", p_fast), ("slow", p_slow)):
        found = await pushes.wait(SnapshotMessage, 2)
        snaps[name] = next(m for m in found if m.channel == "level2")

    acks = [await trader.order("ACME", "buy", 1 + i, price=100 + i) for i in range(CHANGES)]
    await trader.cancel(acks[3].order_id)
    await trader.replace(acks[5].order_id, qty=2)
    final = await p_live.wait(L2Message, CHANGES + 2)
    expected = apply_l2(snaps["live"], final)
    assert len(expected) == CHANGES - 1 and expected[("buy", 105)] == 2

    # 50 ms: fewer or as many messages, and the net changes give the same book
    await p_fast.wait_until(lambda _: apply_l2(snaps["fast"], p_fast.of(L2Message)) == expected)
    fast_l2 = p_fast.of(L2Message)
    assert len(fast_l2) <= len(final)
    for before, after in itertools.pairwise(fast_l2):
        assert after.first_seq == before.seq + 1  # contiguous ranges: no gap, no overlap
    await p_fast.wait_until(lambda items: any(isinstance(m, TickerMessage) and m.bid == 109 for m in items))

    # 60 s: at most one of each during this test (which takes far less than a minute)
    await slow.ping()
    assert len(p_slow.of(L2Message)) <= 1 and len(p_slow.of(TickerMessage)) <= 1
    assert len(p_live.of(TickerMessage)) == CHANGES + 2


async def test_connections_over_the_cap_are_refused(make_exchange: MakeExchange) -> None:
    ex = make_exchange(limits=GatewayLimits(max_connections=2))
    first = await ex.connect()
    await ex.connect()
    with pytest.raises(ConnectError) as info:
        await ex.connect()
    assert "503" in str(info.value)
    await first.close()
    await (await ex.connect()).ping()  # a slot came free
