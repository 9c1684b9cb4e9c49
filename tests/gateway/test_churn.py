"""Connection churn does not keep the server's memory: the freed C heap goes back to the system.

And ``exch bench soak`` (trading + churn + slow readers + fuzzing, then a
restart) loses no acknowledged order and does not crash the server.
"""

from __future__ import annotations

import asyncio
import resource
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from exchange.bench.soak import run as soak
from exchange.tls import client_context

from .conftest import StartProc

MIB = 2**20
BURST = 300


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


async def burst(url: str, home: Path, n: int) -> None:
    """Open ``n`` TLS WebSocket connections at once, then close them all."""
    ctx = client_context(home=home)

    async def one() -> ClientConnection:
        return await connect(url, ssl=ctx, compression=None, ping_interval=None, open_timeout=60)

    opened = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    conns = [ws for ws in opened if isinstance(ws, ClientConnection)]
    assert len(conns) > n // 2, [e for e in opened if not isinstance(e, ClientConnection)][:3]
    await asyncio.gather(*(ws.close() for ws in conns))


async def assert_memory_of_closed_connections_is_given_back(url: str, home: Path, pid: int) -> None:
    """Bursts of TLS connections grow the process at ``pid``; once they closed, most of it goes back."""
    await burst(url, home, 20)  # warm up: imports, first handshakes
    await asyncio.sleep(0.5)
    base = rss(pid)
    peak = base
    for _ in range(3):
        await burst(url, home, BURST)
        peak = max(peak, rss(pid))
    grown = peak - base
    assert grown > 16 * MIB, f"the bursts grew the server by only {grown / MIB:.1f} MiB: nothing to give back"
    # every connection is closed: within a few trim periods most of what they took is back
    deadline = time.monotonic() + 40
    while rss(pid) - base > grown / 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    left = rss(pid) - base
    assert left <= grown / 2, f"{left / MIB:.1f} of {grown / MIB:.1f} MiB still held after every connection closed"


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc")
async def test_memory_of_closed_connections_is_given_back(tmp_path: Path, proc_server: StartProc) -> None:
    server = proc_server(tmp_path / "home")
    await assert_memory_of_closed_connections_is_given_back(server.url, server.home, server.proc.pid)


def test_a_short_soak_loses_no_acknowledged_order_and_the_server_exits_cleanly() -> None:
    result = soak(seconds=3, traders=2, churners=2, slow_readers=1, fuzzers=1)
    assert result["orders_acked"] > 0 and result["connections_churned"] > 0 and result["frames_fuzzed"] > 0
    assert result["lost_acks"] == 0
    assert result["traders_changed_by_restart"] == 0
    assert result["server_crashes"] == 0
    assert result["exit_code"] == 0 and result["restart_exit_code"] == 0
