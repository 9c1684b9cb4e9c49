"""The ``history`` request against a real server: a trader's fills and finished orders, paged (#13.5)."""

from __future__ import annotations

import asyncio

import pytest

from client.errors import ExchError
from tests.gateway.conftest import Exchange, exchange, make_exchange  # noqa: F401  (fixtures)


async def test_history_pages_fills_and_finished_orders(exchange: Exchange) -> None:  # noqa: F811
    alice = await exchange.trader(shares={"ACME": 10})
    bob = await exchange.trader(cash=1_000_000)
    rests = await alice.order("ACME", "sell", 10, price=4500)  # the maker: filled in three trades
    for qty in (2, 3, 5):
        await bob.order("ACME", "buy", qty, type="market")
    still_open = await bob.order("ACME", "buy", 1, price=4000)
    assert still_open.status == "open"

    async def fills_stored() -> None:  # the trade store is written as the journal commits
        while len((await bob.history()).fills) < 3:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(fills_stored(), 10)
    page = await bob.history(limit=2)
    assert [(f.side, f.qty, f.price, f.liquidity) for f in page.fills] == [("buy", 5, 4500, "taker"),
                                                                           ("buy", 3, 4500, "taker")]
    assert page.next_before == page.fills[-1].trade_id
    rest = await bob.history(before=page.next_before, limit=2)
    assert [f.qty for f in rest.fills] == [2] and rest.next_before is None
    assert {o.order_id for o in page.orders} == {page.fills[0].order_id, page.fills[1].order_id}

    mine = await alice.history()
    assert [(f.side, f.qty, f.liquidity, f.order_id) for f in mine.fills] == [
        ("sell", 5, "maker", rests.order_id), ("sell", 3, "maker", rests.order_id),
        ("sell", 2, "maker", rests.order_id)]
    (order,) = mine.orders
    assert (order.order_id, order.side, order.filled, order.value) == (rests.order_id, "sell", 10, 45_000)
    nothing = await (await exchange.trader()).history()
    assert nothing.fills == [] and nothing.orders == [] and nothing.next_before is None

    with pytest.raises(ExchError) as bad:
        await bob.request("history", limit=501)
    assert bad.value.code == "bad_request" and bad.value.field == "limit"
    admin = await exchange.admin()
    with pytest.raises(ExchError) as forbidden:
        await admin.history()
    assert forbidden.value.code == "forbidden"
