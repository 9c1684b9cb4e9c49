"""The Redis market-data bus: one stream of batches plus per-symbol snapshots.

Keys (``P`` is the prefix, ``exch`` by default)::

    P:md:events        stream; one entry per released batch or stored snapshot
    P:md:snap:SYMBOL   hash: id, e, n, data — the newest snapshot of SYMBOL
    P:md:symbols       set of the symbols that have a snapshot

Stream entry fields: ``k`` (``b`` a batch, ``s`` a snapshot marker), ``s`` the
symbol, ``e`` the publisher's epoch (random per ``exch serve`` run), ``n`` the
symbol's batch number in that epoch (1, 2, 3, … with no hole; a snapshot
marker carries the ``n`` it covers), and for a batch ``m``: the batch's public
messages as protocol JSON, one per line.

A snapshot is written by one Lua script that appends the marker entry and
stores the hash with the marker's ID, so the snapshot reflects exactly the
entries before its marker. Why a stream, and the recovery rules: docs/marketdata.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import msgspec
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from exchange.marketdata.contract import PublicMessage, SnapshotSource, resnapshot
from exchange.marketdata.hub import MarketDataHub
from exchange.protocol.book import GapError
from exchange.protocol.messages import encode_message

__all__ = ["BusKeys", "RedisFollower", "RedisPublisher", "stream_id"]

log = logging.getLogger("exch.marketdata.bus")

StreamId = tuple[int, int]
_XReadReply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None

_SNAPSHOT_LUA = """
local id
if ARGV[2] == '1' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'k', 's', 's', ARGV[3], 'e', ARGV[4], 'n', ARGV[5])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'k', 's', 's', ARGV[3], 'e', ARGV[4], 'n', ARGV[5])
end
redis.call('HSET', KEYS[2], 'id', id, 'e', ARGV[4], 'n', ARGV[5], 'data', ARGV[6])
redis.call('SADD', KEYS[3], ARGV[3])
return id
"""


def stream_id(raw: bytes | str) -> StreamId:
    """A stream entry ID (``ms-seq``) as a comparable pair."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class BusKeys:
    """The Redis keys of one exchange's bus (one prefix per exchange)."""

    prefix: str = "exch"

    @property
    def stream(self) -> str:
        """The stream of batches and snapshot markers."""
        return f"{self.prefix}:md:events"

    @property
    def symbols(self) -> str:
        """The set of symbols with a snapshot."""
        return f"{self.prefix}:md:symbols"

    def snapshot(self, symbol: str) -> str:
        """The hash holding ``symbol``'s newest snapshot."""
        return f"{self.prefix}:md:snap:{symbol}"


async def _close_client(redis: Redis, timeout_s: float) -> None:
    """Close a client within ``timeout_s``: a connection cancelled in the middle of a blocking read
    must not hold up a shutdown or a reconnect (its socket is dropped with the client)."""
    with contextlib.suppress(RedisError, OSError, TimeoutError):
        await asyncio.wait_for(redis.aclose(), timeout_s)


def _client(url: str, *, connect_timeout_s: float, timeout_s: float | None) -> Redis:
    # No hidden retries: this module decides what a failure means (drop, resync, reconnect).
    return Redis.from_url(url, socket_connect_timeout=connect_timeout_s, socket_timeout=timeout_s,
                          retry=Retry(NoBackoff(), 0), health_check_interval=0)


class _Item(NamedTuple):
    symbol: str
    n: int
    messages: Sequence[PublicMessage] | None  # a batch …
    snapshot: bytes | None  # … or a snapshot (JSON)


