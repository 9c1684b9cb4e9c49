"""Every request of protocol v1 over real TLS, with its reply type and fields."""

from __future__ import annotations

import json
import time

from websockets.asyncio.client import connect as ws_connect

from client import ExchError
from exchange.protocol import (
    AckMessage,
    BalanceReply,
    CanceledAllReply,
    CanceledReply,
    DoneMessage,
    ErrorMessage,
    FillMessage,
    L2Message,
    L3Message,
    OrderRequest,
    SnapshotMessage,
    StatsMessage,
    TickerMessage,
    TradeMessage,
)

from .conftest import Exchange, Pushes, ca_context, unique

CASH = 1_000_000


async def test_login_replies_with_user_role_and_a_token(exchange: Exchange) -> None:
    name, password = await exchange.add_user()
    s = await exchange.connect()
    before = time.time_ns()
    reply = await s.login(name, password)
    assert reply.user == name and reply.role == "trader"
    assert reply.token and reply.token_expires_ts > before
    admin = await exchange.connect()
    assert (await admin.login("admin", exchange.admin_password)).role == "admin"


async def test_gtc_limit_order_rests_and_is_listed_with_every_field(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH)
    ack = await s.order("ACME", "buy", 7, price=1234, client_order_id="mine-1")
    assert isinstance(ack, AckMessage)
    assert ack.order_id > 0 and ack.client_order_id == "mine-1"
    assert (ack.symbol, ack.side, ack.status, ack.remaining) == ("ACME", "buy", "open", 7)
    (o,) = (await s.orders()).orders
    assert (o.order_id, o.client_order_id, o.symbol, o.side) == (ack.order_id, "mine-1", "ACME", "buy")
    assert (o.type, o.tif, o.post_only, o.price, o.qty, o.remaining, o.status) == (
        "limit",
        "gtc",
        False,
        1234,
        7,
        7,
        "open",
    )
    assert o.ts == ack.ts
    bal = await s.balance()
    assert (bal.cash, bal.cash_held) == (CASH, 7 * 1234)


async def test_limit_ioc_fills_what_it_can_and_expires_the_rest(exchange: Exchange) -> None:
    seller = await exchange.trader(shares={"ACME": 100})
    buyer = await exchange.trader(cash=CASH)
    seller_pushes, buyer_pushes = Pushes(seller), Pushes(buyer)
    rest = await seller.order("ACME", "sell", 5, price=100, client_order_id="s1")
    ack = await buyer.order("ACME", "buy", 8, price=101, tif="ioc", client_order_id="b1")
    assert (ack.status, ack.remaining) == ("canceled", 0)
    (fill,) = await buyer_pushes.wait(FillMessage)
    assert (fill.order_id, fill.client_order_id, fill.symbol, fill.side) == (
        ack.order_id,
        "b1",
        "ACME",
        "buy",
    )
    assert (fill.price, fill.qty, fill.remaining, fill.liquidity) == (100, 5, 3, "taker")
    (done,) = await buyer_pushes.wait(DoneMessage)
    assert (done.order_id, done.client_order_id, done.reason, done.remaining) == (
        ack.order_id,
        "b1",
        "expired",
        3,
    )
    (maker,) = await seller_pushes.wait(FillMessage)
    assert (maker.order_id, maker.client_order_id, maker.side, maker.liquidity) == (
        rest.order_id,
        "s1",
        "sell",
        "maker",
    )
    assert (maker.trade_id, maker.price, maker.qty, maker.remaining) == (fill.trade_id, 100, 5, 0)
    (sdone,) = await seller_pushes.wait(DoneMessage)
    assert (sdone.order_id, sdone.reason, sdone.remaining) == (rest.order_id, "filled", 0)
    assert (await buyer.orders()).orders == []
    bal = await buyer.balance()
    assert (bal.cash, bal.cash_held, bal.positions["ACME"].qty) == (CASH - 500, 0, 5)
    sbal = await seller.balance()
    assert (sbal.cash, sbal.positions["ACME"].qty, sbal.positions["ACME"].held) == (500, 95, 0)


