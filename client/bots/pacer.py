"""Keep a set of bots acting at one aggregate rate.

The :class:`Pacer` owes ``rate * elapsed`` actions at any moment. Whenever it
is behind, it starts actions on idle, connected bots chosen at random by their
``weight`` (from its own seeded generator), one action in flight per bot. An
action that found nothing to do (``act`` returned False) does not count, so a
bot with no signal leaves its turn to the others. When an action finishes the
pacer wakes at once, so fast round trips are not wasted waiting for the next
tick (an idle turn waits for the tick, so bots with nothing to do never
spin); when every bot is busy, the rate is what the round trips allow. A backlog
older than ``max_backlog_s`` is forgiven rather than fired in a burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = ["Actor", "Pacer"]

log = logging.getLogger("exch.bots")


class Actor(Protocol):
    """What the pacer needs of a bot."""

    @property
    def weight(self) -> float:
        """Share of the rate, relative to the others."""

    @property
    def ready(self) -> bool:
        """Whether it is connected and may act."""

    async def act(self) -> bool:
        """Send at most one request; True if one was sent."""


class Pacer:
    """Fire actions at ``rate`` per second over some actors.

    Args:
        rate: actions (order requests) per second, all actors together.
        rng: chooses which actor acts next.
        tick: seconds between checks when nothing finishes meanwhile.
        max_backlog_s: seconds of missed actions kept as debt; older debt is dropped.
    """

    def __init__(
        self, rate: float, rng: random.Random, *, tick: float = 0.01, max_backlog_s: float = 0.5
    ) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.rate = rate
        self.rng = rng
        self.tick = tick
        self.max_backlog_s = max_backlog_s
        self.done = 0
        """Actions that sent a request."""
        self.idle_turns = 0
        """Actions that found nothing to do."""
        self.failed = 0
        self._wake = asyncio.Event()

    async def run(
        self,
        actors: Sequence[Actor],
        stop: asyncio.Event,
        *,
        on_tick: Callable[[float], object] | None = None,
    ) -> None:
        """Act until ``stop`` is set, then wait for the actions in flight.

        Args:
            actors: the bots.
            stop: set it to end the run.
            on_tick: called with the loop time before each round (e.g. to move fair values).
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        busy: dict[int, asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                now = loop.time()
                if on_tick is not None:
                    on_tick(now)
                owed = (now - start) * self.rate - self.done - len(busy)
                cap = self.rate * self.max_backlog_s
                if owed > cap + 1:
                    start += (owed - cap) / self.rate  # forgive old debt instead of bursting
                    owed = cap
                idle = [i for i, a in enumerate(actors) if a.ready and i not in busy]
                for _ in range(min(int(owed), len(idle))):
                    index = self._choose(actors, idle)
                    idle.remove(index)
                    busy[index] = asyncio.create_task(self._one(actors[index], index, busy))
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.tick):
                        await self._wake.wait()
        finally:
            if busy:
                await asyncio.gather(*busy.values(), return_exceptions=True)

    def _choose(self, actors: Sequence[Actor], idle: list[int]) -> int:
        weights = [max(0.0, actors[i].weight) for i in idle]
        if sum(weights) <= 0:
            return self.rng.choice(idle)
        return self.rng.choices(idle, weights=weights)[0]

    async def _one(self, actor: Actor, index: int, busy: dict[int, asyncio.Task[None]]) -> None:
        try:
            sent = await actor.act()
        except Exception:  # a bot's bug must not stop the market
            self.failed += 1
            log.exception("bot action failed")
            sent = False
        finally:
            busy.pop(index, None)  # free before the wake-up below, so the loop can pick this bot again
        if sent:
            self.done += 1
            self._wake.set()  # a slot is free: use it now, not at the next tick
        else:
            self.idle_turns += 1  # retried at the next tick, so idle bots never spin