class RedisPublisher:
    """Publishes released batches and periodic snapshots to Redis, from a background task.

    :meth:`publish` only queues (bounded); a task sends the queue in pipelines
    of up to ``pipeline`` commands. Policy while Redis is unreachable or too
    slow: batches are dropped and counted (``dropped``), the outage is logged
    as an error, and once Redis answers again every symbol's snapshot is stored
    before anything else, so followers resync from it. The exchange never waits.

    Args:
        url: ``redis://HOST:PORT[/DB]``.
        source: the exchange's hub (snapshots are taken from it).
        prefix: key prefix (one per exchange sharing a Redis).
        maxlen: stream entries kept (older ones are trimmed).
        approximate: trim with ``MAXLEN ~`` (cheaper; keeps at least ``maxlen``).
        max_queued: batches queued before new ones are dropped.
        pipeline: commands sent per round trip.
        snapshot_interval_s: how often the server calls :meth:`snapshot_changed`.
        connect_timeout_s: TCP connect timeout.
        timeout_s: a round trip slower than this counts as an outage.
        retry_s: first and longest wait between reconnection attempts.
    """

    def __init__(
        self,
        url: str,
        *,
        source: SnapshotSource,
        prefix: str = "exch",
        maxlen: int = 100_000,
        approximate: bool = True,
        max_queued: int = 100_000,
        pipeline: int = 500,
        snapshot_interval_s: float = 1.0,
        connect_timeout_s: float = 2.0,
        timeout_s: float = 5.0,
        retry_s: tuple[float, float] = (0.1, 2.0),
    ) -> None:
        self.url = url
        self.source = source
        self.keys = BusKeys(prefix)
        self.maxlen = maxlen
        self.approximate = approximate
        self.max_queued = max_queued
        self.pipeline = pipeline
        self.snapshot_interval_s = snapshot_interval_s
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.epoch = secrets.token_hex(6)
        self.counts: dict[str, int] = {}  # symbol -> batches published this epoch (its last n)
        self.up = False
        self.sent = 0
        self.dropped = 0
        self.snapshots = 0
        self.outages = 0
        self._snapped: dict[str, int] = {}  # symbol -> n of its last queued snapshot
        self._force = True
        self._queue: deque[_Item] = deque()
        self._batches = 0  # batches in the queue
        self._dropped_in_outage = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._redis: Redis | None = None
        self._sha = ""
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ the loop's side

    def publish(self, symbol: str, messages: Sequence[PublicMessage]) -> None:
        """Queue one released batch; drop it (counted) if Redis is down or the queue is full."""
        n = self.counts.get(symbol, 0) + 1
        self.counts[symbol] = n
        if not self.up or self._batches >= self.max_queued:
            self._drop(1)
            return
        self._queue.append(_Item(symbol, n, messages, None))
        self._batches += 1
        self._wake.set()

    def snapshot_changed(self) -> None:
        """Queue a snapshot of every symbol published since its last one (all of them after a loss)."""
        if not self.up:
            return
        force, self._force = self._force, False
        for symbol in list(self.source.symbols):
            n = self.counts.get(symbol, 0)
            if force or self._snapped.get(symbol) != n:
                data = msgspec.json.encode(self.source.snapshot_of(symbol))
                self._queue.append(_Item(symbol, n, None, data))
                self._snapped[symbol] = n
        self._wake.set()

    def _drop(self, count: int) -> None:
        if count <= 0:
            return
        self.dropped += count
        self._force = True
        if self.up and not self._dropped_in_outage:
            log.error("market-data bus: %s is too slow (%d batches queued): dropping batches; "
                      "followers resync from the next snapshots", self.url, self._batches)
        self._dropped_in_outage += count

    # ------------------------------------------------------------ the sender

    async def start(self) -> None:
        """Try to connect (briefly), then keep sending from a background task."""
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self._connect(), self.connect_timeout_s + 1)
        if not self.up:
            log.error("market-data bus: %s does not answer; publishing nothing until it does "
                      "(the exchange trades on)", self.url)
        self._task = asyncio.create_task(self._run(), name="exch-bus-publisher")

    async def close(self, *, timeout_s: float = 2.0) -> None:
        """Send what is queued (at most ``timeout_s``), then disconnect."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self._disconnect()

    async def _connect(self) -> None:
        redis = _client(self.url, connect_timeout_s=self.connect_timeout_s, timeout_s=self.timeout_s)
        try:
            self._sha = str(await redis.script_load(_SNAPSHOT_LUA))
        except BaseException:
            await redis.aclose()
            raise
        self._redis = redis
        if self.outages:
            log.warning("market-data bus: %s answers again after dropping %d batches; storing fresh "
                        "snapshots for the followers", self.url, self._dropped_in_outage)
        else:
            log.info("market-data bus: publishing to %s (stream %s)", self.url, self.keys.stream)
        self._dropped_in_outage = 0
        self.up = True
        self._force = True
        self.snapshot_changed()

    async def _disconnect(self) -> None:
        redis, self._redis = self._redis, None
        self.up = False
        if redis is not None:
            await _close_client(redis, self.connect_timeout_s)

    async def _run(self) -> None:
        delay = self.retry_s[0]
        while True:
            if self._redis is None:
                if self._closing:
                    return
                try:
                    await self._connect()
                    delay = self.retry_s[0]
                except (RedisError, OSError, TimeoutError):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_s[1])
                    continue
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            items = [self._queue.popleft() for _ in range(min(self.pipeline, len(self._queue)))]
            batches = sum(1 for item in items if item.messages is not None)
            self._batches -= batches
            try:
                await self._send(items)
            except (RedisError, OSError, TimeoutError) as exc:
                await self._outage(exc, batches)

    async def _send(self, items: list[_Item]) -> None:
        assert self._redis is not None
        keys = self.keys
        approx = "1" if self.approximate else "0"
        pipe = self._redis.pipeline(transaction=False)
        for item in items:
            if item.messages is not None:
                pipe.xadd(keys.stream, {
                    "k": "b", "s": item.symbol, "e": self.epoch, "n": item.n,
                    "m": b"\n".join(encode_message(m) for m in item.messages),
                }, maxlen=self.maxlen, approximate=self.approximate)
            else:
                assert item.snapshot is not None
                pipe.evalsha(self._sha, 3, keys.stream, keys.snapshot(item.symbol), keys.symbols,
                             self.maxlen, approx, item.symbol, self.epoch, item.n, item.snapshot)
        await pipe.execute()
        for item in items:
            if item.messages is not None:
                self.sent += 1
            else:
                self.snapshots += 1

    async def _outage(self, exc: BaseException, in_flight: int) -> None:
        lost = in_flight + self._batches
        self._queue.clear()
        self._batches = 0
        self.outages += 1
        await self._disconnect()
        log.error("market-data bus: %s failed (%s): dropping batches until it answers; "
                  "followers resync from the snapshots stored then", self.url, exc)
        self._drop(lost)


class _Sync:
    """Where a follower stands with one symbol."""

    __slots__ = ("epoch", "n", "at", "stale")

    def __init__(self, epoch: str, n: int, at: StreamId) -> None:
        self.epoch = epoch
        self.n = n
        self.at = at  # entries up to here are reflected by the loaded snapshot
        self.stale = False  # a hole was seen and no newer snapshot exists yet: wait for a marker


class RedisFollower:
    """Keeps a hub in step with the exchange through the Redis bus.

    Start: load every symbol's newest snapshot, then read the stream after the
    oldest of them, skipping each symbol's entries its snapshot covers. Then:
    a batch whose ``n`` is the next one is applied; a hole (entries trimmed or
    dropped, or a new epoch) reloads the symbol's snapshot if it is newer than
    the hole, else the symbol waits for its next snapshot marker. A lost
    connection is retried from the last entry read.

    Args:
        url: ``redis://HOST:PORT[/DB]``.
        prefix: key prefix of the exchange to follow.
        block_ms: how long one read waits for entries.
        count: entries per read.
        connect_timeout_s: TCP connect timeout.
        retry_s: first and longest wait between reconnection attempts.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "exch",
        block_ms: int = 1000,
        count: int = 1000,
        connect_timeout_s: float = 2.0,
        retry_s: tuple[float, float] = (0.1, 2.0),
    ) -> None:
        self.url = url
        self.keys = BusKeys(prefix)
        self.block_ms = block_ms
        self.count = count
        self.connect_timeout_s = connect_timeout_s
        self.retry_s = retry_s
        self.position: bytes | None = None  # the last entry read (None: nothing loaded yet)
        self.states: dict[str, _Sync] = {}
        self.connected = False
        self.entries = 0
        self.gaps = 0
        self.reloads = 0

    @property
    def synced(self) -> bool:
        """Whether the initial snapshots are loaded."""
        return self.position is not None

    async def follow(self, hub: MarketDataHub, *, synced: Callable[[], None] | None = None) -> None:
        """Follow the bus into ``hub`` until cancelled, reconnecting as needed."""
        delay = self.retry_s[0]
        try:
            while True:
                redis = _client(self.url, connect_timeout_s=self.connect_timeout_s,
                                timeout_s=self.block_ms / 1000 + 10)
                try:
                    await redis.ping()
                    if not self.connected:
                        log.info("market-data bus: following %s (stream %s)", self.url, self.keys.stream)
                    self.connected = True
                    delay = self.retry_s[0]
                    if self.position is None:
                        await self._load_all(redis, hub)
                    if synced is not None:
                        synced()
                        synced = None
                    await self._read(redis, hub)
                except (RedisError, OSError, TimeoutError) as exc:
                    if self.connected:
                        log.error("market-data bus: lost %s (%s); reconnecting", self.url, exc)
                    self.connected = False
                finally:
                    await _close_client(redis, self.connect_timeout_s)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_s[1])
        finally:
            self.connected = False

    async def _load_all(self, redis: Redis, hub: MarketDataHub) -> None:
        members = await redis.smembers(self.keys.symbols)
        symbols = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        pipe = redis.pipeline(transaction=False)
        for symbol in symbols:
            pipe.hgetall(self.keys.snapshot(symbol))
        records = await pipe.execute() if symbols else []
        start: StreamId | None = None
        for symbol, record in zip(symbols, records, strict=True):
            if record:
                at = self._load(hub, symbol, record)
                start = at if start is None or at < start else start
        self.position = b"%d-%d" % (start or (0, 0))

    async def _read(self, redis: Redis, hub: MarketDataHub) -> None:
        stream = self.keys.stream
        while True:
            assert self.position is not None
            reply = cast(_XReadReply, await redis.xread({stream: self.position}, count=self.count,
                                                        block=self.block_ms))
            for _, entries in reply or ():
                for raw_id, fields in entries:
                    await self._entry(redis, hub, raw_id, fields)
                    self.position = raw_id
                    self.entries += 1

    async def _entry(self, redis: Redis, hub: MarketDataHub, raw_id: bytes, fields: dict[bytes, bytes]) -> None:
        at = stream_id(raw_id)
        symbol = fields[b"s"].decode()
        epoch = fields[b"e"].decode()
        n = int(fields[b"n"])
        state = self.states.get(symbol)
        if state is not None and at <= state.at:
            return  # its snapshot already reflects this entry
        if fields[b"k"] == b"s":  # a snapshot marker
            if state is None or state.stale or state.epoch != epoch or state.n != n:
                await self._reload(redis, hub, symbol, at)
            return
        if state is None and n == 1:  # a symbol listed since we started
            state = self.states[symbol] = _Sync(epoch, 0, (0, 0))
        if state is None or state.stale:
            if state is None:
                await self._hole(redis, hub, symbol, at, "no snapshot yet")
            return
        if state.epoch == epoch and n <= state.n:
            return  # already applied
        if state.epoch == epoch and n == state.n + 1:
            try:
                hub.publish_frames(symbol, fields[b"m"].split(b"\n"))
                state.n = n
                return
            except GapError as exc:
                await self._hole(redis, hub, symbol, at, str(exc))
                return
        why = f"batch {n} after {state.n}" if state.epoch == epoch else "the exchange restarted"
        await self._hole(redis, hub, symbol, at, why)

    async def _hole(self, redis: Redis, hub: MarketDataHub, symbol: str, at: StreamId, why: str) -> None:
        self.gaps += 1
        if not await self._reload(redis, hub, symbol, at):
            log.warning("market-data bus: %s: %s; waiting for its next snapshot", symbol, why)
            state = self.states.setdefault(symbol, _Sync("", 0, (0, 0)))
            state.stale = True

    async def _reload(self, redis: Redis, hub: MarketDataHub, symbol: str, at: StreamId) -> bool:
        """Load ``symbol``'s newest snapshot if it covers the entry at ``at``."""
        record = cast(dict[bytes, bytes], await redis.hgetall(self.keys.snapshot(symbol)))
        if not record or stream_id(record[b"id"]) < at:
            return False
        known = symbol in hub.symbols
        self._load(hub, symbol, record)
        self.reloads += 1
        if known:
            resnapshot(hub, symbol)
        return True

    def _load(self, hub: MarketDataHub, symbol: str, record: dict[bytes, bytes]) -> StreamId:
        data = cast(dict[str, Any], msgspec.json.decode(record[b"data"]))
        hub.load(symbol, data)
        at = stream_id(record[b"id"])
        self.states[symbol] = _Sync(record[b"e"].decode(), int(record[b"n"]), at)
        return at