async def test_fok_fills_completely_and_market_orders_never_rest(exchange: Exchange) -> None:
    seller = await exchange.trader(shares={"ACME": 100})
    buyer = await exchange.trader(cash=CASH)
    pushes = Pushes(buyer)
    await seller.order("ACME", "sell", 10, price=100)
    await seller.order("ACME", "sell", 10, price=102)
    fok = await buyer.order("ACME", "buy", 15, price=102, tif="fok")
    assert (fok.status, fok.remaining) == ("filled", 0)
    fills = await pushes.wait(FillMessage, 2, order_id=fok.order_id)
    assert [(f.price, f.qty) for f in fills] == [(100, 10), (102, 5)]
    await pushes.wait(DoneMessage, order_id=fok.order_id, reason="filled")
    # market buy: takes the 5 left at 102, the rest expires (gtc or not, a market order never rests)
    mkt = await buyer.order("ACME", "buy", 9, type="market")
    assert (mkt.status, mkt.remaining) == ("canceled", 0)
    (mfill,) = await pushes.wait(FillMessage, order_id=mkt.order_id)
    assert (mfill.price, mfill.qty, mfill.remaining) == (102, 5, 4)
    (mdone,) = await pushes.wait(DoneMessage, order_id=mkt.order_id)
    assert (mdone.reason, mdone.remaining) == ("expired", 4)
    # market sell against a resting bid, ioc tif
    bid = await buyer.order("ACME", "buy", 3, price=90)
    msell = await seller.order("ACME", "sell", 3, type="market", tif="ioc")
    assert msell.status == "filled"
    await pushes.wait(DoneMessage, order_id=bid.order_id, reason="filled")
    assert (await buyer.orders()).orders == [] and (await seller.orders()).orders == []
    bal = await buyer.balance()
    assert bal.cash == CASH - (10 * 100 + 5 * 102 + 5 * 102 + 3 * 90) and bal.positions["ACME"].qty == 23


async def test_post_only_rests_and_is_listed_as_post_only(exchange: Exchange) -> None:
    s = await exchange.trader(shares={"BOLT": 10})
    ack = await s.order("BOLT", "sell", 4, price=500, post_only=True)
    assert ack.status == "open"
    (o,) = (await s.orders("BOLT")).orders
    assert o.post_only is True and o.order_id == ack.order_id
    assert (await s.balance()).positions["BOLT"].held == 4


async def test_cancel_by_order_id_and_by_client_order_id(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH)
    pushes = Pushes(s)
    a = await s.order("ACME", "buy", 3, price=100)
    b = await s.order("ACME", "buy", 4, price=101, client_order_id="cid-b")
    ca = await s.cancel(a.order_id)
    assert isinstance(ca, CanceledReply)
    assert (ca.order_id, ca.client_order_id, ca.remaining) == (a.order_id, None, 3)
    cb = await s.cancel(client_order_id="cid-b")
    assert (cb.order_id, cb.client_order_id, cb.remaining) == (b.order_id, "cid-b", 4)
    await pushes.wait(DoneMessage, order_id=a.order_id, reason="canceled")
    await pushes.wait(DoneMessage, order_id=b.order_id, reason="canceled", client_order_id="cid-b")
    assert (await s.orders()).orders == []
    assert (await s.balance()).cash_held == 0
    # the client id can be reused once its order is done
    again = await s.order("ACME", "buy", 1, price=100, client_order_id="cid-b")
    assert again.order_id not in (a.order_id, b.order_id)


