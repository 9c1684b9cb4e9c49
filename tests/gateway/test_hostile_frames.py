"""Hostile frames and floods, end to end on both servers (issue #11 items 4 and 5).

Every frame gets a precise ``error`` and the connection stays usable — except
what RFC 6455 makes a protocol error (a text frame that is not UTF-8: 1007)
and a flood far past the rate limit (1008). Nothing is answered with 1011,
and nothing fills the log.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from exchange.serving.limits import GatewayLimits

from .conftest import Exchange, MakeExchange, ca_context


def nest(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


HOSTILE: list[str | bytes] = [
    nest(1_000), nest(20_000), '{"a":' * 3_000 + "1" + "}" * 3_000,
    '{"op":"ping","id":7,"x":' + nest(5_000) + "}",
    '{"op":"subscribe","id":8,"channels":' + nest(5_000) + "}",
    '{"op":"batch","id":9,"requests":[' + nest(5_000) + "]}",
    '{"op":"batch","id":10,"requests":[{"op":"batch","requests":[{"op":"ping"}]}]}',
    '{"op":"batch","id":11,"requests":[{"op":"batch","requests":[' + nest(5_000) + "]}]}",
    '{"op":"ping","id":1e999}', '{"op":"ping","id":' + "9" * 20_000 + "}", '{"op":"ping","id":NaN}',
    '{"op":"ping","id":-Infinity}', '{"op":"order","symbol":"ACME","side":"buy","qty":1e400}',
    '{"op":"order","id":12,"symbol":"ACME","side":"buy","qty":-1e30}',
    '{"op":"ping","id":"\\ud800"}', '{"op":"ping","op":"batch"}', '{"op":"ping","id":1,"id":[]}',
    '{"op":"login","id":13,"username":' + nest(5_000, '"x"') + "}",
    "\u0000", "", "{", "[", '"', "\ufeff{}",
    nest(2_000).encode(), b"\xff\xfe\x00",
]


async def assert_usable(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"op": "ping", "id": "still-here"}))
    async with asyncio.timeout(10):
        while True:
            reply = json.loads(await ws.recv())
            if reply.get("id") == "still-here":
                assert reply["type"] == "pong"
                return


async def send_hostile(ws: ClientConnection, repeat: int = 1) -> list[dict[str, object]]:
    """Send every hostile frame ``repeat`` times; return the replies."""
    replies = []
    for _ in range(repeat):
        for frame in HOSTILE:
            await ws.send(frame)
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            replies.append(reply)
    return replies


async def check_hostile(url: str, ca: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with ws_connect(url, ssl=ca_context(ca), proxy=None, max_size=None) as ws:
        replies = await send_hostile(ws, repeat=20)  # the audit's 500 frames, and more
        assert all(r["type"] == "error" and r["code"] in ("bad_request", "unknown_op", "invalid_qty")
                   for r in replies), [r for r in replies if r["type"] != "error"][:3]
        assert 12 in {r["id"] for r in replies}  # the id is echoed where it can be read
        assert "frame nests too deeply" in {r["message"] for r in replies}
        await assert_usable(ws)
    # a text frame that is not UTF-8 is a protocol error (RFC 6455): 1007, never 1011
    async with ws_connect(url, ssl=ca_context(ca), proxy=None) as ws:
        async with ws.send_context():
            ws.protocol.send_frame(Frame(Opcode.TEXT, b'{"op":"ping","id":"\xed\xa0\x80"}'))
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1007
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy][:3]


async def test_hostile_frames_get_errors_on_the_exchange(exchange: Exchange, caplog: pytest.LogCaptureFixture) -> None:
    await check_hostile(exchange.url, exchange.home, caplog)
    await (await exchange.connect()).ping()


@pytest.fixture
async def marketdata(tmp_path: Path) -> AsyncIterator[str]:
    """``exch marketdata`` on an in-process bus (TLS with its own CA in ``tmp_path``): its URL."""
    from exchange.marketdata.bus import InProcessBus
    from exchange.marketdata.hub import MarketDataHub
    from exchange.marketdata.server import MarketDataConfig, MarketDataInfo, run_marketdata

    started: asyncio.Future[MarketDataInfo] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    config = MarketDataConfig(home=tmp_path, port=0, limits=GatewayLimits(orders_per_s=0, messages_per_s=0))
    server = asyncio.create_task(run_marketdata(config, follower=InProcessBus(source=MarketDataHub()),
                                                ready=started.set_result, stop=stop, out=io.StringIO()))
    info = await asyncio.wait_for(started, 30)
    yield info.url
    stop.set()
    assert await asyncio.wait_for(server, 30) == 0


async def test_hostile_frames_get_errors_on_the_market_data_server(
    marketdata: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await check_hostile(marketdata, tmp_path, caplog)


async def test_binary_and_garbage_frames_count_against_the_message_rate(make_exchange: MakeExchange) -> None:
    ex = make_exchange(limits=GatewayLimits(messages_per_s=2, orders_per_s=0))
    async with ws_connect(ex.url, ssl=ca_context(ex.home), proxy=None) as ws:
        codes = []
        for frame in [b"\x00binary"] * 6 + ["not json"] * 6 + [b"{\"op\":\"ping\"}"] * 6:
            await ws.send(frame)
            codes.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["code"])
        assert codes.count("rate_limited") >= 18 - 6, codes  # a burst of 4, then about 2/s
        await ws.send(json.dumps({"op": "ping", "id": "p"}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (reply["id"], reply.get("code")) == ("p", "rate_limited")  # refused, with its id


async def test_a_flood_far_past_the_rate_limit_is_closed_with_1008(
    make_exchange: MakeExchange, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ex = make_exchange(limits=GatewayLimits(messages_per_s=5, orders_per_s=0))  # max_refused: 1,000 in 10 s
    async with ws_connect(ex.url, ssl=ca_context(ex.home), proxy=None) as ws:
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(30):
                for _ in range(3_000):
                    await ws.send(b"garbage")
                while True:
                    await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    assert info.value.rcvd.reason == "rate limit exceeded"
    lines = [r for r in caplog.records if "rate_limited" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    await (await ex.connect()).ping()  # the server is fine
