"""What the benchmarks read of a server process and set on their own: RSS, open-file limit (Linux)."""

from __future__ import annotations

import contextlib
import resource

__all__ = ["raise_fd_limit", "rss_bytes"]


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` in bytes."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def raise_fd_limit(wanted: int | None = None) -> None:
    """Raise this process's open-file limit to ``wanted`` (None: to the hard limit), never lower it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None or hard == resource.RLIM_INFINITY else min(wanted, hard)
    if wanted is not None and hard == resource.RLIM_INFINITY:
        target = wanted
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