async def test_replace_price_requeues_and_qty_down_keeps_priority(exchange: Exchange) -> None:
    s = await exchange.trader(shares={"ACME": 100})
    watcher = await exchange.connect()
    pushes = Pushes(watcher)
    first = await s.order("ACME", "sell", 10, price=200)
    second = await s.order("ACME", "sell", 10, price=200)
    await watcher.subscribe("level3", "ACME")
    (snap,) = await pushes.wait(SnapshotMessage)
    assert snap.asks == [[first.order_id, 200, 10], [second.order_id, 200, 10]]
    down = await s.replace(first.order_id, qty=6)
    assert isinstance(down, AckMessage) and (down.order_id, down.status, down.remaining) == (
        first.order_id,
        "open",
        6,
    )
    (change,) = await pushes.wait(L3Message, event="change")
    assert (change.order_id, change.qty, change.seq) == (first.order_id, 6, snap.seq + 1)
    assert (await s.balance()).positions["ACME"].held == 16
    moved = await s.replace(first.order_id, price=199)
    assert (moved.order_id, moved.remaining) == (first.order_id, 6)
    by_id = {o.order_id: o for o in (await s.orders()).orders}
    assert by_id[first.order_id].price == 199 and by_id[first.order_id].remaining == 6
    back = await s.replace(first.order_id, price=200)
    assert back.order_id == first.order_id
    snapper = await exchange.connect()
    later = Pushes(snapper)
    await snapper.subscribe("level3", "ACME")
    (snap2,) = await later.wait(SnapshotMessage)
    assert snap2.asks == [[second.order_id, 200, 10], [first.order_id, 200, 6]]  # re-queued at the back


async def test_cancel_all_everywhere_and_per_symbol(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH)
    for price in (100, 101):
        await s.order("ACME", "buy", 1, price=price)
    await s.order("BOLT", "buy", 1, price=50)
    reply = await s.cancel_all("BOLT")
    assert isinstance(reply, CanceledAllReply) and reply.count == 1
    assert {o.symbol for o in (await s.orders()).orders} == {"ACME"}
    assert (await s.orders("BOLT")).orders == []
    assert (await s.cancel_all()).count == 2
    assert (await s.orders()).orders == [] and (await s.balance()).cash_held == 0
    assert (await s.cancel_all()).count == 0


async def test_balance_has_totals_and_held_parts(exchange: Exchange) -> None:
    s = await exchange.trader(cash=5_000, shares={"ACME": 30, "BOLT": 2})
    await s.order("ACME", "sell", 12, price=100)
    await s.order("BOLT", "buy", 3, price=400)
    bal = await s.balance()
    assert isinstance(bal, BalanceReply)
    assert (bal.cash, bal.cash_held) == (5_000, 1_200)
    assert (bal.positions["ACME"].qty, bal.positions["ACME"].held) == (30, 12)
    assert (bal.positions["BOLT"].qty, bal.positions["BOLT"].held) == (2, 0)


async def test_symbols_lists_every_symbol_to_anyone(exchange: Exchange) -> None:
    s = await exchange.connect()  # not logged in
    reply = await s.symbols()
    assert [x.symbol for x in reply.symbols] == ["ACME", "BOLT", "CHIP"]
    assert all(x.tick >= 1 and x.lot >= 1 and x.status == "trading" for x in reply.symbols)


async def test_ping_answers_pong_with_the_server_time(exchange: Exchange) -> None:
    s = await exchange.connect()
    before = time.time_ns()
    pong = await s.ping()
    assert before <= pong.ts <= time.time_ns()


