"""``exch bench soak``: everything at once for a while, then a restart that must lose nothing.

One ``exch serve`` subprocess on a scratch home (loopback, TLS, journal) takes,
for ``seconds``, all of these together from this process:

- **traders**: each places limit orders that cross, cancels and replaces, and
  records every order id the server acknowledged and every ``done`` it pushed;
- **churners**: connect, log in or subscribe, close, again and again;
- **slow readers**: subscribe to ``level3`` and never read (a 4 KiB receive
  buffer), until the server closes them;
- **fuzzers**: random bytes, random text, truncated and mutated JSON, hostile
  values, over-sized frames, and garbage instead of a TLS or HTTP handshake.

Then the server is stopped with SIGTERM (it must exit 0), started again on the
same home, and every acknowledged order must be accounted for: open after the
restart, or reported ``done`` before it; each trader's open orders and balance
must be what they were before the stop. The server's resident size is sampled
throughout. One JSON object is returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from client import ClientError, ExchError, Session
from client.session import Side
from exchange.bench.gateway import _context, _open, _provision, _start_exch
from exchange.bench.proc import raise_fd_limit, rss_bytes
from exchange.bench.slow_readers import open_stalled, outcome
from exchange.cli.common import run as run_loop
from exchange.protocol import DoneMessage

__all__ = ["run"]

MIB = 2**20
SYMBOL = "ACME"


@dataclass
class _Trader:
    """What one trader was told."""

    name: str
    password: str
    acked: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    requests: int = 0
    refused: int = 0


@dataclass
class _Tally:
    connections_churned: int = 0
    churn_failures: int = 0
    frames_fuzzed: int = 0
    handshakes_fuzzed: int = 0
    fuzz_connections_closed: int = 0
    slow_readers: int = 0
    slow_readers_closed: int = 0
    rss: list[int] = field(default_factory=list)


async def _trade(url: str, home: Path, trader: _Trader, deadline: float, seed: int) -> None:
    """Orders that cross around 100, cancels and replaces of resting ones, until ``deadline``."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    async with Session.connect(url, home=home, proxy=None, queue_size=0) as s:
        def on_done(msg: Any) -> None:
            if isinstance(msg, DoneMessage):
                trader.done.add(msg.order_id)

        s.on_message(on_done, DoneMessage)
        await s.login(trader.name, trader.password)
        resting: list[int] = []
        while loop.time() < deadline:
            trader.requests += 1
            roll = rng.random()
            try:
                if resting and roll < 0.2:
                    await s.cancel(resting.pop(rng.randrange(len(resting))))
                elif resting and roll < 0.35:
                    oid = resting[rng.randrange(len(resting))]
                    await s.replace(oid, price=rng.randint(95, 105), qty=rng.randint(1, 5))
                else:
                    side: Side = "buy" if rng.random() < 0.5 else "sell"
                    ack = await s.order(SYMBOL, side, rng.randint(1, 5), price=rng.randint(95, 105))
                    trader.acked.add(ack.order_id)
                    if ack.remaining:
                        resting.append(ack.order_id)
            except ExchError:  # the order was filled or done meanwhile: unknown_order
                trader.refused += 1
            if len(resting) > 50:
                resting = [o for o in resting if o not in trader.done]


async def _churn(url: str, home: Path, creds: list[tuple[str, str]], deadline: float, tally: _Tally) -> None:
    """Connect, log in (odd rounds) or subscribe (even ones), close; until ``deadline``."""
    loop = asyncio.get_running_loop()
    n = 0
    while loop.time() < deadline:
        n += 1
        try:
            async with Session.connect(url, home=home, proxy=None, queue_size=0, ping_interval=None) as s:
                if n % 2:
                    await s.login(*creds[n % len(creds)])
                else:
                    await s.subscribe(["ticker", "level3"], [SYMBOL])
            tally.connections_churned += 1
        except ClientError:
            tally.churn_failures += 1


async def _slow_reader(url: str, home: Path) -> ClientConnection:
    """A ``level3`` subscriber with a 4 KiB receive buffer that reads nothing after subscribing."""
    ws = await open_stalled(url, _context(home), 4096)
    await ws.send(json.dumps({"op": "subscribe", "id": 1, "channels": ["level3"], "symbols": [SYMBOL]}))
    return ws


