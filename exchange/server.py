"""The composition root: every part of the exchange is built and wired here.

Reading this file alone shows how data flows through exch::

    listeners        TLS WebSocket frames, /health, /metrics   (websockets.serve, exchange/gateway/http.py)
      -> Gateway     Endpoint.on_frame decodes, Gateway.authorize checks role
                     and rate; Logins (password, token), Admin (users, gifts,
                     halts), trading requests                  (exchange/gateway/core.py, login.py, admin.py)
      -> Ledger      Ledger.submit: sequence + apply + journal (exchange/ledger.py)
           -> Engine.apply    match, risk, events (pure)     (exchange/engine)
           -> JournalWriter   group commit once per loop turn, or on a thread (exchange/journal)
      -> Outbox      held by the Releaser until the commit,    (exchange/gateway/outbox.py, release.py)
                     then: the reply, fills and done to the owners' sessions,
                     public messages to the MarketDataHub      (exchange/marketdata/hub.py)
                     and the bus to other processes            (exchange/marketdata/bus.py)
      -> Stats       the operators' stats channel and events   (exchange/gateway/stats.py)

Everything with a side effect (sockets, threads, files, signals, clocks) lives
here or in the shell modules it builds; the engine stays pure. The home's lock
and first admin are in :mod:`exchange.home`, ``server.json`` in
:mod:`exchange.info`, upkeep (listings, collector, archiving) in
:mod:`exchange.upkeep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from websockets.asyncio.server import serve

from exchange.auth import LoginThrottle, TokenSigner, load_or_create_secret
from exchange.gateway.core import Gateway
from exchange.gateway.http import http_handler
from exchange.gateway.login import Logins
from exchange.gateway.outbox import Outbox
from exchange.gateway.stats import Stats
from exchange.home import ensure_admin, home_lock
from exchange.info import ServerInfo, remove_server_info, write_server_info
from exchange.journal.config import JournalConfig
from exchange.ledger import Ledger
from exchange.marketdata.bus import open_publisher
from exchange.marketdata.feed import seed_hub
from exchange.marketdata.hub import MarketDataHub
from exchange.paths import home_dir
from exchange.serving.counters import Counters
from exchange.serving.forwarded import DEFAULT_HEADER, TrustedProxies
from exchange.serving.http import WS_PATH
from exchange.serving.limits import GatewayLimits
from exchange.serving.session import ClientSession
from exchange.store import open_store
from exchange.store.base import DEFAULT_BCRYPT_ROUNDS, Store
from exchange.tasks import every, trim_heap_forever, websocket_options
from exchange.tls import serving_context
from exchange.upkeep import archive_forever, ensure_symbols, quiet_collector, record_symbols, watch_loop_lag

__all__ = [
    "DEFAULT_PORT",
    "ServerConfig",
    "run_server",
]

log = logging.getLogger("exch.server")

DEFAULT_PORT = 8443
EXPIRY_TICK_S = 0.1
"""How often the gateway looks for due good-till-date orders (it journals an ``expire`` only when one is)."""


@dataclass
class ServerConfig:
    """Everything ``exch serve`` can be told. Keyword-style with safe defaults."""

    home: Path | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    symbols: Sequence[str] = ()
    db: str | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    insecure: bool = False
    tls_names: Sequence[str] = ()
    fsync: bool = False
    bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    max_uncommitted: int = 200_000
    journal: JournalConfig = field(default_factory=lambda: JournalConfig(flush_interval=0.0005))
    stats_interval_s: float = 0.5
    token_ttl_s: int = 86_400
    quiet: bool = False
    bus: str | None = None  # market-data bus URL (redis://…); None: in-process only
    trusted_proxies: Sequence[str] = ()  # CIDRs of reverse proxies whose proxy_header names the client
    proxy_header: str = DEFAULT_HEADER  # the one header read from them (x-forwarded-for, forwarded, …)
    archive_to: Path | None = None  # move journal segments no kept checkpoint needs here (None: keep all)
    archive_interval_s: float = 3600.0  # how often (and once at start) when ``archive_to`` is set
    web: bool = True  # serve the browser client at / (exch serve --no-web: off)


async def run_server(
    config: ServerConfig,
    *,
    ready: Callable[[ServerInfo], None] | None = None,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the exchange until SIGINT/SIGTERM (or ``stop`` is set); return the exit code.

    Args:
        config: what to serve and where.
        ready: called once the server accepts connections.
        stop: set it to shut down cleanly (tests); signals do the same.
        out: where start-up notices go (stdout by default).
    """
    home = home_dir(config.home)

    def say(text: str) -> None:
        if not config.quiet:
            print(text, file=out, flush=True)

    with home_lock(home):
        store = open_store(config.db, home=home, bcrypt_rounds=config.bcrypt_rounds)
        try:
            ensure_admin(store, home, say)
            journal_config = config.journal
            if config.fsync and not journal_config.fsync:
                journal_config = dataclasses.replace(journal_config, fsync=True)
            journal_config = dataclasses.replace(journal_config, inline=inline_journal(store, journal_config))
            ledger = Ledger.open(store, config=journal_config, progress=not config.quiet)
            try:
                ensure_symbols(ledger, config.symbols, say)
                record_symbols(store, ledger)
                try:
                    return await _serve(config, home, store, ledger, say, ready, stop)
                finally:
                    record_symbols(store, ledger)
            finally:
                ledger.close(checkpoint=ledger.writer.error is None)
        finally:
            remove_server_info(home)
            store.close()


