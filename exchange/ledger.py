"""The sequencer shell around the pure engine: sequence, journal, checkpoint.

``Ledger.open(store)`` rebuilds the engine (newest checkpoint + journal) and
starts the journal writer. ``submit(command)`` stamps the command, applies it,
and queues accepted ones to the journal with their trades; it returns the seq
whose durability releases the reply (for a ``Reject``, the seq the refusal was
based on) and the engine's events. Nothing may leave the process before
``writer.wait(seq)`` / ``DurableGate.wait(seq)`` says that seq is durable.

Checkpoints are taken on the engine's thread (``snapshot`` is a consistent
plain copy) every ``checkpoint_every`` accepted commands or
``checkpoint_interval`` seconds, and by :meth:`Ledger.close`; the writer saves
them after the records they reflect.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from exchange.engine import Command, Engine, Event, Limits, encode_command, snapshot
from exchange.journal.config import JournalConfig
from exchange.journal.recovery import Recovery, Reporter, recover
from exchange.journal.trades import trades_from
from exchange.journal.writer import JournalWriter
from exchange.store.base import Store

__all__ = ["Ledger"]


class Ledger:
    """The engine plus its journal; use :meth:`open`.

    Args:
        store: where the journal, checkpoints and trades live (not closed here).
        recovery: the rebuilt state (from :func:`~exchange.journal.recovery.recover`).
        config: journal settings.
        clock: the timestamp source for commands submitted without one (ns).
    """

    def __init__(
        self,
        store: Store,
        recovery: Recovery,
        *,
        config: JournalConfig | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config or JournalConfig()
        self.store = store
        self.recovery = recovery
        self.engine: Engine = recovery.engine
        self.clock = clock
        self.writer = JournalWriter(
            store.open_sink(fsync=self.config.fsync),
            segment=recovery.segment,
            last_seq=self.engine.seq,
            config=self.config,
        )
        self._checkpoint_seq = recovery.checkpoint_seq
        self._checkpoint_due = time.monotonic() + self.config.checkpoint_interval
        self._closed = False

    @classmethod
    def open(
        cls,
        store: Store,
        *,
        config: JournalConfig | None = None,
        limits: Limits | None = None,
        progress: bool = False,
        report: Reporter | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> Ledger:
        """Recover the state from ``store`` and start journaling.

        Raises:
            RecoveryError: the journal cannot give a consistent state.
        """
        recovery = recover(store, limits=limits, progress=progress, report=report)
        return cls(store, recovery, config=config, clock=clock)

    @property
    def seq(self) -> int:
        """The last accepted command's seq."""
        return self.engine.seq

    @property
    def durable_seq(self) -> int:
        """The last seq the journal has committed."""
        return self.writer.durable_seq

    def submit(self, command: Command, ts: int | None = None) -> tuple[int, list[Event]]:
        """Apply ``command`` (stamped ``ts``, or now) and journal it if accepted.

        Returns ``(seq, events)``: release the events once ``seq`` is durable.

        Raises:
            JournalError: the journal can no longer record (fail-stop).
        """
        engine = self.engine
        if ts is None:
            ts = self.clock()
        before = engine.seq
        events = engine.apply(command, ts)
        seq = engine.seq
        if seq != before:
            trades = trades_from(events, seq, ts) if len(events) > 1 else ()
            self.writer.append(seq, ts, encode_command(command), trades)
            if (
                seq - self._checkpoint_seq >= self.config.checkpoint_every
                or time.monotonic() >= self._checkpoint_due
            ):
                self.checkpoint()
        return seq, events

    def checkpoint(self) -> int:
        """Queue a checkpoint of the current state (saved after its records); return its seq."""
        seq = self.engine.seq
        self._checkpoint_due = time.monotonic() + self.config.checkpoint_interval
        if seq > self._checkpoint_seq:
            self.writer.checkpoint(seq, snapshot(self.engine))
            self._checkpoint_seq = seq
        return seq

    def close(self, *, checkpoint: bool = True) -> None:
        """Clean shutdown: checkpoint (unless told not to), commit everything, stop the writer."""
        if self._closed:
            return
        self._closed = True
        if checkpoint and self.writer.error is None:
            self.checkpoint()
        self.writer.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(checkpoint=kind is None)
