"""Connection counters and rates, for ``stats``, ``/metrics`` and ``sessions``."""

from __future__ import annotations

import os
from collections import deque
from typing import Final

__all__ = ["Counters", "Rates", "rss_bytes"]

_PAGE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The resident set size of this process (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class Counters:
    """Monotonic totals since start."""

    __slots__ = ("orders", "trades", "messages_in", "messages_out", "logins_failed", "connections")

    def __init__(self) -> None:
        self.orders = 0
        self.trades = 0
        self.messages_in = 0
        self.messages_out = 0
        self.logins_failed = 0
        self.connections = 0


class Rates:
    """Per-second rates of a counter over a sliding window of samples."""

    def __init__(self, *, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self.samples: deque[tuple[float, int]] = deque()

    def sample(self, now: float, total: int) -> float:
        """Record ``total`` at ``now`` and return the rate over the window."""
        samples = self.samples
        samples.append((now, total))
        while len(samples) > 2 and now - samples[0][0] > self.window_s:
            samples.popleft()
        t0, v0 = samples[0]
        return (total - v0) / (now - t0) if now > t0 else 0.0
