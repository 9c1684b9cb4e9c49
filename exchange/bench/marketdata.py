"""``exch bench marketdata``: fan-out of one exchange process, and memory per connection.

Phase 1 (baseline): a driver keeps the ACME book changing at ``rate`` changes
a second (resting orders and their cancels, two traders) with nobody
subscribed; the achieved rate is the engine's rate without fan-out.

Phase 2 (fan-out): ``subscribers`` connections, spread over ``procs`` load
processes, subscribe to ``level2`` and ``ticker`` conflated at ``interval_ms``,
and ``l3_subscribers`` of them also to every ``level3`` message; the driver runs
again. Every subscriber checks its ``l3`` sequence for holes and counts its
conflated updates; the result says how many were disconnected or saw a gap
(drops), the conflated rate each got, and the driver's rate against phase 1.

Phase 3 (memory): ``idle`` more connections are opened and left idle; the
server's RSS growth divided by their number is the memory per idle connection.

With ``--redis URL`` the subscribers connect to two ``exch marketdata``
processes following the exchange through Redis instead of to the exchange.
The servers are real subprocesses (TLS, journal on).
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
import uuid
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from exchange.bench.gateway import _login, _provision, _start_exch
from exchange.bench.proc import raise_fd_limit, rss_bytes
from exchange.tls import client_context

__all__ = ["run", "subscriber_main"]


class _Probe(msgspec.Struct):
    type: str
    seq: int = 0
    channel: str = ""


_probe = msgspec.json.Decoder(_Probe)


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@functools.cache
def _context(home: Path) -> ssl.SSLContext:
    """One client TLS context per home: each holds the CA store (hundreds of KiB)."""
    return client_context(home=home)


async def _open(url: str, home: Path) -> ClientConnection:
    return await connect(url, ssl=_context(home), compression=None, max_size=2**22,
                         ping_interval=None, open_timeout=120, max_queue=None)


async def _open_many(url: str, home: Path, n: int, *, chunk: int = 100) -> list[ClientConnection]:
    conns: list[ClientConnection] = []
    for start in range(0, n, chunk):
        conns.extend(await asyncio.gather(*(_open(url, home) for _ in range(min(chunk, n - start)))))
    return conns


class _Subscriber:
    """One subscriber: counts conflated updates and checks its l3 sequence."""

    def __init__(self, ws: ClientConnection, level3: bool) -> None:
        self.ws = ws
        self.level3 = level3
        self.l3_seq = -1
        self.l3_messages = 0
        self.conflated = 0
        self.gaps = 0
        self.closed = False

    async def run(self, interval_ms: int) -> None:
        await self.ws.send(json.dumps({"op": "subscribe", "channels": ["level2", "ticker"], "symbols": ["ACME"],
                                       "interval_ms": interval_ms}))
        if self.level3:
            await self.ws.send(json.dumps({"op": "subscribe", "channels": ["level3"], "symbols": ["ACME"]}))
        try:
            async for frame in self.ws:
                msg = _probe.decode(frame)
                if msg.type == "l3":
                    if self.l3_seq >= 0 and msg.seq != self.l3_seq + 1:
                        self.gaps += 1
                    self.l3_seq = msg.seq
                    self.l3_messages += 1
                elif msg.type in ("l2", "ticker"):
                    self.conflated += 1
                elif msg.type == "snapshot" and msg.channel == "level3":
                    self.l3_seq = msg.seq
        except Exception:
            self.closed = True


async def _subscribers(urls: list[str], home: Path, n: int, l3: int, interval_ms: int) -> dict[str, Any]:
    """Run ``n`` subscribers until stdin closes; report what they saw."""
    conns: list[ClientConnection] = []
    for i, url in enumerate(urls):
        share = n // len(urls) + (1 if i < n % len(urls) else 0)
        conns.extend(await _open_many(url, home, share))
    subs = [_Subscriber(ws, i < l3) for i, ws in enumerate(conns)]
    tasks = [asyncio.create_task(s.run(interval_ms)) for s in subs]
    await asyncio.sleep(1.0)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    start_counts = [s.conflated for s in subs]
    start_l3 = [s.l3_messages for s in subs]
    started = loop.time()
    del line
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
    elapsed = loop.time() - started
    rates = sorted((s.conflated - c) / elapsed / 2 for s, c in zip(subs, start_counts, strict=True))
    l3_subs = [(s, c) for s, c in zip(subs, start_l3, strict=True) if s.level3]
    result = {
        "subscribers": len(subs),
        "disconnected": sum(s.closed for s in subs),
        "l3_gaps": sum(s.gaps for s in subs),
        "l3_messages_min": min((s.l3_messages - c for s, c in l3_subs), default=0),
        "conflated_per_s": rates,
    }
    for task in tasks:
        task.cancel()
    for ws in conns:
        await ws.close()
    return result


def subscriber_main(argv: list[str]) -> None:
    """Entry of a load process: ``urls home n l3 interval_ms`` (JSON list of urls first)."""
    urls = json.loads(argv[0])
    result = asyncio.run(_subscribers(urls, Path(argv[1]), int(argv[2]), int(argv[3]), int(argv[4])))
    print(json.dumps(result), flush=True)


async def _drive(url: str, home: Path, creds: list[tuple[str, str]], *, rate: int, seconds: float) -> dict[str, Any]:
    """Keep the book changing ``rate`` times a second: resting orders, then their cancels."""
    conns = [await _open(url, home) for _ in range(2)]
    for ws, (name, pw) in zip(conns, creds[:2], strict=True):
        await _login(ws, name, pw)
    waiters: dict[int, asyncio.Future[int]] = {}
    resting: list[tuple[int, int]] = []  # (connection, order_id)

    async def reader(ws: ClientConnection) -> None:
        async for frame in ws:
            msg = json.loads(frame)
            fut = waiters.pop(msg.get("id", -1), None)
            if fut is not None and not fut.done():
                fut.set_result(int(msg.get("order_id", 0)) if msg.get("type") == "ack" else 0)

    readers = [asyncio.create_task(reader(ws)) for ws in conns]
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    pending: list[asyncio.Future[int]] = []
    while loop.time() - start < seconds:
        delay = start + sent / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        rid = sent + 1
        fut: asyncio.Future[int] = loop.create_future()
        waiters[rid] = fut
        if resting and (sent % 2 == 1 or len(resting) > 200):
            conn_no, order_id = resting.pop(0)
            await conns[conn_no].send(json.dumps({"op": "cancel", "id": rid, "order_id": order_id}))
        else:
            conn_no = sent % 2
            side = "buy" if sent % 4 == 0 else "sell"
            price = 9_000 + sent % 50 if side == "buy" else 11_000 + sent % 50
            await conns[conn_no].send(json.dumps({"op": "order", "id": rid, "symbol": "ACME", "side": side,
                                                  "type": "limit", "price": price, "qty": 1}))

            def rested(f: asyncio.Future[int], conn_no: int = conn_no) -> None:
                if f.result():
                    resting.append((conn_no, f.result()))

            fut.add_done_callback(rested)
        pending.append(fut)
        sent += 1
    elapsed = loop.time() - start
    await asyncio.wait_for(asyncio.gather(*pending), timeout=60)
    for ws in conns:
        await ws.close()
    for task in readers:
        task.cancel()
    return {"book_changes": sent, "book_changes_per_s": round(sent / elapsed)}


def _fanout(urls: list[str], exch_url: str, home: Path, creds: list[tuple[str, str]], server_pid: int, *,
            subscribers: int, l3_subscribers: int, interval_ms: int, rate: int, seconds: float,
            procs: int) -> dict[str, Any]:
    loads = []
    for p in range(procs):
        n = subscribers // procs + (1 if p < subscribers % procs else 0)
        l3 = l3_subscribers // procs + (1 if p < l3_subscribers % procs else 0)
        loads.append(subprocess.Popen(
            [sys.executable, "-c", "import sys; from exchange.bench.marketdata import subscriber_main; "
             "subscriber_main(sys.argv[1:])", json.dumps(urls), str(home), str(n), str(l3), str(interval_ms)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        ))
    for proc in loads:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("a subscriber process failed to start")
    for proc in loads:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    cpu0 = _cpu_s(server_pid)
    drive = asyncio.run(_drive(exch_url, home, creds, rate=rate, seconds=seconds))
    cpu = (_cpu_s(server_pid) - cpu0) / seconds
    time.sleep(0.5)
    results = []
    for proc in loads:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        results.append(json.loads(proc.stdout.readline()))
        proc.wait(60)
    rates = sorted(r for res in results for r in res["conflated_per_s"])
    return {
        **drive,
        "subscribers": sum(r["subscribers"] for r in results),
        "l3_subscribers": l3_subscribers,
        "interval_ms": interval_ms,
        "disconnected": sum(r["disconnected"] for r in results),
        "l3_gaps": sum(r["l3_gaps"] for r in results),
        "l3_messages_min": min(r["l3_messages_min"] for r in results),
        "conflated_updates_per_s_min": round(rates[0], 2) if rates else 0,
        "conflated_updates_per_s_median": round(rates[len(rates) // 2], 2) if rates else 0,
        "exchange_cpu_share": round(cpu, 3),
    }


async def _idle_memory(url: str, home: Path, pid: int, idle: int) -> dict[str, Any]:
    base = rss_bytes(pid)
    conns = await _open_many(url, home, idle)
    await asyncio.sleep(2.0)
    grown = rss_bytes(pid) - base
    for ws in conns:
        await ws.close()
    return {"idle_connections": idle, "server_rss_growth_bytes": grown,
            "bytes_per_idle_connection": round(grown / idle) if idle else 0}


def _start_marketdata(home: Path, bus: str) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange", "marketdata", "--bus", bus, "--home", str(home), "--port", "0",
         "--max-per-address", "0"],  # every load connection comes from 127.0.0.1
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    info = home / f"marketdata-{proc.pid}.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exch marketdata exited with {proc.returncode}")
        if info.exists():
            try:
                return proc, str(json.loads(info.read_text())["url"])
            except (ValueError, KeyError):
                pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("exch marketdata did not start within 60 s")


def run(*, subscribers: int = 1_000, l3_subscribers: int = 100, interval_ms: int = 100, rate: int = 1_000,
        seconds: float = 10.0, idle: int = 10_000, procs: int = 2, redis: str | None = None) -> dict[str, Any]:
    """Run the market-data benchmark and return its JSON object."""
    raise_fd_limit()
    home = Path(tempfile.mkdtemp(prefix="exch-bench-md-"))
    bus = f"{redis}{'&' if '?' in redis else '?'}prefix=bench{uuid.uuid4().hex[:8]}" if redis else None
    extra = ["--bus", bus] if bus else []
    followers: list[subprocess.Popen[bytes]] = []
    try:
        proc, _ = _start_exch(home)
        proc.terminate()
        proc.wait(30)
        creds = _provision(home, 2)
        proc, url = _start_exch(home, extra)
        try:
            urls = [url]
            if bus:
                started = [_start_marketdata(home, bus) for _ in range(2)]
                followers = [p for p, _ in started]
                urls = [u for _, u in started]
            baseline = asyncio.run(_drive(url, home, creds, rate=rate, seconds=seconds))
            fanout = _fanout(urls, url, home, creds, proc.pid, subscribers=subscribers,
                             l3_subscribers=l3_subscribers, interval_ms=interval_ms, rate=rate, seconds=seconds,
                             procs=procs)
            memory = asyncio.run(_idle_memory(url, home, proc.pid, idle)) if idle and not bus else {}
        finally:
            for follower in followers:
                follower.terminate()
                follower.wait(30)
            proc.terminate()
            proc.wait(60)
        ratio = fanout["book_changes_per_s"] / max(1, baseline["book_changes_per_s"])
        return {
            "bench": "marketdata",
            "served_by": "2 exch marketdata processes behind Redis" if bus else "the exchange process",
            "baseline_book_changes_per_s": baseline["book_changes_per_s"],
            "fanout": fanout,
            "engine_rate_ratio": round(ratio, 3),
            "memory": memory,
            "load_processes": procs,
            "cpus": os.cpu_count(),
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)