async def test_subscribe_gives_snapshots_then_updates_on_every_channel(exchange: Exchange) -> None:
    seller = await exchange.trader(shares={"ACME": 100})
    buyer = await exchange.trader(cash=CASH)
    pre = await seller.order("ACME", "sell", 2, price=110)
    watcher = await exchange.connect()
    pushes = Pushes(watcher)
    sub = await watcher.subscribe(["ticker", "level2", "level3", "trades"], "ACME")
    assert sub.channels == ["ticker", "level2", "level3", "trades"] and sub.symbols == ["ACME"]
    snaps = await pushes.wait(SnapshotMessage, 4)
    by_channel = {m.channel: m for m in snaps}
    assert set(by_channel) == {"ticker", "level2", "level3", "trades"}
    assert all(m.symbol == "ACME" for m in snaps)
    seq0 = by_channel["level3"].seq
    assert by_channel["level3"].asks == [[pre.order_id, 110, 2]] and by_channel["level3"].bids == []
    assert by_channel["level2"].asks == [[110, 2]] and by_channel["level2"].bids == []
    assert by_channel["ticker"].ticker is not None and by_channel["ticker"].ticker["ask"] == 110
    assert by_channel["trades"].trades == []

    rest = await seller.order("ACME", "sell", 10, price=105)
    take = await buyer.order("ACME", "buy", 4, price=105)
    await seller.cancel(rest.order_id)
    await watcher.ping()  # everything caused above was sent before the pong

    l3 = pushes.of(L3Message)
    assert [m.seq for m in l3] == list(range(seq0 + 1, seq0 + 1 + len(l3)))  # consecutive, no gaps
    assert [m.event for m in l3] == ["open", "match", "done"]
    opened, match, done = l3
    assert (opened.order_id, opened.side, opened.price, opened.qty) == (rest.order_id, "sell", 105, 10)
    assert (match.maker_order_id, match.taker_order_id, match.side, match.price, match.qty) == (
        rest.order_id,
        take.order_id,
        "sell",
        105,
        4,
    )
    assert (done.order_id, done.reason) == (rest.order_id, "canceled")

    l2 = pushes.of(L2Message)
    assert [list(map(list, m.changes)) for m in l2] == [
        [["sell", 105, 10]],
        [["sell", 105, 6]],
        [["sell", 105, 0]],
    ]
    assert l2[-1].seq == done.seq

    (trade,) = pushes.of(TradeMessage)
    assert (trade.symbol, trade.price, trade.qty, trade.taker_side, trade.trade_id, trade.seq) == (
        "ACME",
        105,
        4,
        "buy",
        match.trade_id,
        match.seq,
    )

    tickers = pushes.of(TickerMessage)
    assert len(tickers) == 3
    assert (tickers[0].ask, tickers[0].ask_qty, tickers[0].bid) == (105, 10, None)
    assert (tickers[1].last, tickers[1].last_qty, tickers[1].volume, tickers[1].ask_qty) == (105, 4, 4, 6)
    assert (tickers[2].ask, tickers[2].ask_qty, tickers[2].open_interest) == (110, 2, 2)

    # a late subscriber's trades snapshot holds the trade
    late = await exchange.connect()
    late_pushes = Pushes(late)
    await late.subscribe("trades", "ACME")
    (tsnap,) = await late_pushes.wait(SnapshotMessage)
    assert tsnap.trades is not None and [t["trade_id"] for t in tsnap.trades] == [match.trade_id]


async def test_unsubscribe_stops_that_channel_only(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH)
    watcher = await exchange.connect()
    pushes = Pushes(watcher)
    await watcher.subscribe(["level3", "trades"], ["ACME", "BOLT"])
    await pushes.wait(SnapshotMessage, 4)
    reply = await watcher.unsubscribe("level3", "ACME")
    assert reply.channels == ["level3"] and reply.symbols == ["ACME"]
    await s.order("ACME", "buy", 1, price=100)
    await s.order("BOLT", "buy", 1, price=100)
    await watcher.ping()
    assert [m.symbol for m in pushes.of(L3Message)] == ["BOLT"]


async def test_public_market_data_never_names_a_user(exchange: Exchange) -> None:
    seller_name, seller_pw = await exchange.add_user(shares={"ACME": 50})
    buyer = await exchange.trader(cash=CASH)
    seller = await exchange.connect()
    await seller.login(seller_name, seller_pw)
    async with ws_connect(exchange.url, ssl=ca_context(exchange.home), proxy=None) as raw:
        await raw.send(
            json.dumps(
                {
                    "op": "subscribe",
                    "id": 1,
                    "channels": ["ticker", "level2", "level3", "trades"],
                    "symbols": ["ACME"],
                }
            )
        )
        await seller.order("ACME", "sell", 5, price=100, client_order_id="secret-cid")
        await buyer.order("ACME", "buy", 5, price=100)
        await raw.send(json.dumps({"op": "ping", "id": 2}))
        frames = []
        while True:
            frame = json.loads(await raw.recv())
            frames.append(frame)
            if frame.get("id") == 2:
                break
    public = [f for f in frames if f["type"] in ("snapshot", "l3", "l2", "ticker", "trade")]
    assert {f["type"] for f in public} == {"snapshot", "l3", "l2", "ticker", "trade"}
    text = json.dumps(public)
    assert seller_name not in text and "secret-cid" not in text
    assert not any(k in f for f in public for k in ("user", "username", "user_id", "client_order_id"))


