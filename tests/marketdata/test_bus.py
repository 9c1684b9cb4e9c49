"""The market-data bus against a real Redis: ordering, late joiners, holes, restarts, outages.

A :class:`Market` plays the exchange: it makes valid public batches, feeds its
own hub (as the gateway does) and publishes them. Followers keep hubs of their
own from the bus; the tests wait until they equal the market's hub exactly.

Redis: ``$EXCH_TEST_REDIS`` (default ``redis://127.0.0.1:6379``). When it does
not answer the tests skip with a message, except under ``CI``, where they fail.
Every test uses its own key prefix and deletes its keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from exchange.marketdata.bus import InProcessBus, split_bus_url
from exchange.marketdata.contract import PublicMessage
from exchange.marketdata.hub import MarketDataHub
from exchange.marketdata.redisbus import BusKeys, RedisFollower, RedisPublisher
from exchange.protocol.messages import L3Message, StatusMessage, TradeMessage

REDIS_URL = os.environ.get("EXCH_TEST_REDIS", "redis://127.0.0.1:6379")
SYMBOLS = ("ACME", "BOLT", "CHIP")
WAIT_S = 30.0
"""How long a test waits for a follower to catch up before it fails (never reached when it works)."""


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a Redis that answers (skips, or fails under CI, if none)."""
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2) as r:
            r.ping()
    except (redis.RedisError, OSError) as exc:
        message = (f"Redis is not reachable at {REDIS_URL} ({exc}); start one there or set EXCH_TEST_REDIS "
                   "to run the market-data bus tests")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key of a bus prefix."""
    with redis.Redis.from_url(url) as r:
        keys = list(r.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            r.delete(*keys)


@pytest.fixture
def bus_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test (or xdist worker) uses; its keys are deleted afterwards."""
    prefix = f"exch-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture
async def tasks() -> AsyncIterator[list[asyncio.Task[Any]]]:
    """Background tasks cancelled at teardown."""
    started: list[asyncio.Task[Any]] = []
    yield started
    for task in started:
        task.cancel()
    await asyncio.gather(*started, return_exceptions=True)


# --------------------------------------------------------------------------- helpers


class Market:
    """Valid public batches for a few symbols, fed to its own hub (the exchange's) and a publisher."""

    def __init__(self, *, seed: int = 1, symbols: tuple[str, ...] = SYMBOLS) -> None:
        self.rng = random.Random(seed)
        self.hub = MarketDataHub()
        self.symbols = symbols
        self.orders: dict[str, dict[int, int]] = {s: {} for s in symbols}  # order id -> qty left
        self.next_id = 1
        self.trade_id = 1
        self.halted: set[str] = set()
        for symbol in symbols:
            self.hub.add_symbol(symbol)

    def batch(self, symbol: str) -> list[PublicMessage]:
        """One command's public messages: an open, a cancel, a partial fill or a halt/resume."""
        rng, book, orders = self.rng, self.hub.symbols[symbol].book, self.orders[symbol]
        seq = book.seq + 1
        roll = rng.random()
        if roll < 0.05:
            status = "trading" if symbol in self.halted else "halted"
            self.halted.symmetric_difference_update({symbol})
            return [StatusMessage(symbol=symbol, status=status, tick=1, lot=1)]
        if roll < 0.55 or not orders:
            oid, self.next_id = self.next_id, self.next_id + 1
            side = rng.choice(("buy", "sell"))
            price = rng.randint(90, 99) if side == "buy" else rng.randint(101, 110)
            qty = rng.randint(1, 20)
            orders[oid] = qty
            return [L3Message(symbol=symbol, seq=seq, event="open", order_id=oid, side=side, price=price, qty=qty)]
        oid = rng.choice(sorted(orders))
        if roll < 0.8 or orders[oid] == 1:
            del orders[oid]
            return [L3Message(symbol=symbol, seq=seq, event="done", order_id=oid, reason="canceled")]
        side, price = book.orders[oid]
        orders[oid] -= 1
        tid, self.trade_id = self.trade_id, self.trade_id + 1
        return [
            L3Message(symbol=symbol, seq=seq, event="match", side=side, price=price, qty=1,
                      maker_order_id=oid, taker_order_id=10**9 + tid, trade_id=tid),
            TradeMessage(symbol=symbol, seq=seq, trade_id=tid, price=price, qty=1,
                         taker_side="sell" if side == "buy" else "buy", ts=tid),
        ]

    def run(self, publish: Callable[[str, list[PublicMessage]], None], count: int) -> None:
        """Release ``count`` batches over random symbols: the market's hub first, then the bus."""
        for _ in range(count):
            symbol = self.rng.choice(self.symbols)
            messages = self.batch(symbol)
            self.hub.publish(symbol, messages)
            publish(symbol, messages)


def state(hub: MarketDataHub) -> dict[str, Any]:
    """Every symbol's whole public state."""
    return {symbol: hub.snapshot_of(symbol) for symbol in sorted(hub.symbols)}