def _hostile(rng: random.Random) -> str | bytes:
    """One frame a hostile or broken client might send."""
    valid = {"op": "order", "id": rng.randint(1, 9), "symbol": SYMBOL, "side": "buy", "type": "limit",
             "price": 100, "qty": 1}
    text = json.dumps(valid)
    kind = rng.randrange(12)
    if kind == 0:
        return rng.randbytes(rng.randint(0, 300))  # a binary frame
    if kind == 1:
        return "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 200)))
    if kind == 2:
        return text[: rng.randint(0, len(text) - 1)]  # truncated
    if kind == 3:
        i = rng.randrange(len(text))
        return text[:i] + chr(rng.randint(0, 127)) + text[i + 1:]  # one character changed
    if kind == 4:
        key = rng.choice(list(valid))
        value: Any = rng.choice([None, -1, 0, 2**63, -(2**70), 1e308, "x" * 5000, [], {}, True, "\u0000", "ACME\ud7ff"])
        return json.dumps({**valid, key: value})
    if kind == 5:
        return "[" * 5000 + "]" * 5000  # deep nesting
    if kind == 6:
        return json.dumps({"op": "batch", "id": 1, "requests": [valid] * rng.choice([0, 1, 101, 1000])})
    if kind == 7:
        return json.dumps({"op": rng.choice(["", "login", "user_add", "halt", "x" * 100, "__class__"]),
                           "id": rng.choice([1, "1", None, [1], {"a": 1}]), "username": "admin", "password": ""})
    if kind == 8:
        return "9" * rng.randint(1, 10000)
    if kind == 9:
        return "x" * rng.choice([70_000, 300_000])  # over the frame limit: the server closes 1009
    if kind == 10:
        return json.dumps({"op": "subscribe", "id": 2, "channels": ["level3", "nope"] * 50, "symbols": ["A" * 300]})
    return json.dumps(valid | {"extra": rng.random(), "client_order_id": "\U0001f600" * 80})


async def _garbage_handshake(url: str, home: Path, rng: random.Random) -> None:
    """Raw bytes instead of a TLS ClientHello, or a TLS connection with garbage instead of HTTP."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    tls = rng.random() < 0.5
    reader, writer = await asyncio.open_connection(host, port, ssl=_context(home) if tls else None,
                                                   server_hostname=host if tls else None)
    try:
        writer.write(rng.randbytes(rng.randint(1, 2000)))
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(4096), 0.5)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def _fuzz(url: str, home: Path, creds: tuple[str, str], deadline: float, tally: _Tally, seed: int) -> None:
    """Hostile frames on a logged-in connection (reconnecting when the server closes it), until ``deadline``."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        if rng.random() < 0.1:
            with contextlib.suppress(OSError, ssl.SSLError):
                await _garbage_handshake(url, home, rng)
                tally.handshakes_fuzzed += 1
            continue
        ws = await _open(url, home)
        try:
            await ws.send(json.dumps({"op": "login", "id": 0, "username": creds[0], "password": creds[1]}))
            while loop.time() < deadline:
                await ws.send(_hostile(rng))
                tally.frames_fuzzed += 1
                with contextlib.suppress(TimeoutError):
                    while True:  # read what came back, without waiting for a reply that may never come
                        await asyncio.wait_for(ws.recv(), 0.001)
        except ConnectionClosed:
            tally.fuzz_connections_closed += 1
        finally:
            await ws.close()


