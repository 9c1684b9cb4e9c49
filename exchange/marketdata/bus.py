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

:func:`open_publisher` and :func:`open_follower` pick one from a URL. The
contract both implement is in :mod:`exchange.marketdata.contract`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from exchange.marketdata.contract import BusFollower, BusPublisher, PublicMessage, SnapshotSource
from exchange.marketdata.hub import MarketDataHub

__all__ = ["InProcessBus", "open_follower", "open_publisher", "split_bus_url"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


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

