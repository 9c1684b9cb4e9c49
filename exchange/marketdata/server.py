"""The composition root of ``exch marketdata``: a bus follower, a hub and a public endpoint.

Data flow::

    bus (Redis stream + snapshots)  -> BusFollower.follow   (exchange/marketdata/redisbus.py)
      -> MarketDataHub                 public books, subscriptions, conflation
      -> Endpoint                      TLS WebSocket: subscribe/unsubscribe/symbols/ping

Any number of these run on any hosts; each serves the same public channels as
the exchange's own endpoint. ``/healthz`` answers 200 once the snapshots are
loaded while the bus is connected, 503 otherwise. The bound address is written
to ``HOME/marketdata-PID.json`` (useful with ``port=0``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.server import serve

from exchange.marketdata.bus import open_follower
from exchange.marketdata.contract import BusFollower
from exchange.marketdata.hub import MarketDataHub
from exchange.paths import home_dir
from exchange.serving.endpoint import Endpoint
from exchange.serving.forwarded import DEFAULT_HEADER, TrustedProxies
from exchange.serving.http import WS_PATH, endpoint_http, health_response
from exchange.serving.limits import GatewayLimits
from exchange.tasks import every, trim_heap_forever, websocket_options
from exchange.tls import serving_context

if TYPE_CHECKING:
    pass

__all__ = ["DEFAULT_MARKETDATA_PORT", "MarketDataConfig", "MarketDataInfo", "info_path", "run_marketdata"]

log = logging.getLogger("exch.marketdata")

DEFAULT_MARKETDATA_PORT = 8444


@dataclass(kw_only=True)
class MarketDataConfig:
    """Everything ``exch marketdata`` can be told."""

    bus: str = "redis://127.0.0.1:6379"
    home: Path | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_MARKETDATA_PORT
    certfile: Path | None = None
    keyfile: Path | None = None
    insecure: bool = False
    tls_names: Sequence[str] = ()
    limits: GatewayLimits = field(default_factory=lambda: GatewayLimits(orders_per_s=0))
    quiet: bool = False
    trusted_proxies: Sequence[str] = ()  # CIDRs of reverse proxies whose proxy_header names the client
    proxy_header: str = DEFAULT_HEADER  # the one header read from them (x-forwarded-for, forwarded, …)


@dataclass
class MarketDataInfo:
    """What a running market-data process writes to ``HOME/marketdata-PID.json``."""

    pid: int
    url: str
    host: str
    port: int
    tls: bool
    bus: str
    started_ts: int
    ca: str | None


def shown_url(url: str) -> str:
    """``url`` without its password (for logs and files)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{netloc}"))


def info_path(home: Path, pid: int) -> Path:
    """Where the process ``pid`` serving from ``home`` records its address."""
    return home / f"marketdata-{pid}.json"



async def run_marketdata(
    config: MarketDataConfig,
    *,
    follower: BusFollower | None = None,
    ready: Callable[[MarketDataInfo], None] | None = None,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
) -> int:
    """Serve the public channels from the bus until SIGINT/SIGTERM (or ``stop``); return the exit code.

    Args:
        config: what to follow and where to serve.
        follower: the bus to follow (default: opened from ``config.bus``), e.g. an
            :class:`~exchange.marketdata.bus.InProcessBus`.
        ready: called once the server is bound (it may still be loading snapshots).
        stop: set it to shut down cleanly; signals do the same.
        out: where notices go (stdout by default).
    """
    home = home_dir(config.home)
    home.mkdir(parents=True, exist_ok=True)

    def say(text: str) -> None:
        if not config.quiet:
            print(text, file=out, flush=True)

    follower = follower or open_follower(config.bus)
    ssl_context, ca = serving_context(home, host=config.host, certfile=config.certfile, keyfile=config.keyfile,
                                      insecure=config.insecure, names=config.tls_names, say=say)
    hub = MarketDataHub()
    trusted = TrustedProxies(config.trusted_proxies, header=config.proxy_header)
    endpoint = Endpoint(hub=hub, limits=config.limits, trusted_proxies=trusted)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    loaded = asyncio.Event()

    def health() -> dict[str, Any]:
        connected = bool(getattr(follower, "connected", True))
        ok = endpoint.accepting and connected
        return {
            "status": "ok" if ok else "unavailable", "bus": "connected" if connected else "disconnected",
            "symbols": len(hub.symbols), "clients": len(endpoint.sessions),
            "uptime_s": round(endpoint.monotonic() - endpoint.started, 3),
        }

    def synced() -> None:
        endpoint.accepting = True
        loaded.set()

    path = info_path(home, os.getpid())
    following = asyncio.create_task(follower.follow(hub, synced=synced), name="exch-bus-follower")
    pumping = asyncio.create_task(every(0.025, lambda: hub.pump(time.monotonic())), name="exch-md-pump")
    trimming = asyncio.create_task(trim_heap_forever(), name="exch-md-trim")
    try:
        async with serve(
            endpoint.handle, config.host, config.port, ssl=ssl_context,
            process_request=endpoint_http(endpoint, {"/healthz": lambda: health_response(health())}),
            **websocket_options(config.limits, server_header="exch-marketdata"),
        ) as server:
            port = next((s.getsockname()[1] for s in server.sockets), config.port)
            scheme = "ws" if ssl_context is None else "wss"
            shown = f"[{config.host}]" if ":" in config.host else config.host
            info = MarketDataInfo(pid=os.getpid(), url=f"{scheme}://{shown}:{port}{WS_PATH}", host=config.host,
                                  port=port, tls=ssl_context is not None, bus=shown_url(config.bus),
                                  started_ts=time.time_ns(), ca=ca)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(info.__dict__))
            tmp.replace(path)
            say(f"exch marketdata serving {info.url} from {info.bus} (home {home})")
            if endpoint.trusted_proxies:
                say(f"client addresses from {endpoint.trusted_proxies}")
            if ready is not None:
                ready(info)
            waiting = asyncio.create_task(loaded.wait())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({waiting, stopping, following}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if loaded.is_set() and not stop.is_set():
                say(f"loaded {len(hub.symbols)} symbols from the bus")
                await asyncio.wait({stopping, following}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            endpoint.accepting = False
            server.close(close_connections=False)
            endpoint.shutdown_notice("server shutting down")
            await asyncio.sleep(0.05)
            await asyncio.wait_for(server.wait_closed(), timeout=10)
    finally:
        for task in (following, pumping, trimming):
            task.cancel()
        for task in (following, pumping, trimming):
            with contextlib.suppress(asyncio.CancelledError, Exception):  # reported below
                await task
        path.unlink(missing_ok=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if following.done() and not following.cancelled() and following.exception() is not None:
        say(f"exch marketdata stopped: the bus follower failed: {following.exception()}")
        return 1
    say("exch marketdata stopped cleanly")
    return 0
