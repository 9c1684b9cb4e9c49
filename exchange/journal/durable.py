"""Learning on an asyncio loop that a seq is durable.

The journal writer calls its commit listeners on its own thread;
:class:`DurableGate` hops each commit onto the loop with
``loop.call_soon_threadsafe`` and resolves every waiter whose seq is now
durable, so a gateway can ``await gate.wait(seq)`` before sending a reply.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

from exchange.journal.writer import JournalError, JournalWriter

__all__ = ["DurableGate"]


class DurableGate:
    """Awaitable durability of journal seqs, for one event loop.

    Args:
        writer: the journal writer whose commits release waiters.
        loop: the loop waiters run on (the running loop if omitted).
    """

    def __init__(self, writer: JournalWriter, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._ids = itertools.count()
        self._error: BaseException | None = None
        self.durable_seq = writer.durable_seq
        writer.add_listener(self._committed_threadsafe, self._failed_threadsafe)

    def _committed_threadsafe(self, seq: int) -> None:
        self._loop.call_soon_threadsafe(self._release, seq)

    def _failed_threadsafe(self, exc: BaseException) -> None:
        self._loop.call_soon_threadsafe(self._fail, exc)

    def _release(self, seq: int) -> None:
        self.durable_seq = max(self.durable_seq, seq)
        waiters = self._waiters
        while waiters and waiters[0][0] <= self.durable_seq:
            future = heapq.heappop(waiters)[2]
            if not future.done():
                future.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        for _, _, future in self._waiters:
            if not future.done():
                future.set_exception(JournalError(f"the journal writer failed: {exc}"))
        self._waiters.clear()

    async def wait(self, seq: int) -> None:
        """Return once ``seq`` is durable.

        Raises:
            JournalError: the writer failed first.
        """
        if seq <= self.durable_seq:
            return
        if self._error is not None:
            raise JournalError(f"the journal writer failed: {self._error}")
        future: asyncio.Future[None] = self._loop.create_future()
        heapq.heappush(self._waiters, (seq, next(self._ids), future))
        await future
