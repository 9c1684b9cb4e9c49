"""Stalled readers, the process-wide output budget and the per-address connection cap (issue #11 item 6).

Real servers, real TLS, real sockets: a stalled reader is a WebSocket client
with a tiny receive buffer and a one-frame queue that subscribes to big
snapshots and does not read, so what the server sends piles up on its side.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from client import Session
from exchange.bench.slow_readers import slow_readers
from exchange.protocol import L3Message, OrderRequest
from exchange.serving.limits import GatewayLimits

from .conftest import Exchange, MakeExchange, Pushes, StartProc, ca_context

MiB = 1024 * 1024
SUBSCRIBE = json.dumps({"op": "subscribe", "channels": ["level3", "level2"], "symbols": ["ACME"]})


async def deep_book(ex: Exchange) -> Session:
    """900 resting ACME bids, so one level3+level2 subscription replies with tens of KiB; the maker."""
    maker = await ex.trader(cash=10**9)
    for start in range(1, 901, 100):
        await maker.batch([OrderRequest(symbol="ACME", side="buy", qty=1, price=p) for p in range(start, start + 100)])
    return maker


async def stalled(ex: Exchange) -> tuple[ClientConnection, str]:
    """A connected client that will not read; its ``ip:port`` as the server shows it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", ex.port))
    sock.setblocking(False)
    ws = await ws_connect(ex.url, ssl=ca_context(ex.home), sock=sock, server_hostname="127.0.0.1", proxy=None,
                          max_queue=1, max_size=None, ping_interval=None, close_timeout=1)
    host, port = sock.getsockname()[:2]
    return ws, f"{host}:{port}"


async def addresses(admin: Session) -> set[str]:
    return {s.address for s in (await admin.sessions()).sessions}


async def flood_until_dropped(admin: Session, ws: ClientConnection, address: str) -> int:
    """Subscribe again and again (never reading) until the server drops ``address``; the subscribes sent.

    The kernel's socket buffers take the first MiBs; what piles up after that is the server's.
    """
    sent = 0
    try:
        async with asyncio.timeout(90):
            while address in await addresses(admin):
                for _ in range(20):
                    await ws.send(SUBSCRIBE)
                sent += 20
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"the server kept {address} after {sent} unread subscriptions")
    return sent


async def close_code(ws: ClientConnection) -> int | None:
    """Read everything the server sent until the connection ends: the close code received (None: none)."""
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(60):
            while True:
                await ws.recv()
    rcvd = info.value.rcvd
    return None if rcvd is None else rcvd.code


async def test_a_stalled_reader_gets_a_1013_close_frame_behind_its_data(make_exchange: MakeExchange) -> None:
    ex = make_exchange(limits=GatewayLimits(messages_per_s=0, orders_per_s=0, max_buffer=256 * 1024))
    await deep_book(ex)
    admin = await ex.admin()
    slow, local = await stalled(ex)
    await flood_until_dropped(admin, slow, local)
    assert await close_code(slow) == 1013  # the close frame was queued behind what it had not read yet
    await (await ex.connect()).ping()


async def test_the_output_budget_drops_the_worst_stalled_reader_first(make_exchange: MakeExchange) -> None:
    ex = make_exchange(limits=GatewayLimits(messages_per_s=0, orders_per_s=0, max_buffer=64 * MiB,
                                            max_buffer_public=64 * MiB, max_output=2 * MiB))
    maker = await deep_book(ex)
    admin = await ex.admin()
    reader = await ex.connect()
    pushes = Pushes(reader)
    await reader.subscribe("level3", "ACME")
    small = [await stalled(ex) for _ in range(2)]
    for ws, _ in small:
        for _ in range(3):  # unread, but little
            await ws.send(SUBSCRIBE)
    worst, worst_address = await stalled(ex)
    await flood_until_dropped(admin, worst, worst_address)  # alone past the budget, far under its max_buffer
    assert await close_code(worst) == 1013
    # the others keep their connections, the reader its stream, and the server serves
    assert {address for _, address in small} <= await addresses(admin)
    ack = await maker.order("ACME", "buy", 1, price=5_000)
    await pushes.wait(L3Message, order_id=ack.order_id, event="open")
    await (await ex.connect()).ping()
    for ws, _ in small:
        await ws.close()


async def test_connections_per_address_are_capped(make_exchange: MakeExchange) -> None:
    ex = make_exchange(limits=GatewayLimits(max_per_address=2))
    first = await ex.connect()
    await ex.connect()
    with pytest.raises(InvalidStatus) as info:
        async with ws_connect(ex.url, ssl=ca_context(ex.home), proxy=None):
            pass
    assert info.value.response.status_code == 429
    await first.close()
    async with asyncio.timeout(10):
        while True:  # the server notices the close: a slot comes free
            try:
                await (await ex.connect()).ping()
                break
            except Exception:
                await asyncio.sleep(0.05)


async def test_the_per_address_cap_counts_the_client_a_trusted_proxy_names(make_exchange: MakeExchange) -> None:
    ex = make_exchange(trusted_proxies=["127.0.0.1/32"], limits=GatewayLimits(max_per_address=1))

    async def via_proxy(client: str) -> ClientConnection:
        return await ws_connect(ex.url, ssl=ca_context(ex.home), proxy=None,
                                additional_headers=[("X-Forwarded-For", client)])

    one = await via_proxy("203.0.113.1")
    two = await via_proxy("203.0.113.2")  # another client behind the same proxy
    with pytest.raises(InvalidStatus) as info:
        await via_proxy("203.0.113.1")
    assert info.value.response.status_code == 429
    for ws in (one, two):
        await ws.send(json.dumps({"op": "ping", "id": 1}))
        assert json.loads(await ws.recv())["type"] == "pong"
        await ws.close()


async def test_exch_serve_takes_the_per_address_cap_and_the_output_budget(proc_server: StartProc) -> None:
    server = proc_server(None, "--max-per-address", "1", "--max-output-mib", "64")
    ssl = ca_context(server.home)
    async with ws_connect(server.url, ssl=ssl, proxy=None) as ws:
        await ws.send(json.dumps({"op": "ping", "id": 1}))
        assert json.loads(await ws.recv())["type"] == "pong"
        with pytest.raises(InvalidStatus) as info:
            await ws_connect(server.url, ssl=ssl, proxy=None)
        assert info.value.response.status_code == 429


async def test_the_slow_readers_phase_reports_memory_and_how_each_ended(make_exchange: MakeExchange) -> None:
    ex = make_exchange(limits=GatewayLimits(messages_per_s=0, orders_per_s=0, max_buffer_public=128 * 1024))
    await deep_book(ex)
    result = await slow_readers(ex.url, ex.home / "tls" / "ca.pem", 3, pid=os.getpid(), channels=("level3", "level2"),
                                symbols=("ACME",), subscribes=300, resubscribe_s=0.2, hold_s=3)
    assert (result["opened"], result["refused"], sum(result["outcomes"].values())) == (3, 0, 3), result
    # how many the server dropped depends on how fast it could produce (the kernel takes MiBs first)
    assert set(result["outcomes"]) <= {"open", "closed 1013", "cut"}, result
    assert result["subscribes_sent"] >= 3 * 300
    assert result["rss_peak_mib"] >= result["rss_before_mib"] > 0
