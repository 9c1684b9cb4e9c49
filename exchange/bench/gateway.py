"""``exch bench gateway``: orders acknowledged end to end over TLS with journaling.

Two server processes are measured in one run with the same load client (this
process): a bare ``websockets`` TLS echo server (the ceiling of the stack) and
a real ``exch serve`` on a scratch home (TLS, journal, risk, market data on).
The load client is :mod:`exchange.bench.wsclient` (real WebSocket over real
TLS, at a third of the ``websockets`` client's CPU per frame): it shares the
cores with the server it measures.
Phases, each bounded in time and reported on its own:

- ``echo`` and ``closed_loop``: ``window`` requests in flight on each of
  ``connections`` connections (closed loop), round trips counted;
- ``echo_fixed_rate`` and ``fixed_rate``: orders at a fixed rate, request ->
  reply latency (the echo server's is the floor of this client and machine);
- ``batch``: ``batch`` frames of 100 orders, ``depth`` frames in flight per
  connection (pipelined, as a trading client sends them).

Every order sent must be acknowledged (``acks_lost`` counts those that were
not, ``orders_refused`` those refused). A phase that fails (an error, its time
bound, a lost ack) is named in ``failed`` with the reason; the others still run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import msgspec
import websockets.version
from websockets.asyncio.client import ClientConnection, connect

from exchange.bench.wsclient import LeanClient, connect_lean
from exchange.tls import client_context

__all__ = ["measure", "run"]

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

_GRACE_S = 15.0
"""How much longer than its ``seconds`` a phase may take (connect, log in, drain) before it fails."""
_DRAIN_S = 5.0
"""How long a phase waits for the replies still owed once it stops sending."""

Phase = Callable[[], Coroutine[Any, Any, dict[str, Any]]]


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
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("exch serve did not start within 60 s")


def _start_echo(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    tls = home / "tls"
    proc = subprocess.Popen(
        [sys.executable, "-c", _ECHO, str(tls / "server.pem"), str(tls / "server-key.pem")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline() or b"0")
    if not port:
        proc.kill()
        raise RuntimeError("the echo server did not start")
    return proc, f"wss://127.0.0.1:{port}/ws"


@functools.cache
def _context(home: Path) -> ssl.SSLContext:
    """One client TLS context per home: each holds the CA store (hundreds of KiB)."""
    return client_context(home=home)


async def _open(url: str, home: Path) -> ClientConnection:
    """A ``websockets`` client connection (the soak and market-data benches)."""
    # max_queue=None: frames the load client no longer reads (pushes after its last
    # reply) never stop it from reading the server's close frame.
    return await connect(url, ssl=_context(home), compression=None, max_size=2**22, max_queue=None,
                         ping_interval=None, open_timeout=20, proxy=None)


def _login_frame(name: str, password: str) -> str:
    return json.dumps({"op": "login", "username": name, "password": password, "id": 0})


async def _logged_in(recv: Callable[[], Awaitable[str | bytes]]) -> None:
    """Read until the login's reply (id 0); a refusal raises."""
    while True:
        msg = json.loads(await recv())
        if msg.get("id") == 0:
            if msg["type"] != "login":
                raise RuntimeError(f"login failed: {msg}")
            return


async def _login(ws: ClientConnection, name: str, password: str) -> None:
    await ws.send(_login_frame(name, password))
    await _logged_in(ws.recv)


async def _open_load(url: str, home: Path) -> LeanClient:
    """A load-client connection of this benchmark (see :mod:`exchange.bench.wsclient`)."""
    return await connect_lean(url, _context(home))


async def _login_load(ws: LeanClient, name: str, password: str) -> None:
    ws.send(_login_frame(name, password).encode())
    await _logged_in(ws.recv)


async def _connect(url: str, home: Path, creds: list[tuple[str, str]] | None, n: int) -> list[LeanClient]:
    conns = list(await asyncio.gather(*(_open_load(url, home) for _ in range(n))))
    if creds is not None:
        await asyncio.gather(*(_login_load(ws, name, pw) for ws, (name, pw) in zip(conns, creds, strict=False)))
    return conns


async def _close(conns: list[LeanClient]) -> None:
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)


class _Reply(msgspec.Struct):
    """The two fields the load client reads of each message (the rest is skipped, not built)."""

    type: str = ""
    id: Any = None


