"""``--trusted-proxy`` end to end: real servers, real TLS, headers sent by a real WebSocket client.

The test itself plays the reverse proxy: it connects from 127.0.0.1 and sends
``X-Forwarded-For`` / ``Forwarded`` in the handshake, as nginx or a load
balancer would — and, in the same handshake, the header a client could slip
through a proxy that does not set it (only ``--proxy-header`` counts).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from .conftest import Exchange, MakeExchange, ca_context, unique

_ids = itertools.count(1)


class Raw:
    """A WebSocket to the exchange with handshake headers of our choosing."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and return its reply (pushed messages are skipped)."""
        rid = next(_ids)
        await self.ws.send(json.dumps({"op": op, "id": rid, **fields}))
        async with asyncio.timeout(10):
            while True:
                msg: dict[str, Any] = json.loads(await self.ws.recv())
                if msg.get("id") == rid:
                    return msg

    async def login(self, username: str, password: str) -> bool:
        """Whether the login succeeded (a refusal is always ``auth_failed``)."""
        reply = await self.request("login", username=username, password=password)
        if reply["type"] == "error":
            assert reply["code"] == "auth_failed", reply
            return False
        return True


@pytest.fixture
async def raw() -> AsyncIterator[Any]:
    """``await raw(exchange, headers)``: an open :class:`Raw` (closed at teardown)."""
    opened: list[ClientConnection] = []

    async def open_(ex: Exchange, headers: Sequence[tuple[str, str]] = ()) -> Raw:
        ws = await connect(ex.url, ssl=ca_context(ex.home), additional_headers=list(headers), proxy=None,
                           compression=None)
        opened.append(ws)
        return Raw(ws)

    yield open_
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)


async def addresses(ex: Exchange) -> dict[str | None, str]:
    """``user -> address`` from the admin's ``sessions`` list."""
    admin = await ex.admin()
    return {s.user: s.address for s in (await admin.sessions()).sessions}


async def lock_address(conn: Raw) -> None:
    """20 failed logins from one address (10 names, each twice: under the per-user limit of 5)."""
    for i in range(20):
        assert not await conn.login(f"nobody{i % 10}", "wrong")


XFF = "X-Forwarded-For"


async def test_a_trusted_proxy_names_the_client_in_the_session_list(make_exchange: MakeExchange, raw: Any) -> None:
    ex = make_exchange(trusted_proxies=["127.0.0.1/32"])
    users = {key: await ex.add_user() for key in ("xff", "chain", "xff6", "garbage", "direct")}
    cases = {
        "xff": [(XFF, "203.0.113.9")],
        "chain": [(XFF, "198.51.100.66, 203.0.113.10, 127.0.0.1")],  # spoofed left, trusted hop right
        "xff6": [(XFF, "[2001:db8::7]:4711")],
        "garbage": [(XFF, "not an address")],
        "direct": [],
    }
    for key, headers in cases.items():
        conn = await raw(ex, headers)
        assert await conn.login(*users[key])
    shown = await addresses(ex)
    by_key = {key: shown[users[key][0]] for key in cases}
    assert by_key["xff"].startswith("203.0.113.9 (via 127.0.0.1:"), by_key
    assert by_key["chain"].startswith("203.0.113.10 (via 127.0.0.1:"), by_key
    assert by_key["xff6"].startswith("2001:db8::7 (via 127.0.0.1:"), by_key
    for key in ("garbage", "direct"):  # no readable header: the peer itself, as before
        host, _, port = by_key[key].rpartition(":")
        assert host == "127.0.0.1" and port.isdigit(), by_key


async def test_the_login_throttle_counts_per_forwarded_address(make_exchange: MakeExchange, raw: Any) -> None:
    ex = make_exchange(trusted_proxies=["127.0.0.1/32"])
    name, password = await ex.add_user()
    attacker = await raw(ex, [(XFF, "203.0.113.9")])
    await lock_address(attacker)
    assert not await attacker.login(name, password)  # 203.0.113.9 is locked: even the right password fails
    again = await raw(ex, [(XFF, "198.51.100.1, 203.0.113.9")])  # a new connection from the same client
    assert not await again.login(name, password)
    # another client behind the same proxy, and the proxy's own address, are not locked
    assert await (await raw(ex, [(XFF, "203.0.113.10")])).login(name, password)
    assert await (await raw(ex)).login(name, password)
    # a Forwarded header the client slipped through names nobody: 203.0.113.9 stays locked
    dodge = await raw(ex, [("Forwarded", "for=203.0.113.11"), (XFF, "203.0.113.9")])
    assert not await dodge.login(name, password)
    # and the other client can be locked on its own, independently
    other = await raw(ex, [(XFF, "203.0.113.10")])
    await lock_address(other)
    assert not await other.login(name, password)
    assert await (await raw(ex, [(XFF, "203.0.113.12")])).login(name, password)


