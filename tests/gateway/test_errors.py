"""Every error code reachable over the wire; after each, nothing changed and the connection works.

``server_busy`` is not reached here: the gateway answers it only when the
journal fails, which no request can cause.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from client import ExchError, Session
from exchange.protocol import ErrorMessage, OrderRequest, PongReply
from exchange.serving.limits import GatewayLimits

from .conftest import Exchange, MakeExchange, ca_context, unique

CASH = 100_000


async def state(s: Session) -> tuple[Any, Any]:
    """What a refusal must leave unchanged: the balance and the open orders."""
    balance = msgspec.structs.replace(await s.balance(), id=None)
    return balance, (await s.orders()).orders


async def refused(
    s: Session,
    code: str | set[str],
    action: Callable[[], Awaitable[Any]],
    *,
    field: str | None = None,
    trader: bool = True,
) -> ExchError:
    """Run ``action``: it must fail with ``code`` (and ``field``), change nothing, and leave ``s`` usable."""
    before = await state(s) if trader else None
    with pytest.raises(ExchError) as info:
        await action()
    codes = {code} if isinstance(code, str) else code
    assert info.value.code in codes, info.value
    if field is not None:
        assert info.value.field == field, info.value
    if trader:
        assert await state(s) == before
    assert isinstance(await s.ping(), PongReply)
    return info.value


@asynccontextmanager
async def raw(ex: Exchange) -> AsyncIterator[ClientConnection]:
    """A bare ``websockets`` connection over TLS (for frames the client library never sends)."""
    async with ws_connect(ex.url, ssl=ca_context(ex.home), proxy=None) as ws:
        yield ws


async def ask(ws: ClientConnection, frame: str | bytes | dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(frame) if isinstance(frame, dict) else frame)
    reply: dict[str, Any] = json.loads(await ws.recv())
    return reply


# ----------------------------------------------------------------------------- bad_request, unknown_op


@pytest.mark.parametrize(
    "frame",
    ["{not json", "[1, 2]", "5", '"order"', "null", "", "\u00ff\u0000garbage", '{"op": "ping"'],
)
async def test_malformed_frames_get_bad_request_and_the_connection_stays_usable(exchange: Exchange, frame: str) -> None:
    async with raw(exchange) as ws:
        reply = await ask(ws, frame)
        assert reply["type"] == "error" and reply["code"] == "bad_request" and reply["id"] is None
        assert reply["message"]
        after = await ask(ws, {"op": "ping", "id": "after"})
        assert (after["type"], after["id"]) == ("pong", "after")


async def test_ids_of_every_json_scalar_are_echoed_even_in_errors(exchange: Exchange) -> None:
    async with raw(exchange) as ws:
        for rid in ("a-string", 17, 2.5, True, None):
            assert (await ask(ws, {"op": "ping", "id": rid}))["id"] == rid
            error = await ask(ws, {"op": "order", "id": rid, "side": "buy"})
            assert (error["type"], error["id"]) == ("error", rid)


async def test_unknown_op_and_missing_op(exchange: Exchange) -> None:
    async with raw(exchange) as ws:
        reply = await ask(ws, {"op": "teleport", "id": "t1"})
        assert (reply["type"], reply["code"], reply["id"], reply["field"]) == (
            "error",
            "unknown_op",
            "t1",
            "op",
        )
        missing = await ask(ws, {"id": 9, "symbol": "ACME"})
        assert (missing["code"], missing["id"], missing["field"]) == ("bad_request", 9, "op")
        assert (await ask(ws, {"op": "ping", "id": 10}))["type"] == "pong"


ORDER = {"symbol": "ACME", "side": "buy", "qty": 1, "price": 100}

FIELD_CASES: list[tuple[str, dict[str, Any], str | set[str], str]] = [
    ("order", {k: v for k, v in ORDER.items() if k != "symbol"}, "bad_request", "symbol"),
    ("order", {k: v for k, v in ORDER.items() if k != "side"}, "bad_request", "side"),
    ("order", {k: v for k, v in ORDER.items() if k != "qty"}, {"bad_request", "invalid_qty"}, "qty"),
    ("order", {**ORDER, "side": "up"}, "bad_request", "side"),
    ("order", {**ORDER, "symbol": 5}, "bad_request", "symbol"),
    ("order", {**ORDER, "symbol": ""}, "bad_request", "symbol"),
    ("order", {**ORDER, "tif": "day"}, "bad_request", "tif"),
    ("order", {**ORDER, "type": "trailing_stop"}, "bad_request", "type"),
    ("order", {**ORDER, "type": "stop"}, "invalid_price", "stop_price"),
    ("order", {**ORDER, "stop_price": "high"}, {"bad_request", "invalid_price"}, "stop_price"),
    ("order", {**ORDER, "tif": "gtd"}, "bad_request", "expire_ts"),
    ("order", {**ORDER, "tif": "gtd", "expire_ts": 0}, "bad_request", "expire_ts"),
    ("order", {**ORDER, "tif": "gtd", "expire_ts": 5}, "bad_request", "expire_ts"),
    ("order", {**ORDER, "expire_ts": 5}, "bad_request", "expire_ts"),
    ("order", {**ORDER, "qty": 4, "display_qty": 4}, "invalid_qty", "display_qty"),
    ("order", {**ORDER, "qty": 4, "display_qty": "some"}, {"bad_request", "invalid_qty"}, "display_qty"),
    ("order", {**ORDER, "qty": 4, "display_qty": 2, "tif": "ioc"}, "bad_request", "display_qty"),
    ("order", {**ORDER, "post_only": "yes"}, "bad_request", "post_only"),
    ("order", {**ORDER, "client_order_id": "x" * 65}, "bad_request", "client_order_id"),
    ("order", {**ORDER, "client_order_id": 12}, "bad_request", "client_order_id"),
    ("order", {**ORDER, "qty": "ten"}, {"bad_request", "invalid_qty"}, "qty"),
    ("order", {**ORDER, "qty": 1.5}, {"bad_request", "invalid_qty"}, "qty"),
    ("order", {**ORDER, "price": "cheap"}, {"bad_request", "invalid_price"}, "price"),
    ("cancel", {"order_id": "abc"}, "bad_request", "order_id"),
    ("cancel", {}, "bad_request", "order_id"),
    ("replace", {"order_id": 1}, "bad_request", "price"),
    ("replace", {"price": 5}, "bad_request", "order_id"),
    ("cancel_all", {"symbol": ["ACME"]}, "bad_request", "symbol"),
    ("subscribe", {"channels": ["nope"], "symbols": ["ACME"]}, "bad_request", "channels"),
    ("subscribe", {"channels": [], "symbols": ["ACME"]}, "bad_request", "channels"),
    ("subscribe", {"symbols": ["ACME"]}, "bad_request", "channels"),
    ("subscribe", {"channels": ["ticker"], "symbols": "ACME"}, "bad_request", "symbols"),
    ("subscribe", {"channels": ["ticker"], "interval_ms": 10}, "bad_request", "interval_ms"),
    ("unsubscribe", {"channels": "ticker"}, "bad_request", "channels"),
]


async def test_missing_and_ill_typed_fields_are_refused_naming_the_field(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH, shares={"ACME": 10})
    await s.order("ACME", "sell", 2, price=500)
    for op, fields, code, field in FIELD_CASES:
        await refused(s, code, lambda op=op, fields=fields: s.request(op, **fields), field=field)


async def test_login_and_admin_fields_are_checked_too(exchange: Exchange) -> None:
    anon = await exchange.connect()
    for fields, field in [
        ({"username": "has space", "password": "x"}, "username"),
        ({"username": "x" * 33, "password": "x"}, "username"),
        ({"username": "bob", "password": ""}, "password"),
        ({"username": "bob"}, "username"),
        ({"token": 42}, "token"),
    ]:
        await refused(anon, "bad_request", lambda f=fields: anon.request("login", **f), field=field, trader=False)
    admin = await exchange.admin()
    name, _ = await exchange.add_user(cash=10)
    for op, fields, field in [
        ("deposit", {"username": name, "cash": -5}, "cash"),
        ("deposit", {"cash": 5}, "username"),
        ("user_add", {"username": unique(), "password": "p", "role": "king"}, "role"),
        ("user_add", {"username": unique(), "password": "p", "positions": {"ACME": -1}}, "positions"),
        ("user_passwd", {"username": name, "password": ""}, "password"),
        ("user_passwd", {"username": name}, "password"),
        ("user_passwd", {"username": name, "password": "é" * 37}, "password"),  # 74 bytes: more than bcrypt takes
        ("user_add", {"username": unique(), "password": "é" * 37}, "password"),  # was a 1011 close
        ("halt", {}, "symbol"),
        ("symbol_add", {"symbol": "NEWX", "tick": 0}, "tick"),
    ]:
        await refused(admin, "bad_request", lambda op=op, f=fields: admin.request(op, **f), field=field, trader=False)
    users = {u.username for u in (await admin.user_list()).users}
    assert users == {"admin", name}
    assert "NEWX" not in {x.symbol for x in (await admin.symbols()).symbols}


async def test_admin_ops_on_users_that_do_not_exist_or_exist_already(exchange: Exchange) -> None:
    admin = await exchange.admin()
    name, _ = await exchange.add_user()
    for op, fields in [
        ("deposit", {"username": "ghost", "cash": 5}),
        ("user_disable", {"username": "ghost"}),
        ("user_enable", {"username": "ghost"}),
        ("user_passwd", {"username": "ghost", "password": "other"}),
        ("user_add", {"username": name, "password": "other"}),
    ]:
        error = await refused(admin, "bad_request", lambda op=op, f=fields: admin.request(op, **f), trader=False)
        assert error.field == "username"
    assert {u.username for u in (await admin.user_list()).users} == {"admin", name}


# ----------------------------------------------------------------------------- authentication


async def test_not_authenticated_until_login(exchange: Exchange) -> None:
    name, password = await exchange.add_user(cash=CASH)
    s = await exchange.connect()
    for op, fields in [
        ("order", ORDER),
        ("cancel", {"order_id": 1}),
        ("replace", {"order_id": 1, "price": 2}),
        ("cancel_all", {}),
        ("orders", {}),
        ("balance", {}),
        ("user_add", {"username": "x", "password": "y"}),
        ("user_list", {}),
        ("deposit", {"username": name, "cash": 1}),
        ("user_passwd", {"username": name, "password": "y"}),
        ("halt", {"symbol": "ACME"}),
        ("sessions", {}),
    ]:
        await refused(s, "not_authenticated", lambda op=op, f=fields: s.request(op, **f), trader=False)
    await refused(s, "not_authenticated", lambda: s.subscribe("stats"), trader=False)
    assert (await s.symbols()).symbols  # anyone may
    await s.login(name, password)
    assert (await s.balance()).cash == CASH and (await s.orders()).orders == []


async def test_auth_failed_says_the_same_for_unknown_users_and_wrong_passwords(exchange: Exchange) -> None:
    name, password = await exchange.add_user()
    s = await exchange.connect()
    wrong = await refused(s, "auth_failed", lambda: s.login(name, password + "x"), trader=False)
    ghost = await refused(s, "auth_failed", lambda: s.login(unique("ghost"), password), trader=False)
    assert wrong.message == ghost.message and wrong.field == ghost.field
    forged = await refused(s, "auth_failed", lambda: s.login_token("1.Zm9v.1.9999999999.bm9wZQ"), trader=False)
    assert forged.message == wrong.message
    token = (await (await exchange.connect()).login(name, password)).token
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    await refused(s, "auth_failed", lambda: s.login_token(tampered), trader=False)
    assert (await s.login(name, password)).user == name
    await refused(s, "bad_request", lambda: s.login(name, password), trader=False)  # one login per connection


# ----------------------------------------------------------------------------- roles


async def test_forbidden_trader_using_admin_ops_and_admin_placing_orders(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH, shares={"ACME": 5})
    await s.order("ACME", "buy", 1, price=100)
    victim, victim_pw = await exchange.add_user(cash=7)
    for op, fields in [
        ("user_add", {"username": unique(), "password": "p"}),
        ("user_list", {}),
        ("deposit", {"username": s.user, "cash": 10**9}),
        ("user_disable", {"username": victim}),
        ("user_enable", {"username": victim}),
        ("user_passwd", {"username": victim, "password": "mine-now"}),
        ("sessions", {}),
        ("halt", {"symbol": "ACME"}),
        ("resume", {"symbol": "ACME"}),
        ("symbol_add", {"symbol": "EVIL"}),
    ]:
        await refused(s, "forbidden", lambda op=op, f=fields: s.request(op, **f))
    await refused(s, "forbidden", lambda: s.subscribe("stats"))
    admin = await exchange.admin()
    for op, fields in [
        ("order", ORDER),
        ("cancel", {"order_id": 1}),
        ("replace", {"order_id": 1, "qty": 1}),
        ("cancel_all", {}),
        ("orders", {}),
        ("balance", {}),
    ]:
        await refused(admin, "forbidden", lambda op=op, f=fields: admin.request(op, **f), trader=False)
    users = {u.username: u for u in (await admin.user_list()).users}
    assert set(users) == {"admin", s.user, victim} and not users[victim].disabled
    assert {x.symbol: x.status for x in (await admin.symbols()).symbols} == {
        "ACME": "trading",
        "BOLT": "trading",
        "CHIP": "trading",
    }
    assert (await s.orders()).orders[0].order_id == 1  # the admin's cancel touched nothing
    assert (await (await exchange.connect()).login(victim, victim_pw)).user == victim  # password unchanged


# ----------------------------------------------------------------------------- engine refusals


async def test_unknown_symbol(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH)
    await s.order("ACME", "buy", 1, price=100)
    for action in (
        lambda: s.order("NOPE", "buy", 1, price=100),
        lambda: s.orders("NOPE"),
        lambda: s.cancel_all("NOPE"),
        lambda: s.subscribe("level2", "NOPE"),
        lambda: s.subscribe("trades", ["ACME", "NOPE"]),
    ):
        await refused(s, "unknown_symbol", action)
    admin = await exchange.admin()
    for action in (
        lambda: admin.halt("NOPE"),
        lambda: admin.deposit(s.user or "", symbol="NOPE", qty=5),
        lambda: admin.user_add(unique(), "p", positions={"NOPE": 1}),
    ):
        await refused(admin, "unknown_symbol", action, trader=False)
    assert len((await admin.user_list()).users) == 2  # the user_add with an unknown symbol created no one


async def test_halted_refuses_orders_and_replaces_but_not_cancels(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH)
    resting = await s.order("BOLT", "buy", 2, price=100)
    await (await exchange.admin()).halt("BOLT")
    await refused(s, "halted", lambda: s.order("BOLT", "buy", 1, price=100))
    await refused(s, "halted", lambda: s.order("BOLT", "buy", 1, type="market"))
    await refused(s, "halted", lambda: s.replace(resting.order_id, price=101))
    await refused(s, "halted", lambda: s.replace(resting.order_id, qty=1))
    assert (await s.order("ACME", "buy", 1, price=100)).status == "open"  # other symbols trade
    assert (await s.cancel(resting.order_id)).remaining == 2


async def test_invalid_price(exchange: Exchange) -> None:
    s = await exchange.trader(cash=10**12, shares={"ACME": 10})
    await (await exchange.admin()).symbol_add("TICK", tick=5, lot=1)
    resting = await s.order("ACME", "buy", 1, price=100)
    for action in (
        lambda: s.order("ACME", "buy", 1),  # a limit order needs a price
        lambda: s.order("ACME", "buy", 1, price=0),
        lambda: s.order("ACME", "sell", 1, price=-5),
        lambda: s.order("ACME", "buy", 1, price=100, type="market"),
        lambda: s.order("TICK", "buy", 1, price=12),
        lambda: s.order("ACME", "buy", 1, price=1_000_000_001),
        lambda: s.replace(resting.order_id, price=0),
        lambda: s.request("order", symbol="ACME", side="buy", qty=1, price=2**70),
    ):
        await refused(s, "invalid_price", action)
    assert (await s.order("TICK", "buy", 1, price=15)).status == "open"


async def test_invalid_qty(exchange: Exchange) -> None:
    s = await exchange.trader(cash=10**12, shares={"ACME": 10})
    await (await exchange.admin()).symbol_add("LOTS", tick=1, lot=10)
    resting = await s.order("ACME", "buy", 2, price=100)
    for action in (
        lambda: s.order("ACME", "buy", 0, price=100),
        lambda: s.order("ACME", "sell", -1, price=100),
        lambda: s.order("LOTS", "buy", 15, price=1),
        lambda: s.order("ACME", "buy", 1_000_000_001, price=1),
        lambda: s.replace(resting.order_id, qty=0),
        lambda: s.replace(resting.order_id, qty=-3),
    ):
        await refused(s, "invalid_qty", action)
    assert (await s.order("LOTS", "buy", 20, price=1)).status == "open"


async def test_insufficient_funds(exchange: Exchange) -> None:
    seller = await exchange.trader(shares={"ACME": 10})
    await seller.order("ACME", "sell", 5, price=100)
    s = await exchange.trader(cash=5_000)
    resting = await s.order("ACME", "buy", 10, price=90)  # holds 900
    error = await refused(
        s, "insufficient_funds", lambda: s.order("ACME", "buy", 50, price=90, client_order_id="too-big")
    )
    assert error.client_order_id == "too-big"
    await refused(s, "insufficient_funds", lambda: s.replace(resting.order_id, qty=60))
    broke = await exchange.trader(shares={"BOLT": 1})
    await refused(broke, "insufficient_funds", lambda: broke.order("ACME", "buy", 1, type="market"))
    await refused(broke, "insufficient_funds", lambda: broke.order("ACME", "buy", 1, price=1))
    assert (await seller.orders()).orders[0].remaining == 5


async def test_insufficient_position(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH, shares={"ACME": 10})
    resting = await s.order("ACME", "sell", 8, price=200)
    await refused(s, "insufficient_position", lambda: s.order("ACME", "sell", 3, price=200))
    await refused(s, "insufficient_position", lambda: s.order("BOLT", "sell", 1, price=200))
    await refused(s, "insufficient_position", lambda: s.replace(resting.order_id, qty=11))
    assert (await s.order("ACME", "sell", 2, price=201)).status == "open"


async def test_unknown_order_including_another_users_orders(exchange: Exchange) -> None:
    owner = await exchange.trader(cash=CASH)
    theirs = await owner.order("ACME", "buy", 3, price=100, client_order_id="shared-cid")
    owner_before = await state(owner)
    s = await exchange.trader(cash=CASH)
    await s.order("ACME", "buy", 1, price=90)
    gone = await s.order("ACME", "buy", 1, price=80)
    await s.cancel(gone.order_id)
    for action in (
        lambda: s.cancel(999_999),
        lambda: s.cancel(gone.order_id),  # already done
        lambda: s.cancel(theirs.order_id),
        lambda: s.cancel(client_order_id="shared-cid"),
        lambda: s.replace(theirs.order_id, price=1),
        lambda: s.replace(client_order_id="shared-cid", qty=1),
    ):
        await refused(s, "unknown_order", action)
    assert await state(owner) == owner_before  # the owner's order is untouched
    assert (await owner.cancel(client_order_id="shared-cid")).remaining == 3


async def test_duplicate_client_order_id(exchange: Exchange) -> None:
    s = await exchange.trader(cash=CASH)
    await s.order("ACME", "buy", 1, price=100, client_order_id="dup")
    error = await refused(
        s, "duplicate_client_order_id", lambda: s.order("BOLT", "buy", 1, price=100, client_order_id="dup")
    )
    assert error.client_order_id == "dup"
    other = await exchange.trader(cash=CASH)  # client ids are per user
    assert (await other.order("ACME", "buy", 1, price=100, client_order_id="dup")).status == "open"


async def test_would_cross_for_post_only(exchange: Exchange) -> None:
    seller = await exchange.trader(shares={"ACME": 10})
    await seller.order("ACME", "sell", 5, price=100)
    s = await exchange.trader(cash=CASH)
    await refused(s, "would_cross", lambda: s.order("ACME", "buy", 1, price=100, post_only=True))
    passive = await s.order("ACME", "buy", 1, price=99, post_only=True)
    await refused(s, "would_cross", lambda: s.replace(passive.order_id, price=101))
    assert (await seller.orders()).orders[0].remaining == 5


async def test_unfillable_fill_or_kill(exchange: Exchange) -> None:
    seller = await exchange.trader(shares={"ACME": 10})
    await seller.order("ACME", "sell", 5, price=100)
    s = await exchange.trader(cash=CASH, shares={"ACME": 10})
    await refused(s, "unfillable", lambda: s.order("ACME", "buy", 6, price=100, tif="fok"))
    await refused(s, "unfillable", lambda: s.order("ACME", "buy", 6, type="market", tif="fok"))
    await s.order("ACME", "sell", 5, price=100)  # its own liquidity does not count
    await refused(s, "unfillable", lambda: s.order("ACME", "buy", 6, price=100, tif="fok"))
    assert (await seller.orders()).orders[0].remaining == 5


async def test_too_many_orders(make_exchange: MakeExchange) -> None:
    # The cap is the engine's max_open_orders (1,000 by default); ServerConfig cannot set it,
    # so the test fills it for real, 100 orders a batch, with the rate limits off.
    ex = make_exchange(limits=GatewayLimits(messages_per_s=0, orders_per_s=0))
    s = await ex.trader(cash=CASH)
    placed = 0
    while True:
        replies = await s.batch([OrderRequest(symbol="ACME", side="buy", qty=1, price=1)] * 100)
        errors = [r for r in replies if isinstance(r, ErrorMessage)]
        placed += len(replies) - len(errors)
        if errors:
            assert {e.code for e in errors} == {"too_many_orders"}
            break
        assert placed <= 5_000, "no open-order cap"
    assert placed == 1_000
    await refused(s, "too_many_orders", lambda: s.order("BOLT", "buy", 1, price=1))
    assert len((await s.orders()).orders) == 1_000
    first = (await s.orders()).orders[0]
    await s.cancel(first.order_id)
    assert (await s.order("BOLT", "buy", 1, price=1)).status == "open"


async def test_rate_limited_messages(make_exchange: MakeExchange) -> None:
    ex = make_exchange(limits=GatewayLimits(messages_per_s=2, orders_per_s=0))
    s = await ex.trader(cash=CASH)
    results = await asyncio.gather(*(s.ping() for _ in range(12)), return_exceptions=True)
    limited = [r for r in results if isinstance(r, ExchError)]
    assert limited and all(e.code == "rate_limited" for e in limited)
    assert any(isinstance(r, PongReply) for r in results)
    assert not s.closed
    with pytest.raises(ExchError) as info:  # a batch counts each of its requests
        await s.batch([{"op": "ping"}] * 10)
    assert info.value.code == "rate_limited"
    async with asyncio.timeout(20):  # the bucket refills: the same connection works again
        while True:
            try:
                bal = await s.balance()
                break
            except ExchError as exc:
                assert exc.code == "rate_limited"
                await asyncio.sleep(0.2)
    assert (bal.cash, bal.cash_held) == (CASH, 0)


async def test_rate_limited_orders(make_exchange: MakeExchange) -> None:
    ex = make_exchange(limits=GatewayLimits(orders_per_s=2))
    s = await ex.trader(cash=CASH)
    results = await asyncio.gather(*(s.order("ACME", "buy", 1, price=10) for _ in range(12)), return_exceptions=True)
    acks = [r for r in results if not isinstance(r, BaseException)]
    limited = [r for r in results if isinstance(r, ExchError)]
    assert len(acks) + len(limited) == 12
    assert acks and limited and all(e.code == "rate_limited" for e in limited)
    orders = (await s.orders()).orders  # reads are not orders: not limited
    assert sorted(o.order_id for o in orders) == sorted(a.order_id for a in acks)  # type: ignore[union-attr]
    assert (await s.balance()).cash_held == 10 * len(acks)


async def test_server_busy_when_the_journal_is_behind(make_exchange: MakeExchange) -> None:
    # max_uncommitted=0: the gateway counts the journal as always behind, so every
    # order is refused before it reaches the engine (the backpressure path).
    ex = make_exchange(max_uncommitted=0)
    s = await ex.trader()  # no gift: nothing to submit
    with pytest.raises(ExchError) as info:
        await s.order("ACME", "buy", 1, price=10)
    assert info.value.code == "server_busy"
    assert (await s.orders()).orders == []
    bal = await s.balance()
    assert (bal.cash, bal.cash_held) == (0, 0)
    assert isinstance(await s.ping(), PongReply)


async def test_user_add_gifts_take_the_same_backpressure_as_orders(make_exchange: MakeExchange) -> None:
    # The gifts of a user_add are engine commands like any other: while the journal is
    # behind they are refused with server_busy (they used to bypass the check).
    ex = make_exchange(max_uncommitted=0)
    with pytest.raises(ExchError) as info:
        await ex.add_user("gifted", cash=CASH)
    assert info.value.code == "server_busy"
    assert info.value.message.startswith("user added, but ")
    s = await ex.connect()
    await s.login("gifted", "pw-gifted")  # the user was added; the gift changed nothing
    bal = await s.balance()
    assert (bal.cash, bal.cash_held) == (0, 0)
