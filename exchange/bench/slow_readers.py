"""The ``slow_readers`` phase: ``n`` level-3 subscribers that never read, and the server's memory.

A phase other benchmarks call (``exch bench soak``), against any running
exchange or ``exch marketdata``::

    result = await slow_readers("wss://127.0.0.1:8443/ws", home / "tls" / "ca.pem", 1_000, pid=server_pid)

Each connection has a small receive buffer, subscribes to ``channels`` of
``symbols`` (level-3 needs no login) ``subscribes`` times at once and once
more every ``resubscribe_s`` — each time the server sends it the snapshots
again — and never reads. Meanwhile the server's RSS is sampled (Linux
``/proc``, when ``pid`` is given). At the end every connection is read to its
end to see how the server treated it: still open, closed with a close frame
(which code), or cut without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from exchange.bench.proc import raise_fd_limit, rss_bytes

__all__ = ["open_stalled", "outcome", "slow_readers"]

_MiB = 1024 * 1024


async def open_stalled(url: str, context: ssl.SSLContext | None, recv_buffer: int) -> ClientConnection:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "wss" else 80)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        return await connect(url, ssl=context, sock=sock, server_hostname=host if context else None, proxy=None,
                             compression=None, max_queue=1, max_size=None, ping_interval=None, open_timeout=60,
                             close_timeout=1)
    except BaseException:
        sock.close()
        raise


async def outcome(ws: ClientConnection, timeout: float) -> str:
    """Read to the end: ``"open"``, ``"closed <code>"`` (a close frame came) or ``"cut"`` (none came)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except TimeoutError:
        return "open"
    except ConnectionClosed as exc:
        return f"closed {exc.rcvd.code}" if exc.rcvd is not None else "cut"
    finally:
        ws.transport.abort()


async def slow_readers(
    url: str,
    ca: str | Path | ssl.SSLContext | None,
    n: int,
    *,
    pid: int | None = None,
    channels: Sequence[str] = ("level3",),
    symbols: Sequence[str] = (),
    subscribes: int = 10,
    resubscribe_s: float = 0.5,
    hold_s: float = 10.0,
    sample_s: float = 0.25,
    recv_buffer: int = 4096,
    chunk: int = 100,
) -> dict[str, Any]:
    """Open ``n`` subscribers that never read, hold them ``hold_s`` seconds, report memory and outcomes.

    Args:
        url: the server's ``wss://`` (or ``ws://``) URL.
        ca: CA file (or a client SSL context) trusted for the server; None for ``ws://``.
        n: connections to open.
        pid: the server's process id, to sample its RSS (None: no memory figures).
        channels, symbols: what each subscribes to (no symbols: every symbol).
        subscribes: subscribe requests each sends at once; then one every ``resubscribe_s``.
        hold_s: how long the connections stay unread after they are all open.
        sample_s: RSS sampling period.
        recv_buffer: each client socket's receive buffer (bytes).
        chunk: connections opened concurrently.

    Returns:
        ``n``, ``opened``, ``refused`` (handshakes refused, e.g. by a connection cap),
        ``outcomes`` (``{"open": k, "closed 1013": k, "cut": k, …}``), the server's
        ``rss_before_mib``, ``rss_peak_mib``, ``rss_end_mib`` and ``rss_peak_per_connection_kib``
        (when ``pid`` is given), ``subscribes_sent`` and ``seconds``.
    """
    raise_fd_limit(n + 1_024)
    context = ca if isinstance(ca, ssl.SSLContext) or ca is None else ssl.create_default_context(cafile=str(ca))
    request = json.dumps({"op": "subscribe", "channels": list(channels), "symbols": list(symbols)})
    peak = before = rss_bytes(pid) if pid is not None else 0
    started = time.monotonic()
    conns: list[ClientConnection] = []
    refused = 0
    sent = 0
    for start in range(0, n, chunk):
        opened = await asyncio.gather(*(open_stalled(url, context, recv_buffer) for _ in range(min(chunk, n - start))),
                                      return_exceptions=True)
        for item in opened:
            if isinstance(item, ClientConnection):
                conns.append(item)
            elif isinstance(item, InvalidStatus | OSError | TimeoutError):
                refused += 1
            elif isinstance(item, BaseException):
                raise item

    async def send(ws: ClientConnection, count: int) -> int:
        done = 0
        with contextlib.suppress(ConnectionClosed, OSError):
            for _ in range(count):
                await ws.send(request)
                done += 1
        return done

    sent += sum(await asyncio.gather(*(send(ws, subscribes) for ws in conns)))
    deadline = time.monotonic() + hold_s
    next_subscribe = time.monotonic() + resubscribe_s
    while time.monotonic() < deadline:
        await asyncio.sleep(sample_s)
        if pid is not None:
            peak = max(peak, rss_bytes(pid))
        if time.monotonic() >= next_subscribe:
            next_subscribe += resubscribe_s
            sent += sum(await asyncio.gather(*(send(ws, 1) for ws in conns)))
    end = rss_bytes(pid) if pid is not None else 0
    outcomes = Counter(await asyncio.gather(*(outcome(ws, 2.0) for ws in conns)))
    result: dict[str, Any] = {
        "n": n, "opened": len(conns), "refused": refused, "outcomes": dict(sorted(outcomes.items())),
        "subscribes_sent": sent, "seconds": round(time.monotonic() - started, 1),
    }
    if pid is not None:
        result |= {
            "rss_before_mib": round(before / _MiB, 1), "rss_peak_mib": round(peak / _MiB, 1),
            "rss_end_mib": round(end / _MiB, 1),
            "rss_peak_per_connection_kib": round((peak - before) / max(len(conns), 1) / 1024, 1),
        }
    return result
