"""The journal writer's WAL is checkpointed by a thread of its own, not inside the writer's commits."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from exchange.paths import db_path
from exchange.store.base import Record, checksum
from exchange.store.sqlite import SQLiteSink, SQLiteStore

PAYLOAD = b"x" * 1_000
BATCH = 500  # ~0.5 MB of WAL a commit


def records(first: int, count: int) -> list[Record]:
    return [(seq, seq, checksum(seq, seq, PAYLOAD), PAYLOAD) for seq in range(first, first + count)]


def write_batches(sink: SQLiteSink, batches: int, pause: float) -> Path:
    """Append ``batches`` commits to one segment; return the segment file."""
    segment = sink.create_segment(1)
    seq = 1
    for _ in range(batches):
        segment = sink.write(segment, records(seq, BATCH), [])
        seq += BATCH
        time.sleep(pause)
    path = sink.checkpointer.segment
    assert path is not None
    return path


def wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_the_writer_never_checkpoints_in_its_commits(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    sink = store.open_sink()
    try:
        sink.checkpointer.close()  # no checkpointer: nothing moves the WAL back into the file
        path = write_batches(sink, 40, 0.0)
        assert wal_size(path) > 15_000_000  # ~20 MB of commits, all still in the WAL
        with contextlib.closing(sqlite3.connect(path)) as conn:
            busy, log_frames, moved = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and log_frames > 4_000 and moved == log_frames  # nothing had been checkpointed yet
    finally:
        sink.close()
        store.close()


def test_the_checkpointer_keeps_the_wal_small_while_the_writer_appends(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    sink = store.open_sink()
    try:
        sink.checkpointer.interval = 0.02
        path = write_batches(sink, 40, 0.03)
        assert sink.checkpointer.rounds > 10
        # restarted from the front after each checkpoint: without the checkpointer all ~20 MB stay in it
        # (the test above); the bound leaves room for a loaded machine delaying a few rounds
        assert wal_size(path) < 10_000_000
        # every record is in the segment, through whichever file holds it
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            count = conn.execute("SELECT count(*) FROM records").fetchone()
        assert count == (40 * BATCH,)
        assert sink.checkpointer.segment == path and db_path(tmp_path).exists()
    finally:
        sink.close()
        store.close()
    assert wal_size(path) == 0  # the last connection to close checkpointed and removed it
