"""``exch bench marketdata``: fan-out of one exchange process, and memory per connection.

Phase 1 (baseline): a driver keeps the ACME book changing at ``changes_per_s``
(resting orders and their cancels, two traders) with nobody subscribed; the
achieved rate is the engine's rate without load.

Phase 2 (fan-out): ``subscribers`` connections subscribe to ``level2`` and
``ticker`` conflated at ``interval_ms`` and ``l3_subscribers`` of them also to
``level3``; the driver runs again. Every subscriber checks that its ``l3``
sequence has no hole and counts its conflated updates; the result says how
many were disconnected or saw a gap (drops), the conflated rate each got, and
the driver's rate compared with phase 1.

Phase 3 (memory): ``idle`` more connections are opened and left idle; the
server's RSS growth divided by their number is the memory per idle connection.

The server is a real ``exch serve`` subprocess (TLS, journal on); the driver
and the subscribers run in this process.
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from exchange.bench.gateway import _login, _provision, _start_exch
from exchange.tls import client_context

__all__ = ["run"]


class _Probe(msgspec.Struct):
    type: str
    seq: int = 0
    symbol: str = ""


_probe = msgspec.json.Decoder(_Probe)


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


async def _open(url: str, home: Path) -> ClientConnection:
    return await connect(url, ssl=client_context(home=home), compression=None, max_size=2**22,
                         ping_interval=None, open_timeout=60, max_queue=None)


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
        channels = ["level2", "ticker"] + (["level3"] if self.level3 else [])
        await self.ws.send(json.dumps({"op": "subscribe", "channels": ["level2", "ticker"], "symbols": ["ACME"],
                                       "interval_ms": interval_ms}))
        if self.level3:
            await self.ws.send(json.dumps({"op": "subscribe", "channels": ["level3"], "symbols": ["ACME"]}))
        del channels
        try:
            async for frame in self.ws:
                msg = _probe.decode(frame)
                kind = msg.type
                if kind == "l3":
                    if self.l3_seq >= 0 and msg.seq != self.l3_seq + 1:
                        self.gaps += 1
                    self.l3_seq = msg.seq
                    self.l3_messages += 1
                elif kind in ("l2", "ticker"):
                    self.conflated += 1
                elif kind == "snapshot" and msg.seq is not None and self.level3:
                    frame_obj = json.loads(frame)
                    if frame_obj.get("channel") == "level3":
                        self.l3_seq = msg.seq
        except Exception:
            self.closed = True


async def _drive(url: str, home: Path, creds: list[tuple[str, str]], *, rate: int, seconds: float) -> dict[str, Any]:
    """Keep the book changing ``rate`` times a second: resting orders, then their cancels."""
    conns = [await _open(url, home) for _ in range(2)]
    for ws, (name, pw) in zip(conns, creds[:2], strict=True):
        await _login(ws, name, pw)
    acks: dict[int, int] = {}
    pending: list[asyncio.Future[int]] = []
    waiters: dict[tuple[int, int], asyncio.Future[int]] = {}

    async def reader(i: int, ws: ClientConnection) -> None:
        async for frame in ws:
            msg = json.loads(frame)
            rid = msg.get("id")
            if rid is None:
                continue
            fut = waiters.pop((i, rid), None)
            if fut is not None and not fut.done():
                fut.set_result(msg.get("order_id", 0) if msg.get("type") == "ack" else 0)

    readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(conns)]
    loop = asyncio.get_running_loop()
    start = loop.time()
    changes = 0
    rid = 0
    open_orders: list[tuple[int, int]] = []
    n = 0
    while loop.time() - start < seconds:
        target = start + n / rate
        delay = target - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        i = n % 2
        rid += 1
        fut: asyncio.Future[int] = loop.create_future()
        waiters[(i, rid)] = fut
        if len(open_orders) > 200 or (open_orders and n % 2 == 1):
            conn_i, order_id = open_orders.pop(0)
            waiters.pop((i, rid))
            waiters[(conn_i, rid)] = fut
            await conns[conn_i].send(json.dumps({"op": "cancel", "id": rid, "order_id": order_id}))
        else:
            side = "buy" if n % 4 == 0 else "sell"
            price = 9_000 + n % 50 if side == "buy" else 11_000 + n % 50
            await conns[i].send(json.dumps({"op": "order", "id": rid, "symbol": "ACME", "side": side,
                                            "type": "limit", "price": price, "qty": 1}))
            fut.add_done_callback(lambda f, i=i: open_orders.append((i, f.result())) if f.result() else None)
        pending.append(fut)
        n += 1
        changes += 1
    elapsed = loop.time() - start
    await asyncio.wait_for(asyncio.gather(*pending), timeout=30)
    for ws in conns:
        await ws.close()
    for task in readers:
        task.cancel()
    del acks
    return {"book_changes": changes, "book_changes_per_s": round(changes / elapsed)}


async def _fanout(url: str, home: Path, creds: list[tuple[str, str]], *, subscribers: int, l3_subscribers: int,
                  interval_ms: int, rate: int, seconds: float) -> dict[str, Any]:
    conns = await _open_many(url, home, subscribers)
    subs = [_Subscriber(ws, i < l3_subscribers) for i, ws in enumerate(conns)]
    tasks = [asyncio.create_task(s.run(interval_ms)) for s in subs]
    await asyncio.sleep(2.0)  # snapshots delivered
    before = {id(s): s.conflated for s in subs}
    drive = await _drive(url, home, creds, rate=rate, seconds=seconds)
    await asyncio.sleep(1.0)  # let the last conflated tick and l3 messages arrive
    rates = sorted((s.conflated - before[id(s)]) / seconds / 2 for s in subs)  # l2 + ticker per tick
    l3 = [s for s in subs if s.level3]
    for ws in conns:
        await ws.close()
    for task in tasks:
        task.cancel()
    return {
        **drive,
        "subscribers": subscribers,
        "l3_subscribers": l3_subscribers,
        "interval_ms": interval_ms,
        "disconnected": sum(s.closed for s in subs),
        "l3_gaps": sum(s.gaps for s in l3),
        "l3_messages_min": min((s.l3_messages for s in l3), default=0),
        "conflated_updates_per_s_min": round(rates[0], 2) if rates else 0,
        "conflated_updates_per_s_median": round(rates[len(rates) // 2], 2) if rates else 0,
    }


async def _idle_memory(url: str, home: Path, pid: int, idle: int) -> dict[str, Any]:
    base = _rss(pid)
    conns = await _open_many(url, home, idle)
    await asyncio.sleep(2.0)
    grown = _rss(pid) - base
    for ws in conns:
        await ws.close()
    return {"idle_connections": idle, "server_rss_growth_bytes": grown,
            "bytes_per_idle_connection": round(grown / idle) if idle else 0}


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(*, subscribers: int = 1_000, l3_subscribers: int = 100, interval_ms: int = 100, rate: int = 1_000,
        seconds: float = 10.0, idle: int = 10_000) -> dict[str, Any]:
    """Run the market-data benchmark and return its JSON object."""
    _raise_fd_limit()
    home = Path(tempfile.mkdtemp(prefix="exch-bench-md-"))
    try:
        proc, _ = _start_exch(home)
        proc.terminate()
        proc.wait(30)
        creds = _provision(home, 2)
        proc, url = _start_exch(home)
        try:
            baseline = asyncio.run(_drive(url, home, creds, rate=rate, seconds=seconds))
            fanout = asyncio.run(_fanout(url, home, creds, subscribers=subscribers, l3_subscribers=l3_subscribers,
                                         interval_ms=interval_ms, rate=rate, seconds=seconds))
            memory = asyncio.run(_idle_memory(url, home, proc.pid, idle)) if idle else {}
        finally:
            proc.terminate()
            proc.wait(60)
        ratio = fanout["book_changes_per_s"] / max(1, baseline["book_changes_per_s"])
        return {
            "bench": "marketdata",
            "baseline_book_changes_per_s": baseline["book_changes_per_s"],
            "fanout": fanout,
            "engine_rate_ratio": round(ratio, 3),
            "memory": memory,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)