async def _serve(
    config: ServerConfig,
    home: Path,
    store: Store,
    ledger: Ledger,
    say: Callable[[str], None],
    ready: Callable[[ServerInfo], None] | None,
    stop: asyncio.Event | None,
) -> int:
    loop = asyncio.get_running_loop()
    quiet_collector()
    ssl_context, ca = serving_context(home, host=config.host, certfile=config.certfile, keyfile=config.keyfile,
                                      insecure=config.insecure, names=config.tls_names, say=say)
    store_thread = ThreadPoolExecutor(1, thread_name_prefix="exch-store")
    # trade history and candles read on a connection and thread of their own: a long fold
    # (anyone may ask for candles) never holds a login behind it on the store's thread
    query_store = open_store(config.db, home=home, bcrypt_rounds=config.bcrypt_rounds)
    query_thread = ThreadPoolExecutor(1, thread_name_prefix="exch-queries")
    bcrypt_threads = ThreadPoolExecutor(2, thread_name_prefix="exch-bcrypt")
    clock_ns, monotonic = time.time_ns, time.monotonic
    sessions: set[ClientSession] = set()
    counters = Counters()
    # market data: the public books, seeded from the recovered engine, and the bus to other processes
    hub = MarketDataHub()
    seed_hub(hub, ledger.engine)
    publisher = open_publisher(config.bus, source=hub) if config.bus else None
    # the outgoing stage: everything waits here for the journal commit
    outbox = Outbox(committed=ledger.engine.seq, engine_seq=lambda: ledger.engine.seq, hub=hub,
                    bus=publisher.publish if publisher is not None else None, counters=counters, monotonic=monotonic)
    stats = Stats(engine=ledger.engine, sessions=sessions, counters=counters, outbox=outbox,
                  journal_seq=lambda: ledger.durable_seq, clock_ns=clock_ns, monotonic=monotonic)
    logins = Logins(
        store=store, store_executor=store_thread, bcrypt_executor=bcrypt_threads,
        signer=TokenSigner(load_or_create_secret(home / "token-secret"), ttl_s=config.token_ttl_s),
        throttle=LoginThrottle(), bcrypt_rounds=config.bcrypt_rounds, monotonic=monotonic,
    )
    # the inbound side: frames in, commands to the ledger, output to the outbox
    gateway = Gateway(
        sequencer=ledger, outbox=outbox, logins=logins, stats=stats, trades=query_store, queries=query_thread,
        sessions=sessions, counters=counters,
        limits=config.limits, clock_ns=clock_ns, monotonic=monotonic, journal_seq=lambda: ledger.durable_seq,
        max_uncommitted=config.max_uncommitted,
        trusted_proxies=TrustedProxies(config.trusted_proxies, header=config.proxy_header),
    )
    # the journal's commits release the outbox, on the loop; a journal failure stops the server
    journal_failed: list[BaseException] = []
    stop = stop or asyncio.Event()

    def failed(exc: BaseException) -> None:
        journal_failed.append(exc)
        loop.call_soon_threadsafe(stop.set)

    writer = ledger.writer
    if writer.inline:  # commits run on this loop, once per loop turn that accepted commands
        writer.schedule_with(loop.call_soon)
        writer.add_listener(outbox.committed, failed)
    else:  # commits run on the writer thread: hop onto the loop
        def committed(seq: int) -> None:
            loop.call_soon_threadsafe(outbox.committed, seq)

        writer.add_listener(committed, failed)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    tasks: list[asyncio.Task[None]] = []
    try:
        if publisher is not None:
            await publisher.start()
            tasks.append(asyncio.create_task(every(publisher.snapshot_interval_s, publisher.snapshot_changed)))
        # the listeners: WebSocket upgrades to the gateway, plain HTTP (/health, /metrics, the web client)
        async with serve(
            gateway.handle,
            config.host,
            config.port,
            ssl=ssl_context,
            process_request=http_handler(gateway, web=config.web),
            **websocket_options(config.limits, server_header="exch"),
        ) as server:
            port = _bound_port(server) or config.port
            scheme = "ws" if ssl_context is None else "wss"
            shown_host = f"[{config.host}]" if ":" in config.host else config.host
            info = ServerInfo(
                pid=os.getpid(), url=f"{scheme}://{shown_host}:{port}{WS_PATH}", host=config.host,
                port=port, tls=ssl_context is not None, started_ts=time.time_ns(), ca=ca,
            )
            write_server_info(home, info)
            tasks.append(asyncio.create_task(every(config.stats_interval_s, stats.publish)))
            tasks.append(asyncio.create_task(watch_loop_lag(stats)))
            tasks.append(asyncio.create_task(every(0.025, lambda: hub.pump(time.monotonic()))))
            tasks.append(asyncio.create_task(every(ledger.config.checkpoint_interval, ledger.checkpoint)))
            tasks.append(asyncio.create_task(every(EXPIRY_TICK_S, gateway.expire_due)))
            tasks.append(asyncio.create_task(trim_heap_forever()))
            if config.archive_to is not None:
                tasks.append(asyncio.create_task(archive_forever(config, home, stats.note, say)))
            gateway.accepting = True
            say(f"exch serving {info.url} (engine seq {ledger.engine.seq}, "
                f"{len(ledger.engine.books)} symbols, home {home})")
            if config.web:
                say(f"web client at {info.url.removesuffix(WS_PATH).replace('ws', 'http', 1)}/")
            if gateway.trusted_proxies:
                say(f"client addresses from {gateway.trusted_proxies}")
            if ready is not None:
                ready(info)
            await stop.wait()
            # 1. stop accepting: new connections get 503, frames are no longer read.
            gateway.accepting = False
            server.close(close_connections=False)
            say("shutting down: committing what is in flight")
            # 2. finish and commit what is in flight, release its replies.
            await _drain(ledger, outbox)
            # 3. checkpoint.
            if not journal_failed:
                ledger.checkpoint()
                await _drain(ledger, outbox)
            # 4. tell every client, close them with 1001.
            reason = "journal failure" if journal_failed else "server shutting down"
            gateway.shutdown_notice(reason)
            await asyncio.sleep(0.05)
            await asyncio.wait_for(server.wait_closed(), timeout=10)
    finally:
        for task in tasks:
            task.cancel()
        if publisher is not None:
            await publisher.close()
        store_thread.shutdown(wait=True)
        query_thread.shutdown(wait=True, cancel_futures=True)
        query_store.close()
        bcrypt_threads.shutdown(wait=False, cancel_futures=True)
    if journal_failed:
        say(f"exch stopped: the journal failed: {journal_failed[0]}")
        return 1
    say("exch stopped cleanly")
    return 0


async def _drain(ledger: Ledger, outbox: Outbox) -> None:
    """Wait until the journal has committed everything accepted so far, and release it."""
    target = ledger.engine.seq
    if ledger.writer.inline:
        ledger.writer.wait(target)
    else:
        await asyncio.get_running_loop().run_in_executor(None, ledger.writer.wait, target)
    outbox.committed(ledger.durable_seq)


def inline_journal(store: Store, journal: JournalConfig) -> bool:
    """Whether the journal commits on the event loop (see ``JournalConfig.inline``).

    Yes where a commit is a local write (SQLite without ``--fsync``), unless
    ``EXCH_JOURNAL_THREAD=1`` asks for the writer thread.
    """
    if os.environ.get("EXCH_JOURNAL_THREAD", "") not in ("", "0"):
        return False
    return store.commits_locally and not journal.fsync


def _bound_port(server: Any) -> int | None:
    for sock in getattr(server, "sockets", ()) or ():
        name = sock.getsockname()
        if isinstance(name, tuple) and len(name) >= 2:
            return int(name[1])
    return None
