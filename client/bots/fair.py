"""The hidden "true" price of each symbol that the market makers quote around.

A mean-reverting random walk in ticks, one step per ``step_s`` seconds of
wall-clock time, drawn from its own seeded generator: the same seed gives the
same path, step by step. Only the market makers look at it; everyone else sees
the market (which follows it because the makers' quotes do).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Mapping

__all__ = ["DEFAULT_PRICES", "FairValues", "anchor_price"]

DEFAULT_PRICES: Mapping[str, int] = {"ACME": 10_000, "BOLT": 5_000, "CHIP": 2_500}
"""Starting prices in ticks (cents) of the default symbols."""


def anchor_price(symbol: str) -> int:
    """A starting price for ``symbol``: the default one, else 10.00 to 99.99 derived from its name."""
    if symbol in DEFAULT_PRICES:
        return DEFAULT_PRICES[symbol]
    return 1_000 + zlib.crc32(symbol.encode()) % 9_000


class FairValues:
    """Per-symbol fair values drifting with time.

    Args:
        symbols: the symbols to follow.
        rng: the walk's random generator.
        step_s: seconds per step.
        volatility: standard deviation of one step, as a fraction of the anchor price.
        reversion: fraction of the distance to the anchor recovered per step.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        rng: random.Random,
        *,
        step_s: float = 0.1,
        volatility: float = 0.0005,
        reversion: float = 0.002,
    ) -> None:
        self.rng = rng
        self.step_s = step_s
        self.volatility = volatility
        self.reversion = reversion
        self.anchors: dict[str, float] = {s: float(anchor_price(s)) for s in symbols}
        self.values: dict[str, float] = dict(self.anchors)
        self.steps = 0
        self._started: float | None = None

    def rebase(self, symbol: str, price: int) -> None:
        """Start ``symbol`` from the market's own price (e.g. its last trade) instead of the default."""
        self.anchors[symbol] = float(price)
        self.values[symbol] = float(price)

    def value(self, symbol: str) -> float:
        """The current fair value of ``symbol`` in ticks."""
        return self.values[symbol]

    def advance(self, now: float) -> None:
        """Take every step due by ``now`` (seconds, any monotonic clock)."""
        if self._started is None:
            self._started = now
            return
        due = int((now - self._started) / self.step_s)
        while self.steps < due:
            self.steps += 1
            for symbol, value in self.values.items():
                anchor = self.anchors[symbol]
                value += self.rng.gauss(0.0, self.volatility * anchor) + self.reversion * (anchor - value)
                self.values[symbol] = max(anchor * 0.2, value)