@pytest.mark.parametrize("trusted", [(), ("10.0.0.0/8",)], ids=["no-option", "other-network"])
async def test_headers_of_an_untrusted_peer_are_ignored(
    make_exchange: MakeExchange, raw: Any, trusted: tuple[str, ...]
) -> None:
    ex = make_exchange(trusted_proxies=trusted)  # 127.0.0.1 is not a trusted proxy
    name, password = await ex.add_user()
    spoofer = await raw(ex, [(XFF, "203.0.113.9"), ("Forwarded", "for=203.0.113.9"),
                             ("Fly-Client-IP", "203.0.113.9"), ("X-Real-IP", "203.0.113.9")])
    assert await spoofer.login(name, password)
    assert (await addresses(ex))[name].startswith("127.0.0.1:")
    # failures count against 127.0.0.1 whatever each connection claims to be
    attacker = await raw(ex, [(XFF, "203.0.113.20")])
    await lock_address(attacker)
    other, other_pw = unique("o"), "pw"
    await ex.add_user(other, password=other_pw)
    assert not await (await raw(ex, [(XFF, "203.0.113.21")])).login(other, other_pw)


@pytest.mark.parametrize(
    ("proxy_header", "real", "spoofed"),
    [
        ({}, XFF, "Forwarded"),  # the default: X-Forwarded-For
        ({"proxy_header": "forwarded"}, "Forwarded", XFF),
    ],
    ids=["x-forwarded-for", "forwarded"],
)
async def test_only_the_proxy_header_counts(
    make_exchange: MakeExchange, raw: Any, proxy_header: dict[str, str], real: str, spoofed: str
) -> None:
    """The proxy sets ``real``; ``spoofed`` is what a client passes through it, and is ignored."""

    def value(header: str, ip: str) -> str:
        return f"for={ip}" if header == "Forwarded" else ip

    ex = make_exchange(trusted_proxies=["127.0.0.1/32"], **proxy_header)
    users = {key: await ex.add_user() for key in ("both", "spoof-only", "real-only")}
    cases = {
        "both": [(spoofed, value(spoofed, "198.51.100.99")), (real, value(real, "203.0.113.30"))],
        "spoof-only": [(spoofed, value(spoofed, "198.51.100.99"))],
        "real-only": [(real, value(real, '"[2001:db8::30]:4711"' if real == "Forwarded" else "2001:db8::30"))],
    }
    for key, headers in cases.items():
        assert await (await raw(ex, headers)).login(*users[key])
    shown = await addresses(ex)
    by_key = {key: shown[users[key][0]] for key in cases}
    assert by_key["both"].startswith("203.0.113.30 (via 127.0.0.1:"), by_key
    assert by_key["real-only"].startswith("2001:db8::30 (via 127.0.0.1:"), by_key
    host, _, port = by_key["spoof-only"].rpartition(":")  # the proxy itself, not the client's claim
    assert host == "127.0.0.1" and port.isdigit(), by_key
    # a new spoofed address on every try does not dodge the throttle: 203.0.113.31 is locked
    name, password = await ex.add_user()
    for i in range(20):
        conn = await raw(ex, [(spoofed, value(spoofed, f"198.51.100.{i + 1}")), (real, value(real, "203.0.113.31"))])
        assert not await conn.login(f"nobody{i % 10}", "wrong")
    locked = await raw(ex, [(spoofed, value(spoofed, "198.51.100.200")), (real, value(real, "203.0.113.31"))])
    assert not await locked.login(name, password)
    assert await (await raw(ex, [(real, value(real, "203.0.113.32"))])).login(name, password)
