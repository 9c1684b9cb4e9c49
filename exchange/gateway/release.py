"""Hold every reply until the journal commit that covers it.

Nothing leaves the process before the command it reflects is durable: each
outgoing action is tagged with the engine sequence number current when it was
produced and runs once the journal reports that sequence committed. Actions
run in the order they were queued, so replies keep request order and market
data keeps book order.

Inside a ``batch`` frame the gateway queues each order's output as an *item*
(:meth:`Releaser.after_item`): consecutive items of one action form one entry,
released when the last of them is committed and run as one call with the list
(one queue entry and one call per frame instead of one per order). An entry
takes items only while :meth:`Releaser.grouping` is on (one frame's
synchronous handling) and only while it is the newest entry, so any other
action queued in between keeps its place in the order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["Releaser"]


class Releaser:
    """A FIFO of ``[seq, action, args]`` released as commits arrive."""

    __slots__ = ("committed", "pending", "_open", "_grouping")

    def __init__(self, committed: int = 0) -> None:
        self.committed = committed
        self.pending: deque[list[Any]] = deque()
        self._open: list[Any] | None = None  # the newest entry, while it may take more items
        self._grouping = False

    def after(self, seq: int, action: Callable[..., None], *args: Any) -> None:
        """Run ``action(*args)`` once ``seq`` is committed (now, if it is and nothing waits)."""
        self._open = None
        if seq <= self.committed and not self.pending:
            action(*args)
        else:
            self.pending.append([seq, action, args])

    def after_item(self, seq: int, action: Callable[[list[Any]], None], item: Any) -> None:
        """Run ``action([item, ...])`` once ``seq`` is committed, with the items queued just before it.

        While :meth:`grouping` is on, an item joins the newest entry when that
        entry is an ``after_item`` of the same ``action``; the entry then waits
        for this item's ``seq`` too.
        """
        entry = self._open
        if entry is not None and entry[1] == action:  # == : bound methods are new objects each time
            entry[0] = seq
            entry[2][0].append(item)
            return
        if seq <= self.committed and not self.pending:
            action([item])
            return
        entry = [seq, action, ([item],)]
        self.pending.append(entry)
        if self._grouping:
            self._open = entry

    def grouping(self, on: bool) -> None:
        """Let consecutive items share an entry (on) until turned off (the end of one frame)."""
        self._grouping = on
        if not on:
            self._open = None

    def commit(self, seq: int) -> None:
        """The journal holds everything up to ``seq``: run what waited for it."""
        if seq > self.committed:
            self.committed = seq
        pending = self.pending
        while pending and pending[0][0] <= self.committed:
            entry = pending.popleft()
            if entry is self._open:
                self._open = None
            entry[1](*entry[2])

    def __len__(self) -> int:
        return len(self.pending)
