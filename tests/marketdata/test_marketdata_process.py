"""End to end: ``exch serve --bus`` -> Redis -> ``exch marketdata`` processes -> clients.

The exchange runs in-process (``run_server`` on its own thread, real TLS); each
market-data process is a real ``python -m exchange marketdata`` child on an
ephemeral port (read from ``HOME/marketdata-PID.json``). Clients keep level-3
books from what they are pushed (snapshot + ``l3``) and the tests wait until
the books seen through a market-data process equal those seen through the
exchange's own endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from client import ExchError, Session
from exchange.marketdata.redisbus import BusKeys
from exchange.marketdata.server import info_path
from exchange.protocol.book import GapError, L3Book
from exchange.protocol.messages import L3Message, ShutdownMessage, SnapshotMessage
from tests.gateway.conftest import Exchange, MakeExchange, http_get, make_exchange  # noqa: F401
from tests.gateway.test_churn import assert_memory_of_closed_connections_is_given_back

from .test_bus import PrivateRedis, bus_prefix, private_redis, redis_url, until  # noqa: F401

SYMBOLS = ("ACME", "BOLT")
START_TIMEOUT = 30.0


# --------------------------------------------------------------------------- market-data processes


@dataclass
class MarketData:
    """``exch marketdata`` running as a child process."""

    home: Path
    proc: subprocess.Popen[bytes]
    log: Path
    info: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.info["url"])

    async def connect(self) -> Session:
        return await Session.connect(self.url, home=self.home, proxy=None)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class MarketDataProcs:
    """Starts market-data processes; kills the ones still running at teardown."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[MarketData] = []
        self._n = itertools.count(1)

    def start(self, bus: str, home: Path | None = None) -> MarketData:
        home = home or self.root / f"md{next(self._n)}"
        home.mkdir(parents=True, exist_ok=True)
        log = home / f"run-{len(self.started)}.log"
        env = {k: v for k, v in os.environ.items() if k != "EXCH_HOME"}
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "exchange", "marketdata", "--bus", bus, "--home", str(home), "--port", "0"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            )
        md = MarketData(home=home, proc=proc, log=log, info={})
        self.started.append(md)
        md.info = self._wait_healthy(md)
        return md

    def _wait_healthy(self, md: MarketData) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT
        path = info_path(md.home, md.proc.pid)
        while time.monotonic() < deadline:
            if md.proc.poll() is not None:
                raise RuntimeError(f"exch marketdata exited with {md.proc.returncode}:\n{md.output()}")
            with contextlib.suppress(OSError, ValueError):
                info: dict[str, Any] = json.loads(path.read_text())
                status, _, body = http_get(md.home, int(info["port"]), "/healthz", timeout=2)
                if status == 200 and json.loads(body)["status"] == "ok":
                    return info
            time.sleep(0.05)
        raise RuntimeError(f"exch marketdata did not become healthy:\n{md.output()}")

    def stop_all(self) -> None:
        for md in self.started:
            if md.proc.poll() is None:
                md.proc.kill()
                md.proc.wait(30)


@pytest.fixture
def marketdata(tmp_path: Path) -> Iterator[MarketDataProcs]:
    procs = MarketDataProcs(tmp_path)
    yield procs
    procs.stop_all()


# --------------------------------------------------------------------------- books and trading


