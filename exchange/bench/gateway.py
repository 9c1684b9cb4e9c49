"""``exch bench gateway``: orders acknowledged end to end over TLS with journaling.

Two server processes are measured in one run with the same load client (this
process): a bare ``websockets`` TLS echo server (the ceiling of the stack) and
a real ``exch serve`` on a scratch home (TLS, journal, risk, market data on).
The load client keeps ``window`` requests in flight on each of ``connections``
connections (closed loop) and counts round trips; then it sends at a fixed
rate to measure order -> ack latency; then it sends ``batch`` frames of 100
orders. Every order sent must be acknowledged (``acks_lost`` counts those
that were not, or were refused).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import websockets.version
from websockets.asyncio.client import ClientConnection, connect

from exchange.tls import client_context

__all__ = ["run"]

_ECHO = """
import asyncio, ssl, sys
from websockets.asyncio.server import serve
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    async with serve(echo, "127.0.0.1", 0, ssl=ctx, compression=None, max_size=65536) as s:
        print(s.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
try:
    import uvloop; uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""


def _start_exch(home: Path, extra: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange", "serve", "--home", str(home), "--port", "0",
         "--bcrypt-rounds", "4", "--messages-per-s", "0", "--orders-per-s", "0",
         "--max-per-address", "0", *(extra or [])],  # every load connection comes from 127.0.0.1
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    info_path = home / "server.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exch serve exited with {proc.returncode}")
        if info_path.exists():
            try:
                return proc, json.loads(info_path.read_text())["url"]
            except (ValueError, KeyError):
                pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("exch serve did not start within 60 s")


def _start_echo(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    tls = home / "tls"
    proc = subprocess.Popen(
        [sys.executable, "-c", _ECHO, str(tls / "server.pem"), str(tls / "server-key.pem")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"wss://127.0.0.1:{port}/ws"


@functools.cache
def _context(home: Path) -> ssl.SSLContext:
    """One client TLS context per home: each holds the CA store (hundreds of KiB)."""
    return client_context(home=home)


async def _open(url: str, home: Path) -> ClientConnection:
    return await connect(url, ssl=_context(home), compression=None, max_size=2**22,
                         ping_interval=None, open_timeout=20)


async def _login(ws: ClientConnection, name: str, password: str) -> None:
    await ws.send(json.dumps({"op": "login", "username": name, "password": password, "id": 0}))
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("id") == 0:
            if msg["type"] != "login":
                raise RuntimeError(f"login failed: {msg}")
            return


class _Reply(msgspec.Struct):
    """The two fields the load client reads of each message (the rest is skipped, not built)."""

    type: str = ""
    id: Any = None


_reply = msgspec.json.Decoder(_Reply).decode


def _order(i: int, rid: int) -> bytes:
    side = "buy" if i % 2 == 0 else "sell"
    return json.dumps({"op": "order", "id": rid, "symbol": "ACME", "side": side, "type": "limit",
                       "price": 10_000, "qty": 1}).encode()


class _Counter:
    def __init__(self) -> None:
        self.replies = 0
        self.errors = 0
        self.sent = 0


async def _closed_loop(ws: ClientConnection, conn_no: int, window: int, deadline: float, c: _Counter,
                       echo: bool) -> None:
    """Keep ``window`` requests in flight until ``deadline``; count replies with an id."""
    rid = 0
    inflight = 0

    async def send_one() -> None:
        nonlocal rid, inflight
        rid += 1
        inflight += 1
        c.sent += 1
        await ws.send(_order(conn_no, rid).decode())

    for _ in range(window):
        await send_one()
    loop = asyncio.get_running_loop()
    async for frame in ws:
        if echo:
            got_reply = True
        else:
            msg = _reply(frame)
            got_reply = msg.id is not None and msg.type in ("ack", "error")
            if got_reply and msg.type == "error":
                c.errors += 1
        if got_reply:
            inflight -= 1
            c.replies += 1
            if loop.time() < deadline:
                await send_one()
            elif inflight == 0:
                return


async def _throughput(urls_home: tuple[str, Path], creds: list[tuple[str, str]] | None, *, connections: int,
                      window: int, seconds: float) -> dict[str, Any]:
    url, home = urls_home
    conns = [await _open(url, home) for _ in range(connections)]
    if creds is not None:
        for ws, (name, pw) in zip(conns, creds, strict=False):
            await _login(ws, name, pw)
    c = _Counter()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(*(_closed_loop(ws, i, window, start + seconds, c, creds is None)
                           for i, ws in enumerate(conns)))
    elapsed = loop.time() - start
    for ws in conns:
        await ws.close()
    return {"round_trips_per_s": round(c.replies / elapsed), "sent": c.sent, "replies": c.replies,
            "errors": c.errors}


async def _fixed_rate(url: str, home: Path, creds: list[tuple[str, str]], *, rate: int, seconds: float,
                      connections: int) -> dict[str, Any]:
    conns = [await _open(url, home) for _ in range(connections)]
    for ws, (name, pw) in zip(conns, creds, strict=False):
        await _login(ws, name, pw)
    sent_at: dict[tuple[int, int], int] = {}
    latencies: list[int] = []
    errors = 0

    async def reader(i: int, ws: ClientConnection) -> None:
        nonlocal errors
        async for frame in ws:
            msg = _reply(frame)
            rid = msg.id
            if rid is not None and msg.type in ("ack", "error"):
                t0 = sent_at.pop((i, rid), None)
                if t0 is not None:
                    latencies.append(time.perf_counter_ns() - t0)
                if msg.type == "error":
                    errors += 1

    readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(conns)]
    total = int(rate * seconds)
    interval = 1.0 / rate
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n in range(total):
        target = start + n * interval
        delay = target - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        i = n % connections
        rid = n + 1
        sent_at[(i, rid)] = time.perf_counter_ns()
        await conns[i].send(_order(n, rid).decode())
    achieved = total / (loop.time() - start)
    deadline = loop.time() + 10
    while sent_at and loop.time() < deadline:
        await asyncio.sleep(0.01)
    for ws in conns:
        await ws.close()
    for task in readers:
        task.cancel()
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] / 1e6, 3) if latencies else -1

    return {"rate_target": rate, "rate_achieved": round(achieved), "acks": len(latencies), "lost": len(sent_at),
            "errors": errors, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "p999_ms": pct(0.999)}