_reply = msgspec.json.Decoder(_Reply).decode
_ORDER = b'{"op":"order","id":%d,"symbol":"ACME","side":"%s","type":"limit","price":10000,"qty":1}'
_SIDES = (b"buy", b"sell")


def _order(rid: int, side: int) -> bytes:
    """An order request, encoded (``side`` 0: buy, 1: sell): formatted, not serialized, to spare the client."""
    return _ORDER % (rid, _SIDES[side])


def _is_reply(frame: bytes) -> tuple[bool, Any, bool]:
    """Whether ``frame`` answers a request (an ``ack`` or ``error`` with an id), its id, and whether an error."""
    msg = _reply(frame)
    if msg.id is None or msg.type not in ("ack", "error"):
        return False, None, False
    return True, msg.id, msg.type == "error"


class _Counter:
    def __init__(self) -> None:
        self.replies = 0
        self.errors = 0
        self.sent = 0


async def _closed_loop(ws: LeanClient, conn_no: int, window: int, deadline: float, c: _Counter,
                       echo: bool) -> None:
    """Keep ``window`` requests in flight until ``deadline``; count replies with an id."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    side = conn_no % 2
    rid = inflight = 0

    def send_one() -> None:
        nonlocal rid, inflight
        rid += 1
        inflight += 1
        c.sent += 1
        ws.send(_order(rid, side))

    def on_message(frame: bytes) -> None:
        nonlocal inflight
        if not echo:
            got, _, error = _is_reply(frame)
            if not got:
                return
            c.errors += error
        inflight -= 1
        c.replies += 1
        if loop.time() < deadline:
            send_one()
        elif inflight == 0 and not done.done():
            done.set_result(None)

    ws.on_message = on_message
    for _ in range(window):
        send_one()
    await _until(done, ws)


async def _until(done: asyncio.Future[None], ws: LeanClient) -> None:
    """Wait for ``done``; a connection that closes first fails the phase."""
    await asyncio.wait([done, ws.closed], return_when=asyncio.FIRST_COMPLETED)
    if not done.done():
        raise ConnectionError("the server closed the connection")


async def _throughput(url: str, home: Path, creds: list[tuple[str, str]] | None, *, connections: int,
                      window: int, seconds: float) -> dict[str, Any]:
    conns = await _connect(url, home, creds, connections)
    c = _Counter()
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        await asyncio.gather(*(_closed_loop(ws, i, window, start + seconds, c, creds is None)
                               for i, ws in enumerate(conns)))
        elapsed = loop.time() - start
    finally:
        await _close(conns)
    return {"round_trips_per_s": round(c.replies / elapsed), "sent": c.sent, "replies": c.replies,
            "errors": c.errors, "lost": c.sent - c.replies}


async def _fixed_rate(url: str, home: Path, creds: list[tuple[str, str]] | None, *, rate: int, seconds: float,
                      connections: int) -> dict[str, Any]:
    """Send ``rate`` orders/s round robin; time each until its reply (``creds`` None: the echo server)."""
    conns = await _connect(url, home, creds, connections)
    sent_at: dict[tuple[int, int], int] = {}
    latencies: list[int] = []
    errors = 0
    echo = creds is None
    clock = time.perf_counter_ns

    def reader(i: int) -> Callable[[bytes], None]:
        def on_message(frame: bytes) -> None:
            nonlocal errors
            if echo:
                rid: Any = _reply(frame).id
                error = False
            else:
                got, rid, error = _is_reply(frame)
                if not got:
                    return
            t0 = sent_at.pop((i, rid), None)
            if t0 is not None:
                latencies.append(clock() - t0)
            errors += error
        return on_message

    for i, ws in enumerate(conns):
        ws.on_message = reader(i)
    total = int(rate * seconds)
    interval = 1.0 / rate
    loop = asyncio.get_running_loop()
    try:
        start = loop.time()
        for n in range(total):
            target = start + n * interval
            delay = target - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            i = n % connections
            rid = n + 1
            frame = _order(rid, n % 2)
            sent_at[(i, rid)] = clock()
            conns[i].send(frame)
        achieved = total / (loop.time() - start)
        deadline = loop.time() + _DRAIN_S
        while sent_at and loop.time() < deadline:
            await asyncio.sleep(0.01)
    finally:
        await _close(conns)
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] / 1e6, 3) if latencies else -1

    return {"rate_target": rate, "rate_achieved": round(achieved), "sent": total, "acks": len(latencies),
            "lost": len(sent_at),
            "errors": errors, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "p999_ms": pct(0.999)}


async def _batch_conn(ws: LeanClient, conn_no: int, deadline: float, c: _Counter, *, size: int,
                      depth: int) -> int:
    """Send ``batch`` frames with up to ``depth`` unanswered; return the most ever in flight.

    Replies keep request order per connection, so a frame is answered when the
    reply to its last request arrives; the next frame goes out then.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    ends: deque[int] = deque()  # the last request id of each frame in flight, oldest first
    rid = peak = 0

    def send_frame() -> None:
        nonlocal rid, peak
        first = rid + 1
        rid += size
        ends.append(rid)
        peak = max(peak, len(ends))
        c.sent += size
        ws.send(b'{"op":"batch","requests":[' + b",".join(
            [_order(r, (conn_no + r) % 2) for r in range(first, rid + 1)]) + b"]}")

    def on_message(frame: bytes) -> None:
        got, mid, error = _is_reply(frame)
        if not got:
            return
        c.replies += 1
        c.errors += error
        if ends and mid == ends[0]:
            ends.popleft()
            if loop.time() < deadline:
                send_frame()
            elif not ends and not done.done():
                done.set_result(None)

    ws.on_message = on_message
    for _ in range(depth):
        send_frame()
    with contextlib.suppress(TimeoutError):  # what is still owed counts as lost
        await asyncio.wait_for(_until(done, ws), deadline - loop.time() + _DRAIN_S)
    return peak


