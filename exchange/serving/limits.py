"""Per-connection and per-process limits of the gateway: the knobs, the token bucket, the output budget."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["REFUSED_WINDOW_S", "GatewayLimits", "MiB", "OutputBudget", "TokenBucket"]


MiB = 1024 * 1024


class GatewayLimits:
    """The knobs an operator may turn; keyword-only with safe defaults.

    Args:
        messages_per_s: frames a connection may send per second, whatever they
            hold (a ``batch`` counts each request in it); burst twice that.
            0 disables.
        orders_per_s: order, cancel, replace and cancel_all requests per second
            per connection; burst twice that. 0 disables.
        max_refused: frames of one connection refused as ``rate_limited``
            within :data:`REFUSED_WINDOW_S` seconds before it is closed with 1008
            (a flood, not a burst). 0 disables.
        max_frame: largest incoming frame in bytes (bigger: close 1009).
        max_buffer: bytes a logged-in connection may leave unread in its
            outbound buffer before it is disconnected as a slow consumer (close 1013).
        max_buffer_public: the same for a connection that has not logged in
            (public market data needs no login); the smaller of the two applies.
        max_output: bytes of unread output all connections of the process may
            hold together; past it the connections holding the most are closed
            with 1013 first. 0 disables.
        max_connections: connections accepted at once (more: HTTP 503).
        max_per_address: connections accepted at once from one client address
            (the one a trusted proxy names, else the peer's; more: HTTP 429). 0 disables.
    """

    __slots__ = ("messages_per_s", "orders_per_s", "max_refused", "max_frame", "max_buffer", "max_buffer_public",
                 "max_output", "max_connections", "max_per_address")

    def __init__(
        self,
        *,
        messages_per_s: float = 1_000,
        orders_per_s: float = 500,
        max_refused: int = 1_000,
        max_frame: int = 64 * 1024,
        max_buffer: int = 4 * MiB,
        max_buffer_public: int = 1 * MiB,
        max_output: int = 256 * MiB,
        max_connections: int = 20_000,
        max_per_address: int = 1_000,
    ) -> None:
        self.messages_per_s = messages_per_s
        self.orders_per_s = orders_per_s
        self.max_refused = max_refused
        self.max_frame = max_frame
        self.max_buffer = max_buffer
        self.max_buffer_public = max_buffer_public
        self.max_output = max_output
        self.max_connections = max_connections
        self.max_per_address = max_per_address


REFUSED_WINDOW_S = 10.0
"""The window of :attr:`GatewayLimits.max_refused`."""


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up.

    Time is passed in, so the bucket is deterministic. A rate of 0 never limits.
    """

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, now: float, n: float = 1.0) -> bool:
        """Spend ``n`` tokens if there are enough; return whether it could."""
        if self.rate <= 0:
            return True
        tokens = self.tokens + (now - self.stamp) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.stamp = now
        if tokens < n:
            self.tokens = tokens
            return False
        self.tokens = tokens - n
        return True


class OutputBudget:
    """Bytes of unread output held for all connections, summed from per-connection samples.

    Each connection reports the change of its outbound buffer when it samples
    it (after each write): O(1) per flush, no system call. The first time the
    total passes ``limit``, ``on_over`` runs (once, until :meth:`rearm`).
    A limit of 0 never calls it.
    """

    __slots__ = ("limit", "total", "on_over", "armed")

    def __init__(self, limit: int, on_over: Callable[[], None] | None = None) -> None:
        self.limit = limit
        self.total = 0
        self.on_over = on_over
        self.armed = True

    def change(self, delta: int) -> None:
        """A connection's buffer grew (or shrank) by ``delta`` bytes."""
        self.total += delta
        if self.armed and self.limit and self.total > self.limit and self.on_over is not None:
            self.armed = False
            self.on_over()

    def rearm(self, total: int) -> None:
        """After a recount: the exact ``total``, and call ``on_over`` again when it next passes the limit."""
        self.total = total
        self.armed = True