async def until(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Wait until ``predicate()`` holds (fails the test after ``timeout`` s)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
    assert predicate(), what


async def in_step(follower_hub: MarketDataHub, market: Market) -> None:
    """Wait until the follower's hub equals the market's, then check it field by field."""
    with contextlib.suppress(TimeoutError):
        await until(lambda: state(follower_hub) == state(market.hub), "in step")
    assert state(follower_hub) == state(market.hub)


class Recorder:
    """A hub subscriber keeping every frame it is sent."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def send(self, frame: bytes) -> bool:
        self.frames.append(frame)
        return True

    def congested(self) -> bool:
        return False

    def messages(self) -> list[dict[str, Any]]:
        return [msgspec.json.decode(f) for f in self.frames]


def publisher(url: str, prefix: str, market: Market, **options: Any) -> RedisPublisher:
    options.setdefault("retry_s", (0.02, 0.2))
    return RedisPublisher(url, source=market.hub, prefix=prefix, **options)


def follower(url: str, prefix: str, **options: Any) -> RedisFollower:
    options.setdefault("retry_s", (0.02, 0.2))
    options.setdefault("block_ms", 200)
    return RedisFollower(url, prefix=prefix, **options)


def follow(tasks: list[asyncio.Task[Any]], f: RedisFollower, hub: MarketDataHub) -> asyncio.Task[Any]:
    task = asyncio.create_task(f.follow(hub))
    tasks.append(task)
    return task


# --------------------------------------------------------------------------- tests


def test_bus_url_carries_the_key_prefix() -> None:
    assert split_bus_url("redis://127.0.0.1:6379") == ("redis://127.0.0.1:6379", "exch")
    assert split_bus_url("redis://h:1/2?prefix=ex1&ssl_cert_reqs=none") == ("redis://h:1/2?ssl_cert_reqs=none", "ex1")
    for bad in ("http://h:1", "memory:", "redis://h:1?prefix="):
        with pytest.raises(ValueError):
            split_bus_url(bad)


async def test_in_process_bus_feeds_followers_from_the_source_state() -> None:
    market = Market(seed=2)
    bus = InProcessBus(source=market.hub)
    early = MarketDataHub()
    bus.attach(early)
    market.run(bus.publish, 300)
    late = MarketDataHub()
    bus.attach(late)
    market.run(bus.publish, 300)
    assert state(early) == state(market.hub) == state(late)
    bus.detach(early)
    market.run(bus.publish, 10)
    assert state(early) != state(market.hub) == state(late)


async def test_batches_arrive_in_order_and_followers_equal_the_source(
    redis_url: str, bus_prefix: str, tasks: list[asyncio.Task[Any]]
) -> None:
    market = Market(seed=3)
    pub = publisher(redis_url, bus_prefix, market, pipeline=64)
    await pub.start()
    try:
        hub = MarketDataHub()
        f = follower(redis_url, bus_prefix)
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(f.follow(hub, synced=ready.set)))
        await ready.wait()
        recorder = Recorder()
        hub.subscribe(recorder, ["level3", "trades"], SYMBOLS)
        sent = Recorder()
        market.hub.subscribe(sent, ["level3", "trades"], SYMBOLS)
        for _ in range(20):  # bursts bigger than a pipeline, with the loop free in between
            market.run(pub.publish, 100)
            await asyncio.sleep(0)
        await in_step(hub, market)
        assert recorder.messages() == sent.messages()  # every l3 and trade, in the exchange's order
        assert pub.dropped == 0 and f.gaps == 0
        for symbol in SYMBOLS:
            seqs = [m["seq"] for m in recorder.messages() if m["type"] == "l3" and m["symbol"] == symbol]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    finally:
        await pub.close()


async def test_a_late_follower_starts_from_the_snapshots(
    redis_url: str, bus_prefix: str, tasks: list[asyncio.Task[Any]]
) -> None:
    market = Market(seed=4)
    pub = publisher(redis_url, bus_prefix, market)
    await pub.start()
    try:
        market.run(pub.publish, 500)
        pub.snapshot_changed()
        market.run(pub.publish, 200)  # after the snapshots: read from the stream
        await until(lambda: pub.sent == 700, "all sent")
        with redis.Redis.from_url(redis_url) as r:
            assert r.smembers(BusKeys(bus_prefix).symbols) == {s.encode() for s in SYMBOLS}
        hub = MarketDataHub()
        f = follower(redis_url, bus_prefix)
        follow(tasks, f, hub)
        await in_step(hub, market)
        market.run(pub.publish, 100)
        await in_step(hub, market)
        assert f.gaps == 0
    finally:
        await pub.close()


async def test_a_follower_behind_the_trimmed_stream_resyncs_from_the_next_snapshot(
    redis_url: str, bus_prefix: str, tasks: list[asyncio.Task[Any]]
) -> None:
    market = Market(seed=5)
    pub = publisher(redis_url, bus_prefix, market, maxlen=20, approximate=False)
    await pub.start()
    try:
        await until(lambda: pub.snapshots == len(SYMBOLS), "the first snapshots are stored")
        hub = MarketDataHub()
        f = follower(redis_url, bus_prefix)
        task = follow(tasks, f, hub)
        await until(lambda: f.synced, "synced")
        for _ in range(10):  # in step with the stream, which keeps only the last 20 entries
            market.run(pub.publish, 5)
            await in_step(hub, market)
        task.cancel()  # the follower stops reading (a stalled or disconnected process) …
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), WAIT_S)  # it stops promptly
        market.run(pub.publish, 300)  # … while the stream is trimmed far past its position
        await until(lambda: pub.sent == 350, "all sent")
        with redis.Redis.from_url(redis_url) as r:
            last = r.xrevrange(BusKeys(bus_prefix).stream, count=1)[0][0]
        follow(tasks, f, hub)  # resumes from its position: every symbol shows a hole
        await until(lambda: f.position == last, "read to the end")
        assert f.gaps >= 1
        assert any(s.stale for s in f.states.values())  # the snapshots are older than the holes
        assert state(hub) != state(market.hub)
        pub.snapshot_changed()  # the next periodic snapshots …
        await in_step(hub, market)  # … resync it
        assert not any(s.stale for s in f.states.values())
        for _ in range(4):
            market.run(pub.publish, 5)
            await in_step(hub, market)
    finally:
        await pub.close()


async def test_a_restarted_exchange_is_followed_through_its_new_epoch(
    redis_url: str, bus_prefix: str, tasks: list[asyncio.Task[Any]]
) -> None:
    market = Market(seed=6)
    first = publisher(redis_url, bus_prefix, market)
    await first.start()
    hub = MarketDataHub()
    f = follower(redis_url, bus_prefix)
    follow(tasks, f, hub)
    market.run(first.publish, 200)
    await in_step(hub, market)
    await first.close()
    recorder = Recorder()
    hub.subscribe(recorder, ["level3"], ["ACME"])
    market.run(lambda symbol, messages: None, 40)  # trading the bus never saw (e.g. Redis was down)
    second = publisher(redis_url, bus_prefix, market)  # a new run of the exchange: batch numbers start over
    await second.start()
    try:
        assert second.epoch != first.epoch
        market.run(second.publish, 200)
        await in_step(hub, market)
        assert f.reloads >= len(SYMBOLS)
        # subscribers of a reloaded symbol got a fresh snapshot
        assert [m["channel"] for m in recorder.messages() if m["type"] == "snapshot"] == ["level3"]
    finally:
        await second.close()


async def test_a_new_symbol_is_learned_from_the_stream(
    redis_url: str, bus_prefix: str, tasks: list[asyncio.Task[Any]]
) -> None:
    market = Market(seed=7, symbols=("ACME",))
    pub = publisher(redis_url, bus_prefix, market)
    await pub.start()
    try:
        hub = MarketDataHub()
        f = follower(redis_url, bus_prefix)
        follow(tasks, f, hub)
        market.run(pub.publish, 20)
        await in_step(hub, market)
        listed = StatusMessage(symbol="ZETA", status="trading", tick=5, lot=10)
        market.hub.publish("ZETA", [listed])
        pub.publish("ZETA", [listed])
        market.symbols += ("ZETA",)
        market.orders["ZETA"] = {}
        market.run(pub.publish, 40)
        await in_step(hub, market)
        assert (hub.symbols["ZETA"].tick, hub.symbols["ZETA"].lot) == (5, 10)
        assert f.gaps == 0
    finally:
        await pub.close()


# --------------------------------------------------------------------------- a Redis outage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A ``redis-server`` of our own (no persistence), to stop and start again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(500):
            with contextlib.suppress(redis.RedisError, OSError), redis.Redis(port=self.port) as r:
                if r.ping():
                    return
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(0.01)
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
        raise RuntimeError("redis-server did not answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def private_redis(redis_url: str, tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private Redis (skips without ``redis-server``; fails under CI)."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed: the Redis outage test needs one of its own"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_publishing_never_waits_for_redis_and_followers_resync_after_an_outage(
    private_redis: PrivateRedis, tasks: list[asyncio.Task[Any]]
) -> None:
    market = Market(seed=8)
    pub = publisher(private_redis.url, "exch", market, timeout_s=2.0)
    await pub.start()
    try:
        hub = MarketDataHub()
        f = follower(private_redis.url, "exch")
        follow(tasks, f, hub)
        market.run(pub.publish, 200)
        await in_step(hub, market)

        private_redis.stop()  # Redis dies (and loses everything: no persistence)
        market.run(pub.publish, 50)
        await until(lambda: not pub.up, "the publisher notices")
        before = pub.dropped
        market.run(pub.publish, 500)  # returns at once: dropped and counted, nothing queued
        assert pub.dropped == before + 500
        assert not pub._queue

        private_redis.start()  # back, empty
        await until(lambda: pub.up, "the publisher reconnects")
        market.run(pub.publish, 100)
        await in_step(hub, market)  # the follower reconnected and reloaded the fresh snapshots
        assert pub.outages == 1 and pub.dropped >= 500
        assert f.reloads >= 1
    finally:
        await pub.close()
