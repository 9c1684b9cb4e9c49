"""Frames the client library never sends, slow consumers, and the HTTP endpoints on the same port."""

from __future__ import annotations

import asyncio
import json
import re
import socket

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from exchange.protocol import L3Message, OrderRequest
from exchange.serving.limits import GatewayLimits

from .conftest import Exchange, MakeExchange, Pushes, ca_context, http_get

MAX_FRAME = 64 * 1024


async def test_a_frame_over_64_kib_closes_the_connection_with_1009(exchange: Exchange) -> None:
    async with ws_connect(exchange.url, ssl=ca_context(exchange.home), proxy=None, max_size=None) as ws:
        # just under the limit is fine (unknown fields are ignored)
        pad = "x" * (MAX_FRAME - 100)
        await ws.send(json.dumps({"op": "ping", "id": 1, "pad": pad}))
        assert json.loads(await ws.recv())["type"] == "pong"
        await ws.send(json.dumps({"op": "ping", "id": 2, "pad": "x" * MAX_FRAME}))
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    other = await exchange.connect()  # the server is fine
    await other.ping()


async def test_binary_and_garbage_frames_get_an_error_and_the_connection_stays_usable(
    exchange: Exchange,
) -> None:
    async with ws_connect(exchange.url, ssl=ca_context(exchange.home), proxy=None) as ws:
        for frame in (b"\x00\xff\xfe garbage", json.dumps({"op": "ping", "id": 5}).encode(), b""):
            await ws.send(frame)
            reply = json.loads(await ws.recv())
            assert reply["type"] == "error" and reply["code"] == "bad_request"
        await ws.send("\x00\x01\x02 \u2603 not json at all")
        assert json.loads(await ws.recv())["code"] == "bad_request"
        await ws.send(json.dumps({"op": "symbols", "id": "ok"}))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "symbols" and reply["id"] == "ok"


async def test_a_client_that_stops_reading_is_disconnected_and_others_are_served(
    make_exchange: MakeExchange,
) -> None:
    ex = make_exchange(limits=GatewayLimits(messages_per_s=0, orders_per_s=0, max_buffer=64 * 1024))
    maker = await ex.trader(cash=10**9)
    # a deep book: every level3 / level2 snapshot of ACME is tens of KiB
    for start in range(1, 901, 100):
        await maker.batch([OrderRequest(symbol="ACME", side="buy", qty=1, price=p) for p in range(start, start + 100)])
    reader = await ex.connect()
    reader_pushes = Pushes(reader)
    await reader.subscribe("level3", "ACME")

    # The slow client: a small receive buffer, and a websockets queue of one frame, so once
    # it stops reading the server's data piles up on the server's side.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", ex.port))
    sock.setblocking(False)
    slow = await ws_connect(
        ex.url,
        ssl=ca_context(ex.home),
        sock=sock,
        server_hostname="127.0.0.1",
        proxy=None,
        max_queue=1,
        max_size=None,
        ping_interval=None,
    )
    host, port = sock.getsockname()[:2]
    local = f"{host}:{port}"
    admin = await ex.admin()
    assert local in {x.address for x in (await admin.sessions()).sessions}
    request = json.dumps({"op": "subscribe", "channels": ["level3", "level2"], "symbols": ["ACME"]})
    try:
        async with asyncio.timeout(60):
            sent = 0
            while local in {x.address for x in (await admin.sessions()).sessions}:
                for _ in range(20):  # each reply is ~50 KiB of snapshots the client never reads
                    await slow.send(request)
                    sent += 1
                # meanwhile the server keeps serving the others, market data included
                ack = await maker.order("ACME", "buy", 1, price=2_000 + sent)
                await reader_pushes.wait(L3Message, order_id=ack.order_id, event="open")
                await maker.cancel(ack.order_id)
                await asyncio.sleep(0.05)
    except ConnectionClosed:
        pass  # the server dropped us while we were still sending: that is the point
    except TimeoutError:
        pytest.fail("the server kept a client that does not read")
    assert local not in {x.address for x in (await admin.sessions()).sessions}
    # now read what was buffered: the connection ends with 1013 or is simply dropped
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(60):
            while True:
                await slow.recv()
    rcvd = info.value.rcvd
    assert rcvd is None or rcvd.code == 1013
    await slow.close()
    assert not reader.closed and not maker.closed
    ack = await maker.order("ACME", "buy", 1, price=5_000)
    await reader_pushes.wait(L3Message, order_id=ack.order_id, event="open")


async def test_healthz_and_metrics_over_https(exchange: Exchange) -> None:
    status, ctype, body = await asyncio.to_thread(http_get, exchange.home, exchange.port, "/healthz")
    assert status == 200 and ctype.startswith("application/json")
    health = json.loads(body)
    assert health["status"] == "ok" and isinstance(health["seq"], int)

    def orders_total(text: str) -> int:
        match = re.search(r"^exch_orders_total (\d+)$", text, re.M)
        assert match, text
        return int(match.group(1))

    status, ctype, before = await asyncio.to_thread(http_get, exchange.home, exchange.port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    assert "# TYPE exch_orders_total counter" in before and re.search(r"^exch_up 1$", before, re.M)
    s = await exchange.trader(cash=10_000)
    for price in (10, 11, 12):
        await s.order("ACME", "buy", 1, price=price)
    _, _, after = await asyncio.to_thread(http_get, exchange.home, exchange.port, "/metrics")
    assert orders_total(after) == orders_total(before) + 3
    assert re.search(r'^exch_open_interest\{symbol="ACME"\} 3$', after, re.M)
    assert (
        json.loads((await asyncio.to_thread(http_get, exchange.home, exchange.port, "/healthz"))[2])["seq"]
        > (health["seq"])
    )
    status, _, _ = await asyncio.to_thread(http_get, exchange.home, exchange.port, "/nope")
    assert status == 404
