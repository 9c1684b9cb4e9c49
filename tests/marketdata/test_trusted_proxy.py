"""``--trusted-proxy`` / ``--proxy-header`` on the market-data endpoint (the base ``Endpoint`` both servers share)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from exchange.marketdata.hub import MarketDataHub
from exchange.serving.endpoint import Endpoint
from exchange.serving.forwarded import TrustedProxies
from exchange.serving.limits import GatewayLimits
from exchange.tasks import websocket_options


async def shown_addresses(endpoint: Endpoint, headers: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Connect once per header list, ping, and return each client's ``(address shown, ip)``."""
    endpoint.accepting = True
    limits = GatewayLimits()
    async with serve(endpoint.handle, "127.0.0.1", 0, **websocket_options(limits, server_header="t")) as server:
        port = next(s.getsockname()[1] for s in server.sockets)
        conns = [await connect(f"ws://127.0.0.1:{port}/ws", additional_headers=h, proxy=None) for h in headers]
        try:
            for ws in conns:  # a reply means the endpoint has made the session
                await ws.send(json.dumps({"op": "ping", "id": 1}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong"
            return [(s.address, s.ip) for s in sorted(endpoint.sessions, key=lambda s: s.id)]
        finally:
            for ws in conns:
                await ws.close()


async def test_the_public_endpoint_names_the_forwarded_client() -> None:
    headers = [[("X-Forwarded-For", "198.51.100.1, 203.0.113.9")], [("Forwarded", 'for="[2001:db8::7]:80"')],
               [("X-Forwarded-For", "garbage")], []]
    trusting = Endpoint(hub=MarketDataHub(), trusted_proxies=TrustedProxies(["127.0.0.1/32"]))
    shown = await shown_addresses(trusting, headers)
    # X-Forwarded-For by default: the Forwarded of the second client is not read
    assert [ip for _, ip in shown] == ["203.0.113.9", "127.0.0.1", "127.0.0.1", "127.0.0.1"], shown
    assert shown[0][0].startswith("203.0.113.9 (via 127.0.0.1:"), shown
    assert all(a.startswith("127.0.0.1:") and "via" not in a for a, _ in shown[1:]), shown
    forwarded = Endpoint(hub=MarketDataHub(), trusted_proxies=TrustedProxies(["127.0.0.1/32"], header="forwarded"))
    shown = await shown_addresses(forwarded, headers)
    assert [ip for _, ip in shown] == ["127.0.0.1", "2001:db8::7", "127.0.0.1", "127.0.0.1"], shown
    assert shown[1][0].startswith("2001:db8::7 (via 127.0.0.1:"), shown
    default = Endpoint(hub=MarketDataHub())  # no --trusted-proxy: headers ignored
    shown = await shown_addresses(default, headers)
    assert all(a.startswith("127.0.0.1:") and ip == "127.0.0.1" for a, ip in shown), shown


async def test_exch_marketdata_hands_the_trusted_proxies_and_header_to_its_endpoint(tmp_path: Path) -> None:
    from exchange.marketdata.bus import InProcessBus
    from exchange.marketdata.server import MarketDataConfig, MarketDataInfo, run_marketdata

    out = io.StringIO()
    started: asyncio.Future[MarketDataInfo] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    config = MarketDataConfig(home=tmp_path, port=0, insecure=True, trusted_proxies=["127.0.0.1/32", "fdaa::/16"],
                              proxy_header="Fly-Client-IP")
    server = asyncio.create_task(run_marketdata(config, follower=InProcessBus(source=MarketDataHub()),
                                                ready=started.set_result, stop=stop, out=out))
    await asyncio.wait_for(started, 30)
    stop.set()
    assert await asyncio.wait_for(server, 30) == 0
    assert "client addresses from Fly-Client-IP of trusted proxies 127.0.0.1/32, fdaa::/16" in out.getvalue()
