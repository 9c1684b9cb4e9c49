"""The journal writer: group commit on its own thread.

The engine's thread calls :meth:`JournalWriter.append` for every accepted
command (lock-free: a deque append). The writer thread takes whatever
is pending and commits it at once when it has been idle for ``flush_interval``
seconds (a lone order is not held back); under load it starts a commit at
most every ``flush_interval`` (or as soon as ``flush_records`` records wait),
so commits grow with the load. It checksums the batch and commits it through the store's
:class:`~exchange.store.base.JournalSink` in one transaction per segment
touched, rotating to a new segment every ``segment_records`` records. After
each commit it advances :attr:`JournalWriter.durable_seq` and calls the
commit listeners with it: that is when replies for seqs up to it may leave
the process (see :class:`~exchange.journal.durable.DurableGate` for asyncio).

With ``config.inline`` there is no thread: :meth:`JournalWriter.append` asks
the scheduler given to :meth:`JournalWriter.schedule_with` to run
:meth:`JournalWriter.commit_pending` soon (once per batch of appends; the
server passes ``loop.call_soon``), and the commit, checkpoint saving and
listeners run on the caller's thread. Everything appended within one event-loop
turn is one commit, with no wake-up of another thread on either side.

A checkpoint request is queued behind the records it reflects, so a
checkpoint is never saved before the journal holds every record up to it.
If a commit fails the writer stops: :attr:`error` is set, waiters and error
listeners are told, and further appends raise :class:`JournalError`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from exchange.journal.checkpoint import encode_checkpoint
from exchange.journal.config import JournalConfig
from exchange.store.base import JournalSink, Record, Segment, Trade, checksum

__all__ = ["CommitListener", "ErrorListener", "JournalError", "JournalWriter"]

log = logging.getLogger("exch.journal")

CommitListener = Callable[[int], None]
"""Called with the new durable seq after each commit (on the writer thread, or inline on the
caller's); an exception it raises is logged and does not stop the writer."""
ErrorListener = Callable[[BaseException], None]
"""Called on the writer thread once, when the writer stops on an error."""


_Pending = tuple[int, int, bytes, Sequence[Trade]]
_Checkpoint = tuple[int, dict[str, Any]]


class JournalError(RuntimeError):
    """The journal cannot record commands any more (the writer failed or closed)."""


class JournalWriter:
    """Appends accepted commands to the journal from a background thread.

    Args:
        sink: the store's writer handle (owned: closed by :meth:`close`).
        segment: the catalog row of the segment to continue, or None for a new journal.
        last_seq: the seq of the last record already in the journal.
        config: batching, rotation and checkpoint settings.
    """

    def __init__(
        self,
        sink: JournalSink,
        *,
        segment: Segment | None,
        last_seq: int,
        config: JournalConfig | None = None,
    ) -> None:
        self.config = config or JournalConfig()
        self._sink = sink
        self._segment = segment
        self._pending: deque[_Pending] = deque()
        self._wake = threading.Event()
        self._slot = threading.Lock()  # guards the rare checkpoint request only
        self._checkpoint: _Checkpoint | None = None
        self._closing = False
        self._last_appended = last_seq
        self._last_commit = float("-inf")  # monotonic start of the newest commit (writer thread)
        self._durable = threading.Condition(threading.Lock())
        self.durable_seq = last_seq
        self.checkpoint_seq = 0
        self.error: BaseException | None = None
        self._on_commit: list[CommitListener] = []
        self._on_error: list[ErrorListener] = []
        self.inline = self.config.inline
        self._schedule: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        if not self.inline:
            self._thread = threading.Thread(target=self._run, name="exch-journal", daemon=True)
            self._thread.start()

    # ------------------------------------------------------- engine thread

    def add_listener(self, on_commit: CommitListener, on_error: ErrorListener | None = None) -> None:
        """Call ``on_commit(seq)`` after every commit (and ``on_error`` if the writer fails).

        Listeners run on the writer thread and must return quickly, e.g. by
        handing over with ``loop.call_soon_threadsafe``.
        """
        self._on_commit.append(on_commit)
        if on_error is not None:
            self._on_error.append(on_error)

    def schedule_with(self, schedule: Callable[[Callable[[], None]], Any]) -> None:
        """Inline mode: have ``schedule(commit_pending)`` called when records start to wait.

        Without a scheduler, inline records wait for :meth:`commit_pending`,
        :meth:`wait`, :meth:`flush` or :meth:`close`.
        """
        commit = self.commit_pending
        self._schedule = lambda: schedule(commit)
        if self._pending or self._checkpoint is not None:
            self._schedule()

    def append(self, seq: int, ts: int, payload: bytes, trades: Sequence[Trade] = ()) -> None:
        """Queue record ``seq`` (the next one) with its command bytes and trades.

        Lock-free (a deque append): the engine thread never waits for the writer.

        Raises:
            JournalError: the writer has failed or is closed, or ``seq`` is out of order.
        """
        if self.error is not None or self._closing:
            raise JournalError(f"the journal is not accepting records: {self.error or 'closed'}")
        if seq != self._last_appended + 1:
            raise JournalError(f"record {seq} appended after {self._last_appended}")
        self._last_appended = seq
        pending = self._pending
        pending.append((seq, ts, payload, trades))
        n = len(pending)
        if n == 1 or n >= self.config.flush_records:
            self._wake_up(n == 1)

    def _wake_up(self, first: bool) -> None:
        if not self.inline:
            self._wake.set()
        elif first and self._schedule is not None:
            self._schedule()

    def checkpoint(self, seq: int, state: dict[str, Any]) -> None:
        """Save ``state`` (a ``snapshot()`` as of ``seq``) once records up to ``seq`` are committed."""
        if self.error is not None or self._closing:
            raise JournalError(f"the journal is not accepting checkpoints: {self.error or 'closed'}")
        with self._slot:
            self._checkpoint = (seq, state)
        self._wake_up(not self._pending)

    @property
    def appended_seq(self) -> int:
        """The last seq handed to :meth:`append`."""
        return self._last_appended

    def wait(self, seq: int, timeout: float | None = None) -> bool:
        """Block until ``seq`` is durable; False on timeout.

        Raises:
            JournalError: the writer failed before ``seq`` became durable.
        """
        if self.inline:
            self.commit_pending()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._durable:
            while self.durable_seq < seq:
                if self.error is not None:
                    raise JournalError(f"the journal writer failed: {self.error}") from self.error
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._durable.wait(left)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every appended record is durable."""
        return self.wait(self._last_appended, timeout)

    def close(self) -> None:
        """Commit what is pending, stop the thread and close the sink.

        Raises:
            JournalError: the writer had failed (pending records were not saved).
        """
        self._closing = True
        if self._thread is not None:
            self._wake.set()
            self._thread.join()
        else:
            self.commit_pending()
        self._sink.close()
        if self.error is not None:
            raise JournalError(f"the journal writer failed: {self.error}") from self.error

    # ------------------------------------------------------- inline mode

    def commit_pending(self) -> None:
        """Inline mode: commit every waiting record, then a waiting checkpoint (on this thread).

        A failure stops the writer as on the thread: :attr:`error` is set and the
        error listeners are told; nothing is raised here.
        """
        if not self.inline or self.error is not None:
            return
        pending = self._pending
        popleft = pending.popleft
        records = [popleft() for _ in range(len(pending))]
        with self._slot:
            ckpt, self._checkpoint = self._checkpoint, None
        try:
            self._write(records, ckpt)
        except BaseException as exc:  # the writer must report, never die silently
            self._fail(exc)

    # ------------------------------------------------------- writer thread

    def _take(self) -> tuple[list[_Pending], _Checkpoint | None, bool]:
        cfg = self.config
        pending, wake = self._pending, self._wake
        if not pending and self._checkpoint is None and not self._closing:
            wake.wait()
        wake.clear()
        if pending and not self._closing:
            # Group commit: records that arrive within flush_interval of the previous
            # commit's start wait for it; after a quiet spell they go at once.
            deadline = self._last_commit + cfg.flush_interval
            while len(pending) < cfg.flush_records and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wake.wait(left)
                wake.clear()
        with self._slot:  # the checkpoint first: every record it reflects is already queued
            ckpt, self._checkpoint = self._checkpoint, None
        closing = self._closing
        popleft = pending.popleft
        batch = [popleft() for _ in range(len(pending))]
        if batch:
            self._last_commit = time.monotonic()
        return batch, ckpt, closing

    def _run(self) -> None:
        try:
            while True:
                records, ckpt, closing = self._take()
                self._write(records, ckpt)
                if closing and not records and ckpt is None and not self._pending:
                    return
        except BaseException as exc:  # the writer must report, never die silently
            self._fail(exc)

    def _write(self, records: list[_Pending], ckpt: _Checkpoint | None) -> None:
        if records:
            self._commit(records)
        if ckpt is not None:
            seq, state = ckpt
            data = encode_checkpoint(state)
            self._sink.save_checkpoint(seq, data, keep=self.config.keep_checkpoints)
            self.checkpoint_seq = seq

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        with self._durable:
            self._durable.notify_all()
        for listener in self._on_error:
            listener(exc)

    def _commit(self, pending: list[_Pending]) -> None:
        limit = self.config.segment_records
        sink = self._sink
        i = 0
        while i < len(pending):
            segment = self._segment
            if segment is None or segment.count >= limit:
                segment = sink.create_segment(pending[i][0])
            part = pending[i : i + limit - segment.count]
            last = part[-1][0]
            rows: list[Record] = [(seq, ts, checksum(seq, ts, pl), pl) for seq, ts, pl, _ in part]
            trades = [trade for *_, caused in part if caused for trade in caused]
            self._segment = sink.write(segment, rows, trades)
            i += len(part)
            with self._durable:
                self.durable_seq = last
                self._durable.notify_all()
            for listener in self._on_commit:
                try:
                    listener(last)
                except Exception:  # the records are durable: a listener's bug is not the journal's failure
                    log.exception("a journal commit listener failed (seq %d)", last)
