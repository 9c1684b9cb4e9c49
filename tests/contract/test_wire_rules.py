"""Issue #14: the server keeps the two wire rules docs/protocol.md states.

* Null vs absent: every field of a message type is always present, null when unused.
* ``field``: names the request field a refusal is about, spelled as in the request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from exchange.protocol.messages import L3Message, SnapshotMessage
from tests.gateway.conftest import Exchange, ca_context

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def raw(ex: Exchange) -> AsyncIterator[ClientConnection]:
    """A bare websocket over TLS: what a third-party client sees, byte for byte."""
    async with ws_connect(ex.url, ssl=ca_context(ex.home), proxy=None) as ws:
        yield ws


async def ask(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    """Send ``frame``; return the reply with its ``id`` (pushes before it are skipped)."""
    await ws.send(json.dumps(frame))
    while True:
        msg: dict[str, Any] = json.loads(await ws.recv())
        if msg.get("id") == frame.get("id") and "id" in msg:
            return msg


async def login(ex: Exchange, ws: ClientConnection, **gift: Any) -> None:
    name, password = await ex.add_user(**gift)
    assert (await ask(ws, {"op": "login", "id": "login", "username": name, "password": password}))["type"] == "login"


def keys(struct: type[msgspec.Struct]) -> set[str]:
    return {"type", *struct.__struct_fields__}


async def test_every_l3_and_snapshot_frame_carries_every_field(exchange: Exchange) -> None:
    async with raw(exchange) as watcher, raw(exchange) as seller, raw(exchange) as buyer:
        await ask(watcher, {"op": "subscribe", "id": 1, "channels": ["level3", "level2", "ticker", "trades"],
                            "symbols": ["ACME"]})
        await login(exchange, seller, shares={"ACME": 10})
        await login(exchange, buyer, cash=100_000)
        await ask(seller, {"op": "order", "id": 2, "symbol": "ACME", "side": "sell", "price": 100, "qty": 5})
        await ask(buyer, {"op": "order", "id": 3, "symbol": "ACME", "side": "buy", "price": 100, "qty": 5})
        frames: list[dict[str, Any]] = []
        while not any(f.get("type") == "l3" and f["event"] == "done" for f in frames):
            frames.append(json.loads(await watcher.recv()))
    snapshots = [f for f in frames if f["type"] == "snapshot"]
    l3 = [f for f in frames if f["type"] == "l3"]
    assert {s["channel"] for s in snapshots} == {"level3", "level2", "ticker", "trades"}
    assert {e["event"] for e in l3} == {"open", "match", "done"}
    for frame in snapshots:
        assert set(frame) == keys(SnapshotMessage), frame
    for frame in l3:
        assert set(frame) == keys(L3Message), frame
    opened = next(e for e in l3 if e["event"] == "open")
    assert opened["trade_id"] is None and opened["reason"] is None and opened["maker_order_id"] is None
    done = next(e for e in l3 if e["event"] == "done")
    assert done["side"] is None and done["price"] is None and done["qty"] is None
    ticker = next(s for s in snapshots if s["channel"] == "ticker")
    assert ticker["bids"] is None and ticker["asks"] is None and ticker["trades"] is None


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ({"op": "order", "symbol": "NOPE", "side": "buy", "price": 100, "qty": 1}, "unknown_symbol", "symbol"),
        ({"op": "order", "symbol": "ACME", "side": "buy", "type": "market", "price": 100, "qty": 1},
         "invalid_price", "price"),
        ({"op": "order", "symbol": "ACME", "side": "buy", "price": "100", "qty": 1}, "invalid_price", "price"),
        ({"op": "order", "symbol": "ACME", "side": "buy", "price": 100, "qty": 1, "tif": "ioc", "post_only": True},
         "bad_request", "post_only"),
        ({"op": "order", "symbol": "ACME", "side": "buy", "type": "market", "qty": 1, "post_only": True},
         "bad_request", "post_only"),
        ({"op": "cancel", "order_id": 999_999}, "unknown_order", "order_id"),
        ({"op": "cancel", "client_order_id": "nope"}, "unknown_order", "client_order_id"),
        ({"op": "replace", "order_id": 999_999, "price": 100}, "unknown_order", "order_id"),
        ({"op": "cancel"}, "bad_request", "order_id"),
        ({"op": "cancel_all", "symbol": "NOPE"}, "unknown_symbol", "symbol"),
        ({"op": 42}, "bad_request", "op"),
        ({"op": "no_such_op"}, "unknown_op", "op"),
    ],
)
async def test_a_refusal_names_the_request_field_it_is_about(
    exchange: Exchange, frame: dict[str, Any], code: str, field: str
) -> None:
    async with raw(exchange) as ws:
        await login(exchange, ws, cash=100_000)
        reply = await ask(ws, {**frame, "id": 7})
    assert (reply["type"], reply["code"], reply["field"]) == ("error", code, field), reply


async def test_subscribe_to_an_unknown_symbol_names_symbols(exchange: Exchange) -> None:
    async with raw(exchange) as ws:
        reply = await ask(ws, {"op": "subscribe", "id": 1, "channels": ["trades"], "symbols": ["ACME", "NOPE"]})
    assert (reply["code"], reply["field"]) == ("unknown_symbol", "symbols")


async def test_stats_before_login_is_not_authenticated_and_with_the_wrong_role_forbidden(exchange: Exchange) -> None:
    async with raw(exchange) as ws:
        before = await ask(ws, {"op": "subscribe", "id": 1, "channels": ["stats"]})
        await login(exchange, ws)
        after = await ask(ws, {"op": "subscribe", "id": 2, "channels": ["stats"]})
    assert (before["code"], after["code"]) == ("not_authenticated", "forbidden")