async def _batches(url: str, home: Path, creds: list[tuple[str, str]], *, seconds: float, connections: int,
                   depth: int, size: int = 100) -> dict[str, Any]:
    conns = await _connect(url, home, creds, connections)
    c = _Counter()
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        peaks = await asyncio.gather(*(_batch_conn(ws, i, start + seconds, c, size=size, depth=depth)
                                       for i, ws in enumerate(conns)))
        elapsed = loop.time() - start
    finally:
        await _close(conns)
    return {"orders_per_s": round(c.replies / elapsed), "sent": c.sent, "acked": c.replies, "errors": c.errors,
            "lost": c.sent - c.replies, "frames_in_flight": depth, "frames_in_flight_seen": max(peaks)}


def _provision(home: Path, users: int) -> list[tuple[str, str]]:
    """Create funded bench users on the (stopped) home with the CLI's offline path."""
    from exchange.engine.commands import Deposit
    from exchange.home import home_lock
    from exchange.ledger import Ledger
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


_REPLIES = ("replies", "acks", "acked")  # what each phase calls the requests answered


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, every thread) that process ``pid`` used so far; None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, phase: Phase, timeout: float, failed: dict[str, str],
            server_pid: int | None = None) -> dict[str, Any] | None:
    """Run one phase on a fresh event loop within ``timeout`` seconds.

    Returns its result, or None after recording why it failed in ``failed``
    (an exception, the time bound, or acks it lost). With ``server_pid`` the
    result also says how busy the server was: ``server_cores`` (CPU seconds per
    second of the phase, connecting included) and ``server_cpu_us`` (CPU per
    request answered), figures that a slower or busier machine moves less than
    rates and latencies. ``client_cpu_us`` is the load client's CPU per request
    answered (this process, every thread): on a machine the client shares with
    the server, the two together say how many requests per second its cores
    can carry at all.
    """

    async def bounded() -> dict[str, Any]:
        return await asyncio.wait_for(phase(), timeout)

    cpu0 = process_cpu_s(server_pid) if server_pid is not None else None
    client0 = time.process_time()
    wall0 = time.monotonic()
    try:
        result = _run_loop(bounded())
    except TimeoutError:
        failed[name] = f"did not finish within {timeout:g} s"
        return None
    except Exception as exc:  # one readable line per failed phase; the run goes on
        failed[name] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None
    if result.get("lost"):
        failed[name] = f"{result['lost']} of {result['sent']} requests got no reply"
    cpu1 = process_cpu_s(server_pid) if server_pid is not None else None
    client1 = time.process_time()
    answered = next((result[k] for k in _REPLIES if k in result), 0)
    if cpu0 is not None and cpu1 is not None:
        result["server_cores"] = round((cpu1 - cpu0) / (time.monotonic() - wall0), 3)
        result["server_cpu_us"] = round((cpu1 - cpu0) / answered * 1e6, 1) if answered else None
    if answered:
        result["client_cpu_us"] = round((client1 - client0) / answered * 1e6, 1)
    return result


