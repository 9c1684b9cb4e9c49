"""The journal's knobs, in one keyword-only, typed place."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["JournalConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalConfig:
    """How the journal writes, rotates and checkpoints.

    Args:
        segment_records: records per segment before a new one starts.
        flush_interval: the shortest gap between the starts of two commits while records
            keep coming, so the longest a record waits for its commit to start; a record
            that finds the writer idle for longer is committed at once.
        flush_records: pending records that trigger a commit at once.
        fsync: ``synchronous=FULL`` (durable on power loss) instead of ``NORMAL``
            (durable when the process dies).
        inline: commit on the caller's thread when :meth:`JournalWriter.commit_pending` runs
            (the server schedules it once per event-loop turn) instead of on a writer thread:
            no thread hand-offs per commit. For stores whose commit is a local write
            (SQLite without ``fsync``); a commit that waits on a disk flush or a network
            round trip belongs on the thread.
        checkpoint_every: accepted commands between checkpoints.
        checkpoint_interval: seconds between checkpoints while commands arrive.
        keep_checkpoints: checkpoints kept after pruning.
    """

    segment_records: int = 100_000
    flush_interval: float = 0.002
    flush_records: int = 10_000
    fsync: bool = False
    inline: bool = False
    checkpoint_every: int = 100_000
    checkpoint_interval: float = 300.0
    keep_checkpoints: int = 3

    def __post_init__(self) -> None:
        if self.segment_records < 1 or self.flush_records < 1 or self.checkpoint_every < 1:
            raise ValueError("segment_records, flush_records and checkpoint_every must be at least 1")
        if self.flush_interval < 0 or self.checkpoint_interval <= 0 or self.keep_checkpoints < 1:
            raise ValueError("intervals must be positive and keep_checkpoints at least 1")