class Books:
    """Level-3 books kept from a session's pushed snapshots and ``l3`` messages."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.books: dict[str, L3Book] = {}
        self.gaps: list[GapError] = []
        session.on_message(self._on, SnapshotMessage, L3Message)

    @classmethod
    async def subscribe(cls, session: Session, symbols: tuple[str, ...] = SYMBOLS) -> Books:
        books = cls(session)
        await session.subscribe(["level3"], list(symbols))
        return books

    def _on(self, msg: Any) -> None:
        if isinstance(msg, SnapshotMessage) and msg.channel == "level3":
            book = self.books[msg.symbol] = L3Book(msg.symbol)
            book.load(msg.seq, msg.bids or [], msg.asks or [])
        elif isinstance(msg, L3Message) and msg.symbol in self.books:
            try:
                self.books[msg.symbol].apply(msg)
            except GapError as exc:
                self.gaps.append(exc)

    def view(self) -> dict[str, tuple[int, list[list[int]], list[list[int]]]]:
        return {s: (b.seq, b.rows("buy"), b.rows("sell")) for s, b in sorted(self.books.items())}


async def same_books(a: Books, b: Books) -> None:
    """Wait until both see the same books (fails after a while), then compare them."""
    with contextlib.suppress(TimeoutError):
        await until(lambda: a.view() == b.view() and len(a.books) == len(SYMBOLS), "same books")
    assert a.view() == b.view()
    assert not a.gaps and not b.gaps


class Traders:
    """Two funded traders placing, crossing and cancelling orders."""

    def __init__(self, buyer: Session, seller: Session, seed: int) -> None:
        self.buyer, self.seller = buyer, seller
        self.rng = random.Random(seed)
        self.open: list[tuple[Session, int]] = []
        self.acks = 0

    @classmethod
    async def make(cls, ex: Exchange, seed: int = 1) -> Traders:
        shares = {s: 10**6 for s in SYMBOLS}
        buyer = await ex.trader(cash=10**9)
        seller = await ex.trader(shares=shares)
        return cls(buyer, seller, seed)

    async def trade(self, count: int) -> None:
        """``count`` requests: resting orders, crossing ones, cancels; each must be accepted."""
        rng = self.rng
        for _ in range(count):
            if self.open and rng.random() < 0.2:
                who, oid = self.open.pop(rng.randrange(len(self.open)))
                with contextlib.suppress(ExchError):  # it may have filled meanwhile
                    await who.cancel(oid)
                continue
            symbol = rng.choice(SYMBOLS)
            if rng.random() < 0.5:
                who, side, price = self.buyer, "buy", rng.randint(95, 101)
            else:
                who, side, price = self.seller, "sell", rng.randint(99, 105)
            ack = await who.order(symbol, side, rng.randint(1, 5), price=price)  # type: ignore[arg-type]
            self.acks += 1
            if ack.remaining:
                self.open.append((who, ack.order_id))


def bus_url(redis: str, prefix: str) -> str:
    return f"{redis}?prefix={prefix}"


# --------------------------------------------------------------------------- tests


async def test_books_through_marketdata_processes_equal_the_exchanges_early_and_late(
    make_exchange: MakeExchange, marketdata: MarketDataProcs, redis_url: str, bus_prefix: str  # noqa: F811
) -> None:
    bus = bus_url(redis_url, bus_prefix)
    ex = make_exchange(bus=bus)
    early = marketdata.start(bus)
    direct = await Books.subscribe(await ex.connect())
    via_early = await Books.subscribe(await early.connect())
    traders = await Traders.make(ex, seed=11)
    await traders.trade(120)
    await same_books(via_early, direct)
    assert any(b.rows("buy") or b.rows("sell") for b in direct.books.values())

    late = marketdata.start(bus)  # starts after the trading: serves it from the snapshots
    via_late = await Books.subscribe(await late.connect())
    await same_books(via_late, direct)
    symbols = await (await late.connect()).symbols()
    assert [s.symbol for s in symbols.symbols] == ["ACME", "BOLT", "CHIP"]

    await traders.trade(60)
    await same_books(via_early, direct)
    await same_books(via_late, direct)


async def test_a_killed_marketdata_process_restarts_and_resyncs_and_a_stopped_one_says_goodbye(
    make_exchange: MakeExchange, marketdata: MarketDataProcs, redis_url: str, bus_prefix: str  # noqa: F811
) -> None:
    bus = bus_url(redis_url, bus_prefix)
    ex = make_exchange(bus=bus)
    md = marketdata.start(bus)
    direct = await Books.subscribe(await ex.connect())
    traders = await Traders.make(ex, seed=12)
    await traders.trade(50)

    md.proc.send_signal(signal.SIGKILL)
    md.proc.wait(30)
    await traders.trade(50)  # while no market-data process runs
    again = marketdata.start(bus, home=md.home)
    via_again = await Books.subscribe(await again.connect())
    await same_books(via_again, direct)
    await traders.trade(50)
    await same_books(via_again, direct)

    # SIGTERM: a shutdown notice, close 1001, exit 0
    again.proc.send_signal(signal.SIGTERM)
    closed = await asyncio.wait_for(via_again.session.wait_closed(), 30)
    assert closed.code == 1001
    assert isinstance(closed.shutdown, ShutdownMessage)
    assert await asyncio.to_thread(again.proc.wait, 30) == 0
    assert "stopped cleanly" in again.output()
    assert not info_path(again.home, again.proc.pid).exists()


async def test_the_exchange_trades_on_while_redis_and_marketdata_processes_come_and_go(
    make_exchange: MakeExchange, marketdata: MarketDataProcs, private_redis: PrivateRedis  # noqa: F811
) -> None:
    bus = private_redis.url
    ex = make_exchange(bus=bus)
    direct = await Books.subscribe(await ex.connect())
    traders = await Traders.make(ex, seed=13)
    first = marketdata.start(bus)
    via_first = await Books.subscribe(await first.connect())
    await traders.trade(40)
    await same_books(via_first, direct)

    first.proc.send_signal(signal.SIGKILL)  # a follower goes away …
    await traders.trade(40)
    private_redis.stop()  # … then Redis itself
    await traders.trade(40)  # every order is still accepted
    assert traders.acks >= 80
    private_redis.start()  # Redis comes back empty; the exchange stores fresh snapshots
    await until(lambda: _listed(private_redis) == len(SYMBOLS) + 1, "snapshots stored again")
    await traders.trade(20)
    second = marketdata.start(bus)
    via_second = await Books.subscribe(await second.connect())
    await same_books(via_second, direct)
    await traders.trade(20)
    await same_books(via_second, direct)


def _listed(server: PrivateRedis) -> int:
    with redis.Redis(port=server.port) as r:
        return int(r.scard(BusKeys().symbols))


async def test_a_same_process_marketdata_endpoint_follows_the_in_process_bus(tmp_path: Path) -> None:
    from exchange.marketdata.bus import InProcessBus
    from exchange.marketdata.server import MarketDataConfig, MarketDataInfo, run_marketdata

    from .test_bus import Market

    market = Market(seed=14)
    market.run(lambda symbol, messages: None, 100)  # trading before the endpoint starts
    bus = InProcessBus(source=market.hub)
    started: asyncio.Future[MarketDataInfo] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    config = MarketDataConfig(home=tmp_path, port=0, insecure=True, quiet=True)
    server = asyncio.create_task(run_marketdata(config, follower=bus, ready=started.set_result, stop=stop))
    info = await started
    session = await Session.connect(info.url, insecure_ok=True, proxy=None)
    books = await Books.subscribe(session, ("ACME", "BOLT", "CHIP"))
    market.run(bus.publish, 100)
    await session.ping()
    expected = {s: market.hub.symbols[s].book for s in sorted(market.symbols)}
    assert books.view() == {s: (b.seq, b.rows("buy"), b.rows("sell")) for s, b in expected.items()}
    assert not books.gaps
    stop.set()
    closed = await asyncio.wait_for(session.wait_closed(), 30)
    assert closed.code == 1001
    assert await server == 0


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc")
async def test_memory_of_closed_connections_is_given_back_by_a_marketdata_process(
    make_exchange: MakeExchange, marketdata: MarketDataProcs, redis_url: str, bus_prefix: str  # noqa: F811
) -> None:
    """The processes that face the most connections trim their heap like the exchange does."""
    bus = bus_url(redis_url, bus_prefix)
    make_exchange(bus=bus)
    md = marketdata.start(bus)
    await assert_memory_of_closed_connections_is_given_back(md.url, md.home, md.proc.pid)