async def test_batch_replies_to_each_item_in_order(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH)
    replies = await s.batch(
        [
            OrderRequest(symbol="ACME", side="buy", qty=2, price=100),
            {"op": "order", "symbol": "ACME", "side": "buy", "qty": 0, "price": 100},
            {"op": "teleport"},
            {"op": "order", "symbol": "ACME", "side": "sideways", "qty": 1, "price": 100},
            {"op": "balance"},
            {"op": "cancel", "order_id": 999_999},
            {"op": "ping"},
        ]
    )
    kinds = [type(r).__name__ for r in replies]
    assert kinds == [
        "AckMessage",
        "ErrorMessage",
        "ErrorMessage",
        "ErrorMessage",
        "BalanceReply",
        "ErrorMessage",
        "PongReply",
    ]
    assert replies[0].status == "open"  # type: ignore[union-attr]
    errors = [r for r in replies if isinstance(r, ErrorMessage)]
    assert [(e.code, e.field) for e in errors] == [
        ("invalid_qty", "qty"),
        ("unknown_op", "op"),
        ("bad_request", "side"),
        ("unknown_order", "order_id"),
    ]
    assert replies[4].cash_held == 200  # type: ignore[union-attr]  # the order before it is in
    ids = [r.id for r in replies]  # type: ignore[union-attr]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    (o,) = (await s.orders()).orders
    assert o.order_id == replies[0].order_id  # type: ignore[union-attr]


async def test_a_batch_may_not_nest_or_exceed_100(exchange: Exchange) -> None:
    async with ws_connect(exchange.url, ssl=ca_context(exchange.home), proxy=None) as raw:
        await raw.send(
            json.dumps(
                {
                    "op": "batch",
                    "id": "outer",
                    "requests": [
                        {"op": "ping", "id": 1},
                        {"op": "batch", "id": 2, "requests": [{"op": "ping"}]},
                        {"op": "ping", "id": 3},
                    ],
                }
            )
        )
        got = [json.loads(await raw.recv()) for _ in range(3)]
        assert [(g["type"], g.get("id")) for g in got] == [("pong", 1), ("error", 2), ("pong", 3)]
        assert got[1]["code"] == "bad_request"
        await raw.send(json.dumps({"op": "batch", "id": "big", "requests": [{"op": "ping"}] * 101}))
        big = json.loads(await raw.recv())
        assert (big["type"], big["id"], big["code"], big["field"]) == (
            "error",
            "big",
            "bad_request",
            "requests",
        )


async def test_admin_user_add_list_deposit_sessions(exchange: Exchange) -> None:
    admin = await exchange.admin()
    name = unique("adm")
    added = await admin.user_add(name, "pw1", cash=2_500, positions={"BOLT": 7})
    assert (added.username, added.role) == (name, "trader")
    users = {u.username: u for u in (await admin.user_list()).users}
    assert users[name].role == "trader" and users[name].disabled is False and users[name].created_ts > 0
    assert users["admin"].role == "admin"
    dep = await admin.deposit(name, cash=500)
    assert (dep.username, dep.cash, dep.symbol, dep.qty) == (name, 500, None, 0)
    dep2 = await admin.deposit(name, symbol="CHIP", qty=3)
    assert (dep2.symbol, dep2.qty) == ("CHIP", 3)
    s = await exchange.connect()
    await s.login(name, "pw1")  # logs in at once, no restart
    bal = await s.balance()
    assert bal.cash == 3_000 and bal.positions["BOLT"].qty == 7 and bal.positions["CHIP"].qty == 3
    sessions = (await admin.sessions()).sessions
    mine = [x for x in sessions if x.user == name]
    assert len(mine) == 1 and mine[0].role == "trader" and mine[0].address.startswith("127.0.0.1:")
    assert any(x.user == "admin" and x.role == "admin" for x in sessions)
    assert len({x.session_id for x in sessions}) == len(sessions)
    new_admin = unique("root")
    await admin.user_add(new_admin, "pw2", role="admin")
    other = await exchange.connect()
    assert (await other.login(new_admin, "pw2")).role == "admin"
    assert (await other.user_list()).users