async def _sample_rss(pid: int, tally: _Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            tally.rss.append(rss_bytes(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def _state(url: str, home: Path, trader: _Trader) -> tuple[dict[int, int], dict[str, Any]]:
    """A trader's open orders (``order_id: remaining``) and balance, on a fresh connection."""
    async with Session.connect(url, home=home, proxy=None) as s:
        await s.login(trader.name, trader.password)
        orders = {o.order_id: o.remaining for o in (await s.orders()).orders}
        balance = await s.balance()
        return orders, {"cash": balance.cash, "positions": balance.positions}


async def _load(url: str, home: Path, pid: int, traders: list[_Trader], others: list[tuple[str, str]], *,
                seconds: float, churners: int, slow_readers: int, fuzzers: int,
                tally: _Tally) -> list[tuple[dict[int, int], dict[str, Any]]]:
    """Run the whole load for ``seconds``; return each trader's state once everything stopped."""
    loop = asyncio.get_running_loop()
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(pid, tally, stop_sampling))
    readers = [await _slow_reader(url, home) for _ in range(slow_readers)]
    tally.slow_readers = len(readers)
    deadline = loop.time() + seconds
    await asyncio.gather(
        *(_trade(url, home, t, deadline, seed=i) for i, t in enumerate(traders)),
        *(_churn(url, home, others, deadline, tally) for _ in range(churners)),
        *(_fuzz(url, home, others[i % len(others)], deadline, tally, seed=1000 + i) for i in range(fuzzers)),
    )
    ends = await asyncio.gather(*(outcome(ws, 2.0) for ws in readers))
    tally.slow_readers_closed = sum(end != "open" for end in ends)
    await asyncio.sleep(0.5)  # the last pushes arrive
    states = [await _state(url, home, t) for t in traders]
    stop_sampling.set()
    await sampler
    return states


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM and wait: the exit code (negative: killed by that signal)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(120)


def run(*, seconds: float = 60.0, traders: int = 4, churners: int = 20, slow_readers: int = 10,
        fuzzers: int = 2) -> dict[str, Any]:
    """Run the soak and return its JSON object (``lost_acks`` and ``server_crashes`` must be 0)."""
    raise_fd_limit()
    home = Path(tempfile.mkdtemp(prefix="exch-soak-"))
    try:
        proc, _ = _start_exch(home)  # first start: admin, symbols, certificates
        _stop(proc)
        creds = _provision(home, traders + 2)
        book = [_Trader(name, pw) for name, pw in creds[:traders]]
        others = creds[traders:]
        proc, url = _start_exch(home)
        tally = _Tally()
        started = time.monotonic()
        crashed = False
        try:
            time.sleep(0.5)
            rss_start = rss_bytes(proc.pid)
            before = run_loop(_load(url, home, proc.pid, book, others, seconds=seconds, churners=churners,
                                      slow_readers=slow_readers, fuzzers=fuzzers, tally=tally))
            rss_end = rss_bytes(proc.pid)
        finally:
            crashed = proc.poll() is not None  # it died before it was asked to stop
            exit_code = _stop(proc)
        duration = time.monotonic() - started
        proc, url = _start_exch(home)
        try:
            after = run_loop(_states(url, home, book))
        finally:
            restart_exit_code = _stop(proc)
        lost = sum(len(t.acked - set(open_after) - t.done) for t, (open_after, _) in zip(book, after, strict=True))
        changed = sum(b != a for b, a in zip(before, after, strict=True))
        return {
            "bench": "soak",
            "seconds": seconds,
            "duration_s": round(duration, 1),
            "traders": traders,
            "orders_acked": sum(len(t.acked) for t in book),
            "trader_requests": sum(t.requests for t in book),
            "trader_requests_refused": sum(t.refused for t in book),
            "open_orders_at_stop": sum(len(o) for o, _ in before),
            "lost_acks": lost,
            "traders_changed_by_restart": changed,
            "server_crashes": int(crashed),
            "exit_code": exit_code,
            "restart_exit_code": restart_exit_code,
            "connections_churned": tally.connections_churned,
            "churn_failures": tally.churn_failures,
            "frames_fuzzed": tally.frames_fuzzed,
            "handshakes_fuzzed": tally.handshakes_fuzzed,
            "fuzz_connections_closed_by_server": tally.fuzz_connections_closed,
            "slow_readers": tally.slow_readers,
            "slow_readers_closed": tally.slow_readers_closed,
            "rss_start_mib": round(rss_start / MIB, 1),
            "rss_peak_mib": round(max(tally.rss, default=rss_end) / MIB, 1),
            "rss_end_mib": round(rss_end / MIB, 1),
            "rss_growth_mib": round((rss_end - rss_start) / MIB, 1),
            "cpus": os.cpu_count(),
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def _states(url: str, home: Path, book: list[_Trader]) -> list[tuple[dict[int, int], dict[str, Any]]]:
    return [await _state(url, home, t) for t in book]