def _run_loop(coro: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    from exchange.cli.common import run as run_async  # uvloop when available, as the server

    return run_async(coro)


def run(*, connections: int = 8, window: int = 8, seconds: float = 5.0, rate: int = 5_000,
        batch_connections: int = 4, depth: int = 8) -> dict[str, Any]:
    """Run the whole gateway benchmark and return its JSON object (``failed`` names failed phases)."""
    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="exch-bench-"))
    failed: dict[str, str] = {}
    timeout = seconds + _GRACE_S
    echo_result = echo_fixed = closed = fixed = batch = None
    try:
        try:
            # First start creates admin, symbols and certificates; then add funded users offline.
            proc, _ = _start_exch(home)
            proc.terminate()
            proc.wait(30)
            creds = _provision(home, max(connections, batch_connections, 4))
        except Exception as exc:
            failed["setup"] = f"{type(exc).__name__}: {exc}"
            creds = []
        if creds:
            try:
                echo, echo_url = _start_echo(home)
            except Exception as exc:
                failed["echo"] = f"{type(exc).__name__}: {exc}"
            else:
                try:
                    echo_result = measure("echo", lambda: _throughput(
                        echo_url, home, None, connections=connections, window=window, seconds=seconds),
                        timeout, failed, echo.pid)
                    echo_fixed = measure("echo_fixed_rate", lambda: _fixed_rate(
                        echo_url, home, None, rate=rate, seconds=seconds, connections=4), timeout, failed, echo.pid)
                finally:
                    echo.kill()
                    echo.wait()
            try:
                proc, url = _start_exch(home)
            except Exception as exc:
                failed["exch"] = f"{type(exc).__name__}: {exc}"
            else:
                try:
                    closed = measure("closed_loop", lambda: _throughput(
                        url, home, creds, connections=connections, window=window, seconds=seconds),
                        timeout, failed, proc.pid)
                    fixed = measure("fixed_rate", lambda: _fixed_rate(
                        url, home, creds, rate=rate, seconds=seconds, connections=4), timeout, failed, proc.pid)
                    batch = measure("batch", lambda: _batches(
                        url, home, creds, seconds=seconds, connections=batch_connections, depth=depth),
                        timeout, failed, proc.pid)
                finally:
                    proc.terminate()
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        failed["exch_stop"] = "exch serve did not stop within 30 s of SIGTERM"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    phases = [r for r in (closed, fixed, batch) if r is not None]
    echo_rt = echo_result["round_trips_per_s"] if echo_result else None
    exch_rt = closed["round_trips_per_s"] if closed else None
    return {
        "bench": "gateway",
        "connections": connections,
        "window": window,
        "seconds": seconds,
        "echo_round_trips_per_s": echo_rt,
        "orders_acked_per_s": exch_rt,
        "ratio_vs_echo": round(exch_rt / echo_rt, 3) if echo_rt and exch_rt is not None else None,
        "closed_loop": closed,
        "echo_closed_loop": echo_result,
        "fixed_rate": fixed,
        "echo_fixed_rate": echo_fixed,
        "p99_vs_echo": round(fixed["p99_ms"] / echo_fixed["p99_ms"], 2)
        if fixed and echo_fixed and fixed["p99_ms"] > 0 and echo_fixed["p99_ms"] > 0 else None,
        "batch_orders_per_s": batch["orders_per_s"] if batch else None,
        "batch": batch,
        "acks_lost": sum(r["lost"] for r in phases),
        "orders_refused": sum(r["errors"] for r in phases),
        "failed": failed,
        "elapsed_s": round(time.monotonic() - started, 1),
        "tls": True,
        "journal": True,
        "cpus": os.cpu_count(),
        "websockets": websockets.version.version,
    }
