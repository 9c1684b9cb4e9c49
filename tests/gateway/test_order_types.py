"""Stop, good-till-date and iceberg orders end to end: real server, TLS, the client library.

A stop triggers after a trade and fills against another user without ever
showing on the public feed before; a good-till-date order expires on a quiet
market (the server's periodic expiry) and across a ``kill -9`` and restart;
an iceberg's hidden part refreshes at the back of its level.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from client import BookKeeper, ExchError, Session
from exchange.protocol import DoneMessage, FillMessage, L3Message, TriggeredMessage

from .conftest import Exchange, Pushes, StartProc, unique

SEC = 10**9


async def _trade(ex: Exchange, price: int) -> None:
    """One trade at ``price`` between two fresh users."""
    seller = await ex.trader(shares={"ACME": 1})
    buyer = await ex.trader(cash=price)
    await seller.order("ACME", "sell", 1, price=price)
    ack = await buyer.order("ACME", "buy", 1, price=price)
    assert ack.status == "filled"


async def test_a_stop_waits_unseen_then_fills_against_another_user(exchange: Exchange) -> None:
    await _trade(exchange, 10_000)
    watcher = await exchange.connect()
    feed = Pushes(watcher)
    keeper = BookKeeper(watcher)
    await keeper.track("ACME", level3=True)
    owner = await exchange.trader(cash=1_000_000)
    mine = Pushes(owner)
    seller = await exchange.trader(shares={"ACME": 20})
    theirs = Pushes(seller)

    ack = await owner.order("ACME", "buy", 5, type="stop", stop_price=10_050, client_order_id="stop-1")
    assert (ack.status, ack.remaining) == ("pending", 5)
    [info] = (await owner.orders()).orders
    assert (info.type, info.status, info.stop_price, info.price, info.triggered) == (
        "stop", "pending", 10_050, None, False,
    )
    assert (await owner.balance()).cash_held == 0  # a stop buy holds nothing
    with pytest.raises(ExchError) as refused:
        await owner.order("ACME", "buy", 5, type="stop", stop_price=9_990)
    assert (refused.value.code, refused.value.field) == ("would_trigger", "stop_price")

    rest = await seller.order("ACME", "sell", 10, price=10_060)
    await seller.order("ACME", "sell", 1, price=10_050)
    taker = await exchange.trader(cash=1_000_000)
    await taker.order("ACME", "buy", 1, price=10_050)  # prints 10,050: the stop triggers

    [note] = await mine.wait(TriggeredMessage, order_id=ack.order_id)
    assert (note.client_order_id, note.stop_price, note.status, note.remaining) == ("stop-1", 10_050, "filled", 0)
    fills = await mine.wait(FillMessage, order_id=ack.order_id)
    assert [(f.price, f.qty, f.liquidity) for f in fills] == [(10_060, 5, "taker")]
    assert mine.items.index(note) < mine.items.index(fills[0])
    await mine.wait(DoneMessage, order_id=ack.order_id, reason="filled")
    await theirs.wait(FillMessage, price=10_060, qty=5, liquidity="maker")
    assert (await owner.orders()).orders == []
    assert (await owner.balance()).positions["ACME"].qty == 5

    # The public feed never showed the stop before it triggered (a market order never rests).
    await keeper.wait_until(lambda: keeper["ACME"].orders("sell") == [[rest.order_id, 10_060, 5]], timeout=10)
    assert not [m for m in feed.of(L3Message) if m.order_id == ack.order_id]
    assert all(m.taker_order_id == ack.order_id for m in feed.of(L3Message, event="match", price=10_060))


async def test_a_stop_limit_is_canceled_releasing_its_hold(exchange: Exchange) -> None:
    owner = await exchange.trader(cash=1_000_000, shares={"ACME": 10})
    buy = await owner.order("ACME", "buy", 4, type="stop_limit", price=10_100, stop_price=10_090)
    sell = await owner.order("ACME", "sell", 6, type="stop_limit", price=9_000, stop_price=9_100)
    balance = await owner.balance()
    assert (balance.cash_held, balance.positions["ACME"].held) == (40_400, 6)
    moved = await owner.replace(sell.order_id, stop_price=9_050, qty=3)
    assert (moved.status, moved.remaining) == ("pending", 3)
    assert (await owner.cancel(buy.order_id)).remaining == 4
    assert (await owner.cancel_all()).count == 1
    balance = await owner.balance()
    assert (balance.cash_held, balance.positions["ACME"].held) == (0, 0)


async def test_gtd_expires_on_a_quiet_market(exchange: Exchange) -> None:
    owner = await exchange.trader(cash=1_000_000)
    mine = Pushes(owner)
    watcher = await exchange.connect()
    feed = Pushes(watcher)
    await watcher.subscribe(["level3"], ["ACME"])
    expire_ts = time.time_ns() + SEC // 5
    ack = await owner.order("ACME", "buy", 3, price=9_000, tif="gtd", expire_ts=expire_ts)
    assert ack.status == "open"
    [info] = (await owner.orders()).orders
    assert (info.tif, info.expire_ts) == ("gtd", expire_ts)
    [done] = await mine.wait(DoneMessage, order_id=ack.order_id)  # nobody sends anything meanwhile
    assert (done.reason, done.remaining) == ("expired", 3)
    assert done.ts >= expire_ts
    await feed.wait(L3Message, event="done", order_id=ack.order_id, reason="expired")
    assert (await owner.balance()).cash_held == 0
    with pytest.raises(ExchError) as refused:
        await owner.order("ACME", "buy", 3, price=9_000, tif="gtd", expire_ts=time.time_ns() - 1)
    assert (refused.value.code, refused.value.field) == ("bad_request", "expire_ts")


async def test_iceberg_shows_a_part_and_refreshes_at_the_back(exchange: Exchange) -> None:
    watcher = await exchange.connect()
    keeper = BookKeeper(watcher)
    await keeper.track("ACME", level3=True, level2=True)
    ice_owner = await exchange.trader(shares={"ACME": 10})
    mine = Pushes(ice_owner)
    other = await exchange.trader(shares={"ACME": 2})
    ice = await ice_owner.order("ACME", "sell", 10, price=10_000, display_qty=3)
    assert (ice.status, ice.remaining) == ("open", 10)
    rival = await other.order("ACME", "sell", 2, price=10_000)
    book = keeper["ACME"]
    await keeper.wait_until(lambda: len(book.orders("sell")) == 2, timeout=10)
    assert book.orders("sell") == [[ice.order_id, 10_000, 3], [rival.order_id, 10_000, 2]]
    assert (await ice_owner.balance()).positions["ACME"].held == 10

    buyer = await exchange.trader(cash=10_000_000)
    await buyer.order("ACME", "buy", 4, price=10_000)
    [fill] = await mine.wait(FillMessage, order_id=ice.order_id)
    assert (fill.qty, fill.remaining) == (3, 7)  # the whole open quantity
    await keeper.wait_until(lambda: book.orders("sell") == [[rival.order_id, 10_000, 1], [ice.order_id, 10_000, 3]],
                            timeout=10)
    assert book.levels("sell") == [(10_000, 4)]
    [info] = (await ice_owner.orders()).orders
    assert (info.remaining, info.display_qty, info.status) == (7, 3, "partially_filled")
    assert not mine.of(DoneMessage)  # a refresh is no done for the owner


async def _login(url: str, home: Path, name: str) -> Session:
    session = await Session.connect(url, home=home, proxy=None)
    await session.login(name, f"pw-{name}")
    return session


async def test_gtd_expires_across_kill_9_and_replays_the_same(tmp_path: Path, proc_server: StartProc) -> None:
    home = tmp_path / "home"
    server = proc_server(home)
    admin = await Session.connect(server.url, home=home, proxy=None)
    await admin.login("admin", server.admin_password)
    name = unique("gtd")
    await admin.user_add(name, f"pw-{name}", cash=1_000_000, positions={"ACME": 10})
    await admin.close()
    owner = await _login(server.url, home, name)
    expire_ts = time.time_ns() + 2 * SEC
    gtd = await owner.order("ACME", "sell", 4, price=12_000, tif="gtd", expire_ts=expire_ts)
    keep = await owner.order("ACME", "sell", 2, price=12_500)
    await owner.close()
    server.signal(signal.SIGKILL)  # before the expiry
    assert server.wait() == -signal.SIGKILL
    while time.time_ns() <= expire_ts:  # let the expiry pass while the server is down
        await asyncio.sleep(0.1)

    restarted = proc_server(home)
    owner = await _login(restarted.url, home, name)
    async with asyncio.timeout(30):
        while [o.order_id for o in (await owner.orders()).orders] != [keep.order_id]:
            await asyncio.sleep(0.05)  # the first tick after the restart expires it
    with pytest.raises(ExchError):  # a reply waits for the journal: the expiry is durable now
        await owner.cancel(10**9)
    after = ((await owner.orders()).orders, (await owner.balance()).positions)
    assert after[1]["ACME"].held == 2
    assert gtd.order_id not in {o.order_id for o in after[0]}
    await owner.close()
    restarted.signal(signal.SIGKILL)
    assert restarted.wait() == -signal.SIGKILL

    again = proc_server(home)  # replays the journaled expiry: the same state
    owner = await _login(again.url, home, name)
    assert ((await owner.orders()).orders, (await owner.balance()).positions) == after
    await owner.close()
