"""Requests: id matching, typed replies, errors, timeouts and batches against a scripted peer."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from websockets.asyncio.server import ServerConnection

from client import ExchError, ProtocolError, RequestTimeout, Session
from exchange.protocol import (
    AckMessage,
    BalanceReply,
    BatchRequest,
    ErrorMessage,
    OrderRequest,
    PingRequest,
    PongReply,
    Request,
    decode_batch_item,
)

from .client_peer import TS, ServeFactory, ack, recv_json, recv_request, send

CANNED: dict[str, dict[str, Any]] = {
    "login": {"type": "login", "user": "alice", "role": "trader", "token": "tok", "token_expires_ts": TS},
    "order": ack(None),
    "replace": ack(None, status="open"),
    "cancel": {"type": "canceled", "order_id": 1, "client_order_id": None, "remaining": 3},
    "cancel_all": {"type": "canceled_all", "count": 2},
    "orders": {"type": "orders", "orders": [{
        "order_id": 1, "client_order_id": "c1", "symbol": "ACME", "side": "buy", "type": "limit",
        "tif": "gtc", "post_only": False, "price": 100, "qty": 10, "remaining": 10, "status": "open",
        "ts": TS}]},
    "balance": {"type": "balance", "cash": 1000, "cash_held": 100,
                "positions": {"ACME": {"qty": 5, "held": 1}}},
    "symbols": {"type": "symbols", "symbols": [{"symbol": "ACME", "tick": 1, "lot": 1, "status": "trading"}]},
    "subscribe": {"type": "subscribed", "channels": ["level3"], "symbols": ["ACME"]},
    "unsubscribe": {"type": "unsubscribed", "channels": ["level3"], "symbols": ["ACME"]},
    "ping": {"type": "pong", "ts": TS},
    "user_add": {"type": "user_add", "username": "bob", "role": "trader"},
    "user_list": {"type": "user_list", "users": [
        {"username": "bob", "role": "trader", "disabled": False, "created_ts": TS}]},
    "deposit": {"type": "deposit", "username": "bob", "cash": 5, "symbol": None, "qty": 0},
    "user_disable": {"type": "user_disable", "username": "bob", "sessions_closed": 1},
    "user_enable": {"type": "user_enable", "username": "bob"},
    "user_passwd": {"type": "user_passwd", "username": "bob", "sessions_closed": 2},
    "sessions": {"type": "sessions", "sessions": []},
    "halt": {"type": "halt", "symbol": "ACME", "status": "halted"},
    "resume": {"type": "resume", "symbol": "ACME", "status": "trading"},
    "symbol_add": {"type": "symbol_add", "symbol": "BOLT", "tick": 5, "lot": 10},
}


def op_of(req: Request) -> str:
    tag = req.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


async def test_every_method_sends_a_valid_request_and_returns_its_typed_reply(scripted: ServeFactory) -> None:
    seen: list[Request] = []

    async def peer(ws: ServerConnection) -> None:
        while True:
            req = await recv_request(ws)
            seen.append(req)
            await send(ws, **{**CANNED[op_of(req)], "id": req.id})

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True) as s:
        login = await s.login("alice", "pw")
        assert (s.user, s.role, s.token) == ("alice", "trader", "tok") and login.token_expires_ts == TS
        await s.login_token("tok")
        a = await s.order("ACME", "buy", 10, price=100, tif="ioc", post_only=False, client_order_id="c1")
        assert isinstance(a, AckMessage) and a.order_id == 1
        await s.order("ACME", "sell", 3, type="market")
        assert (await s.replace(1, qty=5)).status == "open"
        assert (await s.cancel(order_id=1)).remaining == 3
        await s.cancel(client_order_id="c1")
        assert (await s.cancel_all("ACME")).count == 2
        assert (await s.orders()).orders[0].client_order_id == "c1"
        bal = await s.balance()
        assert bal.positions["ACME"].held == 1
        assert (await s.symbols()).symbols[0].tick == 1
        assert (await s.subscribe("level3", "ACME")).channels == ["level3"]
        await s.subscribe(["level2", "ticker"], ["ACME", "BOLT"], interval_ms=100)
        await s.unsubscribe(["level3"], ["ACME"])
        assert (await s.ping()).ts == TS
        await s.user_add("bob", "pw", cash=100, positions={"ACME": 5})
        assert (await s.user_list()).users[0].username == "bob"
        await s.deposit("bob", cash=5)
        assert (await s.user_disable("bob")).sessions_closed == 1
        await s.user_enable("bob")
        assert (await s.user_passwd("bob", "new-pw")).sessions_closed == 2
        await s.sessions()
        assert (await s.halt("ACME")).status == "halted"
        await s.resume("ACME")
        await s.symbol_add("BOLT", tick=5, lot=10)
        generic = await s.request("ping")
        assert isinstance(generic, PongReply)

    ops = [op_of(r) for r in seen]
    assert ops[:3] == ["login", "login", "order"]
    assert set(CANNED) <= set(ops)
    ids = [r.id for r in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "each request gets the next integer id"
    order = seen[2]
    assert isinstance(order, OrderRequest)
    assert (order.symbol, order.side, order.qty, order.price, order.tif, order.client_order_id) == (
        "ACME", "buy", 10, 100, "ioc", "c1")
    subscribe2 = seen[ops.index("subscribe") + 1]
    assert msgspec.structs.asdict(subscribe2)["interval_ms"] == 100


async def test_replies_out_of_order_reach_their_requests(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        first = await recv_request(ws)
        second = await recv_request(ws)
        third = await recv_request(ws)
        for req in (third, first, second):  # answer in a different order
            body = CANNED["ping"] if isinstance(req, PingRequest) else CANNED["balance"]
            await send(ws, **{**body, "id": req.id})

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True) as s:
        pong, balance, pong2 = await asyncio.gather(s.ping(), s.balance(), s.ping())
        assert isinstance(pong, PongReply) and isinstance(pong2, PongReply)
        assert isinstance(balance, BalanceReply) and balance.cash == 1000
        assert pong.id != pong2.id and s.queued == 0


async def test_error_reply_raises_exch_error_and_the_session_stays_usable(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        req = await recv_request(ws)
        await send(ws, type="error", id=req.id, code="insufficient_funds", message="needs 1000 cents",
                   field=None, client_order_id="c9")
        raw = await recv_json(ws)  # ill-typed on purpose: not a valid request
        await send(ws, type="error", id=raw["id"], code="invalid_price", message="expected an integer",
                   field="price")
        req = await recv_request(ws)
        await send(ws, **{**CANNED["ping"], "id": req.id})

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True) as s:
        with pytest.raises(ExchError) as info:
            await s.order("ACME", "buy", 10, price=100, client_order_id="c9")
        assert (info.value.code, info.value.client_order_id) == ("insufficient_funds", "c9")
        with pytest.raises(ExchError) as info:
            await s.request("order", symbol="ACME", side="buy", qty=1, price="x")
        assert (info.value.code, info.value.field) == ("invalid_price", "price")
        assert "invalid_price" in str(info.value)
        assert isinstance(await s.ping(), PongReply)


async def test_wrong_reply_type_is_a_protocol_error(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        req = await recv_request(ws)
        await send(ws, **{**CANNED["ping"], "id": req.id})
        req = await recv_request(ws)
        await send(ws, type="no_such_message", id=req.id)

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True) as s:
        with pytest.raises(ProtocolError, match="BalanceReply"):
            await s.balance()
        with pytest.raises(ProtocolError, match="undecodable"):
            await s.ping()
        assert s.undecodable == 1


async def test_timeout_raises_request_timeout_and_the_late_reply_is_pushed(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        req = await recv_request(ws)
        await recv_request(ws)  # the second request proves the first timed out
        await send(ws, **{**CANNED["ping"], "id": req.id})
        await ws.wait_closed()

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True, timeout=0.2) as s:
        with pytest.raises(RequestTimeout) as info:
            await s.ping()
        assert isinstance(info.value, asyncio.TimeoutError)
        with pytest.raises(RequestTimeout):
            await s.ping()
        late = await s.recv(timeout=5)
        assert isinstance(late, PongReply), "a reply nobody awaits is delivered to consumers"


async def test_batch_replies_in_request_order_with_errors_in_place(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        req = await recv_request(ws)
        assert isinstance(req, BatchRequest)
        items = [decode_batch_item(raw) for raw in req.requests]
        assert len({i.id for i in items} | {req.id}) == len(items) + 1, "every inner request has its own id"
        replies: list[dict[str, Any]] = []
        for n, item in enumerate(items):
            if n == 1:
                replies.append({"type": "error", "id": item.id, "code": "would_cross", "message": "crosses"})
            elif isinstance(item, PingRequest):
                replies.append({**CANNED["ping"], "id": item.id})
            else:
                replies.append(ack(item.id, order_id=100 + n))
        for reply in reversed(replies):  # even out of order, the client returns them in request order
            await send(ws, **reply)
        req = await recv_request(ws)
        await send(ws, type="error", id=req.id, code="bad_request", message="too many", field="requests")

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True) as s:
        replies = await s.batch([
            OrderRequest(symbol="ACME", side="buy", qty=1, price=100),
            {"op": "order", "symbol": "ACME", "side": "buy", "qty": 1, "price": 101, "post_only": True,
             "id": "ignored"},
            PingRequest(),
            OrderRequest(symbol="ACME", side="sell", qty=2, price=105, id=7),
        ])
        assert [type(r) for r in replies] == [AckMessage, ErrorMessage, PongReply, AckMessage]
        assert isinstance(replies[0], AckMessage) and replies[0].order_id == 100
        assert isinstance(replies[1], ErrorMessage) and replies[1].code == "would_cross"
        assert isinstance(replies[3], AckMessage) and replies[3].order_id == 103
        with pytest.raises(ExchError) as info:
            await s.batch([PingRequest()])
        assert info.value.field == "requests"
        assert s.queued == 0


async def test_batch_and_frame_limits_are_checked_before_sending(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        msg = await recv_json(ws)  # only the final ping gets through
        await send(ws, **{**CANNED["ping"], "id": msg["id"]})

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True) as s:
        with pytest.raises(ValueError, match="1 to 100"):
            await s.batch([PingRequest()] * 101)
        with pytest.raises(ValueError, match="1 to 100"):
            await s.batch([])
        with pytest.raises(ValueError, match="batch"):
            await s.batch([{"op": "batch", "requests": []}])
        with pytest.raises(ValueError, match="op"):
            await s.batch([{"symbol": "ACME"}])
        with pytest.raises(ValueError, match="limit"):
            await s.request("order", client_order_id="x" * 70_000)
        with pytest.raises(ValueError):
            await s.cancel()
        with pytest.raises(ValueError):
            await s.replace(1)
        assert isinstance(await s.ping(), PongReply)
