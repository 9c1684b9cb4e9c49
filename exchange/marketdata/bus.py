"""The market-data bus: how released public messages leave the exchange.

The exchange publishes every released batch of a symbol's public messages
(``l3``, ``trade``, ``status``; see :mod:`exchange.marketdata.feed`) to a
:class:`BusPublisher`, in commit order, right after feeding its own hub. A
market-data process keeps a :class:`~exchange.marketdata.hub.MarketDataHub` in
step with the exchange's by following the bus (a :class:`BusFollower`).

Two implementations:

- :class:`InProcessBus` (this module): publisher and follower in one process,
  no Redis. A follower is loaded from the source hub's state and then fed every
  batch synchronously, so it can never miss one.
- :class:`~exchange.marketdata.redisbus.RedisPublisher` /
  :class:`~exchange.marketdata.redisbus.RedisFollower`: a Redis stream plus
  periodic per-symbol snapshots, for any number of ``exch marketdata``
  processes on any hosts (docs/marketdata.md).

:func:`open_publisher` and :func:`open_follower` pick one from a URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from exchange.marketdata.hub import CONFLATED, MarketDataHub
from exchange.protocol.messages import L3Message, StatusMessage, TradeMessage

__all__ = [
    "BusFollower",
    "BusPublisher",
    "InProcessBus",
    "PublicMessage",
    "SnapshotSource",
    "open_follower",
    "open_publisher",
    "resnapshot",
    "split_bus_url",
]

PublicMessage = L3Message | TradeMessage | StatusMessage
"""What travels on the bus: a symbol's public messages."""

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class SnapshotSource(Protocol):
    """What a publisher reads snapshots from (the exchange's own hub)."""

    @property
    def symbols(self) -> Mapping[str, object]:
        """The symbols known so far."""

    def snapshot_of(self, symbol: str) -> dict[str, Any]:
        """A symbol's whole public state as plain data."""


class BusPublisher(Protocol):
    """The exchange's side of the bus. Every method returns at once: it never blocks the loop."""

    snapshot_interval_s: float
    """How often :meth:`snapshot_changed` should run."""

    def publish(self, symbol: str, messages: Sequence[PublicMessage]) -> None:
        """Send one released batch of ``symbol``'s public messages (in release order)."""

    def snapshot_changed(self) -> None:
        """Store a snapshot of every symbol that changed since its last one (run periodically)."""

    async def start(self) -> None:
        """Connect and begin sending in the background."""

    async def close(self) -> None:
        """Send what is queued (briefly), then disconnect."""


class BusFollower(Protocol):
    """A market-data process's side of the bus."""

    async def follow(self, hub: MarketDataHub, *, synced: Callable[[], None] | None = None) -> None:
        """Keep ``hub`` in step with the exchange's until cancelled.

        ``synced`` is called once the hub holds every symbol's state (late joiners can be served).
        """


def resnapshot(hub: MarketDataHub, symbol: str) -> None:
    """Send every subscriber of ``symbol`` a fresh ``snapshot`` (after its state was reloaded)."""
    for channel in ("level3", "trades", "ticker", "level2"):
        subs = hub.live.get((channel, symbol))
        if subs:
            frame = hub.snapshot(channel, symbol)
            for sub in subs:
                sub.send(frame)
    for (group_symbol, _), group in hub.groups.items():
        if group_symbol != symbol:
            continue
        for sub, channels in group.members.items():
            for channel in sorted(channels & CONFLATED):
                sub.send(hub.snapshot(channel, symbol))


class InProcessBus:
    """Publisher and followers in one process: each batch goes straight to every following hub.

    Args:
        source: the publishing exchange's hub; a follower starts from its state.
    """

    snapshot_interval_s: float = 1.0

    def __init__(self, *, source: SnapshotSource) -> None:
        self.source = source
        self.hubs: list[MarketDataHub] = []
        self.published = 0

    def publish(self, symbol: str, messages: Sequence[PublicMessage]) -> None:
        """Apply the batch to every following hub, now."""
        self.published += 1
        for hub in self.hubs:
            hub.publish(symbol, messages)

    def snapshot_changed(self) -> None:
        """Nothing to store: followers load the source's state directly."""

    async def start(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to flush."""

    def attach(self, hub: MarketDataHub) -> None:
        """Load ``hub`` with the source's state and feed it every later batch."""
        for symbol in list(self.source.symbols):
            hub.load(symbol, self.source.snapshot_of(symbol))
        self.hubs.append(hub)

    def detach(self, hub: MarketDataHub) -> None:
        """Stop feeding ``hub``."""
        if hub in self.hubs:
            self.hubs.remove(hub)

    async def follow(self, hub: MarketDataHub, *, synced: Callable[[], None] | None = None) -> None:
        """:meth:`attach`, wait until cancelled, :meth:`detach`."""
        self.attach(hub)
        try:
            if synced is not None:
                synced()
            await asyncio.Event().wait()
        finally:
            self.detach(hub)


def split_bus_url(url: str) -> tuple[str, str]:
    """``(redis URL, key prefix)`` of a bus URL: ``redis://HOST:PORT[/DB][?prefix=P]`` (prefix ``exch``).

    Raises:
        ValueError: not a Redis URL, or a bad prefix.
    """
    if not url.startswith(REDIS_SCHEMES):
        raise ValueError(f"unsupported bus URL {url!r}: use redis://HOST:PORT[/DB][?prefix=NAME]")
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = "exch"
    rest = []
    for key, value in query:
        if key == "prefix":
            prefix = value
        else:
            rest.append((key, value))
    if not prefix or any(c.isspace() for c in prefix):
        raise ValueError(f"bad bus key prefix {prefix!r} in {url!r}")
    return urlunsplit(parts._replace(query=urlencode(rest))), prefix


def open_publisher(url: str, *, source: SnapshotSource, **options: Any) -> BusPublisher:
    """The publisher for a bus URL (see :func:`split_bus_url`); ``options`` go to its constructor.

    Raises:
        ValueError: an unsupported URL.
    """
    redis_url, prefix = split_bus_url(url)
    from exchange.marketdata.redisbus import RedisPublisher

    return RedisPublisher(redis_url, source=source, prefix=prefix, **options)


def open_follower(url: str, **options: Any) -> BusFollower:
    """The follower for a bus URL (see :func:`split_bus_url`); ``options`` go to its constructor.

    Raises:
        ValueError: an unsupported URL.
    """
    redis_url, prefix = split_bus_url(url)
    from exchange.marketdata.redisbus import RedisFollower

    return RedisFollower(redis_url, prefix=prefix, **options)