async def _batches(url: str, home: Path, creds: list[tuple[str, str]], *, seconds: float, connections: int,
                   size: int = 100) -> dict[str, Any]:
    conns = [await _open(url, home) for _ in range(connections)]
    for ws, (name, pw) in zip(conns, creds, strict=False):
        await _login(ws, name, pw)
    acked = 0
    sent = 0
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + seconds

    async def run_conn(i: int, ws: ClientConnection) -> None:
        nonlocal acked, sent, errors
        rid = 0
        while loop.time() < deadline:
            reqs = []
            for k in range(size):
                rid += 1
                reqs.append({"op": "order", "id": rid, "symbol": "ACME", "side": "buy" if (i + k) % 2 == 0 else "sell",
                             "type": "limit", "price": 10_000, "qty": 1})
            await ws.send(json.dumps({"op": "batch", "requests": reqs}))
            sent += size
            want = rid
            while True:
                msg = _reply(await ws.recv())
                if msg.type in ("ack", "error") and msg.id is not None:
                    acked += 1
                    errors += msg.type == "error"
                    if msg.id == want:
                        break

    await asyncio.gather(*(run_conn(i, ws) for i, ws in enumerate(conns)))
    elapsed = loop.time() - start
    for ws in conns:
        await ws.close()
    return {"orders_per_s": round(acked / elapsed), "sent": sent, "acked": acked, "errors": errors,
            "lost": sent - acked}


def _provision(home: Path, users: int) -> list[tuple[str, str]]:
    """Create funded bench users on the (stopped) home with the CLI's offline path."""
    from exchange.engine.commands import Deposit
    from exchange.ledger import Ledger
    from exchange.server import home_lock
    from exchange.store import open_store

    creds = []
    with home_lock(home):
        store = open_store(None, home=home, bcrypt_rounds=4)
        try:
            with Ledger.open(store) as ledger:
                for n in range(users):
                    name, pw = f"bench{n}", f"pw{n}"
                    user = store.add_user(name, pw)
                    ledger.submit(Deposit(user.id, cash=10**14))
                    ledger.submit(Deposit(user.id, symbol="ACME", qty=10**9))
                    creds.append((name, pw))
        finally:
            store.close()
    return creds


def run(*, connections: int = 8, window: int = 8, seconds: float = 5.0, rate: int = 5_000) -> dict[str, Any]:
    """Run the whole gateway benchmark and return its JSON object."""
    home = Path(tempfile.mkdtemp(prefix="exch-bench-"))
    try:
        # First start creates admin, symbols and certificates; then add funded users offline.
        proc, _ = _start_exch(home)
        proc.terminate()
        proc.wait(30)
        creds = _provision(home, connections)
        echo, echo_url = _start_echo(home)
        try:
            echo_result = asyncio.run(_throughput((echo_url, home), None, connections=connections, window=window,
                                                  seconds=seconds))
        finally:
            echo.kill()
            echo.wait()
        proc, url = _start_exch(home)
        try:
            exch_result = asyncio.run(_throughput((url, home), creds, connections=connections, window=window,
                                                  seconds=seconds))
            fixed = asyncio.run(_fixed_rate(url, home, creds, rate=rate, seconds=seconds, connections=4))
            batch = asyncio.run(_batches(url, home, creds, seconds=seconds, connections=4))
        finally:
            proc.terminate()
            proc.wait(60)
        lost = (exch_result["sent"] - exch_result["replies"]) + fixed["lost"] + batch["lost"]
        refused = exch_result["errors"] + fixed["errors"] + batch["errors"]
        return {
            "bench": "gateway",
            "connections": connections,
            "window": window,
            "seconds": seconds,
            "echo_round_trips_per_s": echo_result["round_trips_per_s"],
            "orders_acked_per_s": exch_result["round_trips_per_s"],
            "ratio_vs_echo": round(exch_result["round_trips_per_s"] / max(1, echo_result["round_trips_per_s"]), 3),
            "fixed_rate": fixed,
            "batch_orders_per_s": batch["orders_per_s"],
            "acks_lost": lost,
            "orders_refused": refused,
            "tls": True,
            "journal": True,
            "cpus": os.cpu_count(),
            "websockets": websockets.version.version,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)
