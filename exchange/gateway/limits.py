"""Per-connection and per-server limits of the gateway, and the token bucket."""

from __future__ import annotations

__all__ = ["GatewayLimits", "TokenBucket"]


class GatewayLimits:
    """The knobs an operator may turn; keyword-only with safe defaults.

    Args:
        messages_per_s: requests a connection may send per second (a ``batch``
            counts each request in it); burst twice that. 0 disables.
        orders_per_s: order, cancel, replace and cancel_all requests per second
            per connection; burst twice that. 0 disables.
        max_frame: largest incoming frame in bytes (bigger: close 1009).
        max_buffer: bytes a connection may leave unread in its outbound buffer
            before it is disconnected as a slow consumer (close 1013).
        max_connections: connections accepted at once (more: HTTP 503).
    """

    __slots__ = ("messages_per_s", "orders_per_s", "max_frame", "max_buffer", "max_connections")

    def __init__(
        self,
        *,
        messages_per_s: float = 1_000,
        orders_per_s: float = 500,
        max_frame: int = 64 * 1024,
        max_buffer: int = 4 * 1024 * 1024,
        max_connections: int = 20_000,
    ) -> None:
        self.messages_per_s = messages_per_s
        self.orders_per_s = orders_per_s
        self.max_frame = max_frame
        self.max_buffer = max_buffer
        self.max_connections = max_connections


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
