"""Small asyncio plumbing shared by the servers: periodic actions and listener options."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from exchange.malloc import TRIM_INTERVAL_S, HeapTrimmer
from exchange.serving.limits import GatewayLimits

__all__ = ["every", "trim_heap_forever", "websocket_options"]

log = logging.getLogger("exch.tasks")


async def every(interval: float, action: Callable[[], object]) -> None:
    """Run ``action`` every ``interval`` seconds until cancelled; a failure is logged, never fatal."""
    while True:
        await asyncio.sleep(interval)
        try:
            action()
        except Exception:  # a periodic task must not die silently
            log.exception("periodic task %r failed", getattr(action, "__name__", action))


async def trim_heap_forever(interval: float = TRIM_INTERVAL_S) -> None:
    """Every ``interval`` seconds until cancelled, give the C heap that closed connections freed back
    to the kernel (:class:`~exchange.malloc.HeapTrimmer`), on a worker thread: a trim after a burst
    of connections takes tens of ms."""
    trimmer = HeapTrimmer()
    loop = asyncio.get_running_loop()
    await every(interval, lambda: loop.run_in_executor(None, trimmer))


def websocket_options(limits: GatewayLimits, *, server_header: str) -> dict[str, Any]:
    """The ``websockets.serve`` knobs every exch listener sets deliberately.

    Compression off (CPU and ~50 KiB per connection), frames capped at
    ``max_frame`` (bigger: close 1009), a small receive queue, a write limit,
    keepalive pings, a short close timeout and a deep accept backlog.
    """
    return {
        "compression": None,
        "max_size": limits.max_frame,
        "max_queue": 64,
        "write_limit": 256 * 1024,
        "ping_interval": 20,
        "ping_timeout": 20,
        "close_timeout": 5,
        "server_header": server_header,
        "backlog": 4096,
    }
