"""Connecting: TLS trust, certificate and reachability errors, plain ws:// refusal."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection

from client import CertificateError, ConnectError, Session
from exchange.protocol import PongReply

from .client_peer import TS, ServeFactory, recv_request, send

pytest.importorskip("cryptography", reason="cryptography generates the test certificates")
tls = pytest.importorskip("exchange.tls")


async def pong_peer(ws: ServerConnection) -> None:
    async for _ in ws:
        break
    await ws.wait_closed()


async def answer_ping(ws: ServerConnection) -> None:
    req = await recv_request(ws)
    await send(ws, type="pong", id=req.id, ts=TS)
    await ws.wait_closed()


@pytest.fixture
def server_home(tmp_path: Path) -> Path:
    """A data directory with a local CA and a server certificate for 127.0.0.1."""
    home = tmp_path / "server-home"
    tls.ensure_certificates(home / "tls")
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_untrusted_certificate_raises_certificate_error_with_the_cafile_hint(
    scripted: ServeFactory, server_home: Path, tmp_path: Path
) -> None:
    ctx = tls.server_context(server_home / "tls" / "server.pem", server_home / "tls" / "server-key.pem")
    async with scripted(answer_ping, ssl_context=ctx) as url:
        with pytest.raises(CertificateError) as info:
            await Session.connect(url, home=tmp_path / "empty-home")
        text = str(info.value)
        assert "--cafile" in text and "tls/ca.pem" in text
        assert isinstance(info.value, ConnectError)


async def test_trusted_by_cafile_or_by_the_home_ca(
    scripted: ServeFactory, server_home: Path, tmp_path: Path
) -> None:
    ctx = tls.server_context(server_home / "tls" / "server.pem", server_home / "tls" / "server-key.pem")
    async with scripted(answer_ping, ssl_context=ctx) as url:
        async with Session.connect(url, cafile=server_home / "tls" / "ca.pem", home=tmp_path) as s:
            assert isinstance(await s.ping(), PongReply)
        async with Session.connect(url, home=server_home) as s:
            assert isinstance(await s.ping(), PongReply)


async def test_missing_cafile_is_a_connect_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectError, match="CA file"):
        await Session.connect("wss://127.0.0.1:1/ws", cafile=tmp_path / "nope.pem")


async def test_unreachable_port_raises_connect_error() -> None:
    port = free_port()
    with pytest.raises(ConnectError, match="cannot reach") as info:
        await Session.connect(f"ws://127.0.0.1:{port}/ws", insecure_ok=True, open_timeout=5)
    assert not isinstance(info.value, CertificateError)


async def test_plain_ws_needs_insecure_ok_and_other_schemes_are_refused() -> None:
    with pytest.raises(ConnectError, match="unencrypted"):
        await Session.connect("ws://127.0.0.1:8443/ws")
    with pytest.raises(ConnectError, match="wss://"):
        await Session.connect("https://127.0.0.1:8443/ws")


async def test_tls_to_a_plain_server_and_plain_to_a_tls_server_fail_clearly(
    scripted: ServeFactory, server_home: Path
) -> None:
    async with scripted(pong_peer) as url:
        with pytest.raises(ConnectError, match="--insecure"):
            await Session.connect(url.replace("ws://", "wss://"), home=server_home, open_timeout=5)
    ctx = tls.server_context(server_home / "tls" / "server.pem", server_home / "tls" / "server-key.pem")
    async with scripted(pong_peer, ssl_context=ctx) as url:
        with pytest.raises(ConnectError, match="wss://"):
            await Session.connect(url.replace("wss://", "ws://"), insecure_ok=True, open_timeout=5)
