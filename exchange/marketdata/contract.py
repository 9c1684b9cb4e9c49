"""The market-data bus's contract: what travels on it and what each side provides.

Both implementations (:mod:`exchange.marketdata.bus`, in-process, and
:mod:`exchange.marketdata.redisbus`) import this module and never each other
(``bus`` opens a Redis one lazily, by URL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from exchange.marketdata.hub import CONFLATED, MarketDataHub
from exchange.protocol.messages import L3Message, StatusMessage, TradeMessage

__all__ = ["BusFollower", "BusPublisher", "PublicMessage", "SnapshotSource", "resnapshot"]

PublicMessage = L3Message | TradeMessage | StatusMessage
"""What travels on the bus: a symbol's public messages."""

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
