"""Give the C heap's free memory back to the operating system (glibc only).

Every TLS connection costs OpenSSL and the event loop tens of KiB of C heap.
When it closes that memory is freed, but glibc keeps freed memory inside its
heap for reuse and hands it back to the kernel only from the top of the heap;
so after a burst of connections, or during long connection churn, the
process's resident size stays at its high-water mark and creeps up as the heap
fragments (figures in docs/operations.md, "Measured limits of one process").
``malloc_trim(0)`` releases every free page of every arena, but it takes ~10 ms
on a fragmented heap of ~100 MiB, so :class:`HeapTrimmer` calls it only when
memory was freed: when the heap's free bytes (``mallinfo2``) rose
:data:`TRIM_FREED` above their lowest value seen since the last trim (memory
taken from the free pool is resident; when it is freed again it is resident
free memory). On other C libraries (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import platform
import time
from collections.abc import Callable
from typing import Final

__all__ = ["TRIM_FREED", "TRIM_INTERVAL_S", "HeapTrimmer"]

TRIM_INTERVAL_S: Final = 5.0
"""How often the servers look at their heap."""
TRIM_FREED: Final = 16 * 2**20
"""Bytes freed since the last trim (or the lowest point since) that make the next check trim."""


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _glibc() -> tuple[Callable[[int], int], Callable[[], int]] | None:
    """glibc's ``malloc_trim`` and a function giving the arenas' free bytes, or None (not glibc >= 2.33)."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        trim, info = libc.malloc_trim, libc.mallinfo2
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    info.argtypes = []
    info.restype = _MallInfo2

    def free_bytes() -> int:
        return int(info().fordblks)

    return trim, free_bytes


class HeapTrimmer:
    """A callable, run periodically, that returns freed heap pages to the kernel.

    Attributes:
        available: the C library is glibc (otherwise calls do nothing).
        freed: free bytes gained since the last trim that trigger the next one.
        calls: how many times it trimmed.
        seconds: time spent in ``malloc_trim`` in total.
    """

    def __init__(self, freed: int = TRIM_FREED) -> None:
        glibc = _glibc()
        self.available = glibc is not None
        self.freed = freed
        self.calls = 0
        self.seconds = 0.0
        self._trim: Callable[[int], int] | None = glibc[0] if glibc else None
        self._free: Callable[[], int] | None = glibc[1] if glibc else None
        self._low = self._free() if self._free is not None else 0

    def __call__(self) -> bool:
        """Trim if ``freed`` bytes were freed since the lowest point since the last trim; True if it trimmed."""
        if self._trim is None or self._free is None:
            return False
        free = self._free()
        self._low = min(self._low, free)
        if free - self._low < self.freed:
            return False
        start = time.perf_counter()
        self._trim(0)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        self._low = self._free()
        return True
