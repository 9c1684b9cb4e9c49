"""Give the C heap's free memory back to the operating system (glibc only).

Every TLS connection costs OpenSSL and the event loop tens of KiB of small C
allocations. When it closes they are freed, but glibc keeps freed memory
inside its heap for reuse and returns it to the kernel only from the top of
the heap; so after a burst of connections, or a long run of connection churn,
the process's resident size stays near its high-water mark and creeps up as
the heap fragments (measured in docs/operations.md, "Measured limits of one
process"). ``malloc_trim(0)`` releases every free page of every arena, but
on a fragmented heap of ~100 MiB it takes ~10 ms, so :class:`HeapTrimmer`
calls it only when the resident size grew by :data:`TRIM_GROWTH` since the
last trim. On other C libraries (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import platform
import time
from collections.abc import Callable
from typing import Final

__all__ = ["TRIM_GROWTH", "TRIM_INTERVAL_S", "HeapTrimmer", "resident_bytes"]

TRIM_INTERVAL_S: Final = 10.0
"""How often the servers look at their resident size."""
TRIM_GROWTH: Final = 16 * 2**20
"""Growth of the resident size since the last trim that makes the next check trim."""


def resident_bytes() -> int | None:
    """This process's resident set size (Linux ``/proc/self/statm``), or None if unknown."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    trim: Callable[[int], int] = fn
    return trim


class HeapTrimmer:
    """A callable, run periodically, that returns free heap pages to the kernel when the process grew.

    Attributes:
        available: the C library is glibc (otherwise calls do nothing).
        growth: resident bytes gained since the last trim that trigger the next one.
        calls: how many times it trimmed.
        released: how many of those calls gave memory back.
        seconds: time spent in ``malloc_trim`` in total.
    """

    def __init__(self, growth: int = TRIM_GROWTH, rss: Callable[[], int | None] = resident_bytes) -> None:
        self._trim = _malloc_trim()
        self._rss = rss
        self.available = self._trim is not None
        self.growth = growth
        self.calls = 0
        self.released = 0
        self.seconds = 0.0
        self._base = rss()

    def __call__(self) -> bool:
        """Trim if the resident size grew by ``growth`` since the last trim (or is unknown); True if it trimmed."""
        if self._trim is None:
            return False
        now = self._rss()
        if now is not None and self._base is not None and now - self._base < self.growth:
            return False
        start = time.perf_counter()
        self.released += bool(self._trim(0))
        self.seconds += time.perf_counter() - start
        self.calls += 1
        self._base = self._rss()
        return True
