"""Hold every reply until the journal commit that covers it.

Nothing leaves the process before the command it reflects is durable: each
outgoing action is tagged with the engine sequence number current when it was
produced and runs once the journal reports that sequence committed. Actions
run in the order they were queued, so replies keep request order and market
data keeps book order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["Releaser"]


class Releaser:
    """A FIFO of ``(seq, action)`` released as commits arrive."""

    __slots__ = ("committed", "pending")

    def __init__(self, committed: int = 0) -> None:
        self.committed = committed
        self.pending: deque[tuple[int, Callable[..., None], tuple[Any, ...]]] = deque()

    def after(self, seq: int, action: Callable[..., None], *args: Any) -> None:
        """Run ``action(*args)`` once ``seq`` is committed (now, if it is and nothing waits)."""
        if seq <= self.committed and not self.pending:
            action(*args)
        else:
            self.pending.append((seq, action, args))

    def commit(self, seq: int) -> None:
        """The journal holds everything up to ``seq``: run what waited for it."""
        if seq > self.committed:
            self.committed = seq
        pending = self.pending
        while pending and pending[0][0] <= self.committed:
            _, action, args = pending.popleft()
            action(*args)

    def __len__(self) -> int:
        return len(self.pending)