async def test_admin_disable_and_enable(exchange: Exchange) -> None:
    admin = await exchange.admin()
    name, password = await exchange.add_user()
    s = await exchange.connect()
    await s.login(name, password)
    reply = await admin.user_disable(name)
    assert (reply.username, reply.sessions_closed) == (name, 1)
    assert (await s.wait_closed()).code == 1008
    assert {u.username: u.disabled for u in (await admin.user_list()).users}[name] is True
    enabled = await admin.user_enable(name)
    assert enabled.username == name
    again = await exchange.connect()
    assert (await again.login(name, password)).user == name


async def test_admin_halt_resume_and_symbol_add(exchange: Exchange) -> None:
    admin = await exchange.admin()
    s = await exchange.trader(cash=CASH)
    resting = await s.order("CHIP", "buy", 1, price=10)
    halted = await admin.halt("CHIP")
    assert (halted.symbol, halted.status) == ("CHIP", "halted")
    assert {x.symbol: x.status for x in (await s.symbols()).symbols}["CHIP"] == "halted"
    try:
        await s.order("CHIP", "buy", 1, price=10)
        raise AssertionError("an order on a halted symbol was accepted")
    except ExchError as exc:
        assert exc.code == "halted"
    assert (await s.cancel(resting.order_id)).remaining == 1  # cancels still work
    resumed = await admin.resume("CHIP")
    assert (resumed.symbol, resumed.status) == ("CHIP", "trading")
    assert (await s.order("CHIP", "buy", 1, price=10)).status == "open"
    listed = await admin.symbol_add("ZETA", tick=5, lot=10)
    assert (listed.symbol, listed.tick, listed.lot) == ("ZETA", 5, 10)
    info = {x.symbol: x for x in (await s.symbols()).symbols}["ZETA"]
    assert (info.tick, info.lot, info.status) == (5, 10, "trading")
    assert (await s.order("ZETA", "buy", 20, price=15)).status == "open"


async def test_admin_gets_stats_twice_a_second(exchange: Exchange) -> None:
    admin = await exchange.admin()
    trader = await exchange.trader(cash=CASH)
    await trader.order("ACME", "buy", 3, price=99)
    pushes = Pushes(admin)
    sub = await admin.subscribe("stats")
    assert sub.channels == ["stats"] and sub.symbols == []
    first, second = await pushes.wait(StatsMessage, 2)
    assert second.ts > first.ts and second.uptime_s >= first.uptime_s
    assert second.clients >= 2 and second.sessions_by_user.get("admin", 0) >= 1
    assert second.sessions_by_user.get(trader.user or "", 0) == 1
    assert second.memory_rss_bytes > 0 and second.journal_seq >= 1
    acme = second.symbols["ACME"]
    assert (acme.bid, acme.ask, acme.open_interest, acme.orders_resting) == (99, None, 3, 1)
    assert set(second.symbols) == {"ACME", "BOLT", "CHIP"}
    await admin.unsubscribe("stats")
    await admin.ping()
    seen = len(pushes.of(StatsMessage))
    other = await exchange.connect()
    await other.login("admin", exchange.admin_password)
    other_pushes = Pushes(other)
    await other.subscribe("stats")
    await other_pushes.wait(StatsMessage, 2)  # two more rounds of stats went out since
    await admin.ping()
    assert len(pushes.of(StatsMessage)) == seen
