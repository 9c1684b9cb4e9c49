"""Damaged journals: flipped bytes and truncated segments give exactly the specified outcome.

A damaged record that was committed stops the start with one line naming the
file and seq; a damaged record after the committed end (never acknowledged)
is reported in one line and the journal is cut back before it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from exchange.engine import Deposit, NewOrder, snapshot
from exchange.journal import JournalConfig, JournalCorrupt, recover
from exchange.ledger import Ledger
from exchange.store import Segment
from exchange.store.sqlite import SQLiteStore
from tests.conftest import TEST_ROUNDS
from tests.journal.streams import SETUP

MARK = "MARK-{:06d}"
pytestmark = pytest.mark.usefixtures("reader")  # in-process and read-ahead replays


def _journal(home: Path, n: int = 120, *, segment_records: int = 50) -> SQLiteStore:
    """A closed journal of ``n`` records whose record k carries ``MARK`` k (no final checkpoint)."""
    store = SQLiteStore(home, bcrypt_rounds=TEST_ROUNDS)
    config = JournalConfig(segment_records=segment_records, checkpoint_every=10**9)
    with Ledger.open(store, config=config) as ledger:
        for command in SETUP:
            ledger.submit(command)
        while ledger.seq < n:
            seq = ledger.seq + 1
            order = NewOrder(1, "AAA", "buy", "limit", 1, 1, client_order_id=MARK.format(seq))
            _, events = ledger.submit(order)
            assert ledger.seq == seq, events
        ledger.close(checkpoint=False)
    return store


def _segment_of(store: SQLiteStore, seq: int) -> Segment:
    return next(s for s in store.segments() if s.first_seq <= seq <= s.last_seq)


def _flip(path: Path, marker: str) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(marker.encode())
    assert at >= 0, f"{marker} not in {path}"
    data[at + len(marker) - 1] ^= 0x01
    path.write_bytes(bytes(data))


def _lower_committed_end(store: SQLiteStore, segment: Segment, last_seq: int) -> None:
    """What a crash between the segment's commit and the catalog's commit leaves."""
    conn = sqlite3.connect(store.home / "exch.db")
    conn.execute("UPDATE journal_segments SET last_seq = ? WHERE name = ?", (last_seq, segment.name))
    conn.commit()
    conn.close()


def test_a_flipped_byte_in_a_committed_record_stops_the_start(tmp_path: Path) -> None:
    store = _journal(tmp_path)
    segment = _segment_of(store, 70)
    path = store.segment_file(segment)
    _flip(path, MARK.format(70))
    with pytest.raises(JournalCorrupt) as info:
        recover(store)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"journal/{path.name}: committed record 70 is corrupted")
    assert "checksum mismatch" in message
    assert [s.last_seq for s in store.segments()] == [50, 100, 120]  # nothing was cut


def test_a_flipped_byte_in_an_uncommitted_tail_cuts_the_journal_back(tmp_path: Path) -> None:
    store = _journal(tmp_path)
    last = store.segments()[-1]
    _lower_committed_end(store, last, 115)  # 116..120 stored but never committed
    path = store.segment_file(last)
    _flip(path, MARK.format(118))
    lines: list[str] = []
    recovery = recover(store, report=lines.append)
    assert lines == [
        f"journal/{path.name}: torn tail at seq 118 (checksum mismatch), never committed: "
        "journal cut back to seq 117"
    ]
    assert recovery.notes == lines
    assert recovery.engine.seq == 117
    assert store.segments()[-1].last_seq == 117
    records = [r[0] for chunk in store.read_records(store.segments()[-1]) for r in chunk]
    assert records[-1] == 117
    assert recover(store, report=lines.append).engine.seq == 117  # the next start is clean
    assert len(lines) == 1


def test_intact_uncommitted_records_are_kept(tmp_path: Path) -> None:
    store = _journal(tmp_path)
    last = store.segments()[-1]
    _lower_committed_end(store, last, 115)
    lines: list[str] = []
    recovery = recover(store, report=lines.append)
    assert recovery.engine.seq == 120
    assert lines == [f"{store.segment_location(last)}: records 116..120 were stored but never committed; "
                     "kept (they are intact)"]  # fmt: skip
    assert store.segments()[-1].last_seq == 120


def test_a_truncated_committed_segment_stops_the_start(tmp_path: Path) -> None:
    store = _journal(tmp_path, 400, segment_records=200)
    first = store.segments()[0]
    path = store.segment_file(first)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(JournalCorrupt) as info:
        recover(store)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"journal/{path.name}: committed record ")
    seq = int(message.split("committed record ")[1].split()[0])
    assert 1 <= seq <= 200
    assert "refusing to start" in message


def test_a_missing_segment_file_stops_the_start(tmp_path: Path) -> None:
    store = _journal(tmp_path)
    path = store.segment_file(store.segments()[1])
    path.unlink()
    with pytest.raises(JournalCorrupt, match=rf"journal/{path.name}: committed record 51 .*file is missing"):
        recover(store)


def test_a_damaged_checkpoint_falls_back_to_an_older_one(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, bcrypt_rounds=TEST_ROUNDS)
    with Ledger.open(store, config=JournalConfig(checkpoint_every=10**9)) as ledger:
        for i in range(30):
            ledger.submit(Deposit(1, cash=i + 1))
            if i in (9, 19):
                ledger.checkpoint()
                ledger.writer.flush()
        state = snapshot(ledger.engine)
    assert [c.seq for c in store.checkpoints()] == [30, 20, 10]
    conn = sqlite3.connect(tmp_path / "exch.db")
    conn.execute("UPDATE checkpoints SET data = zeroblob(10) WHERE seq = 30")
    conn.commit()
    conn.close()
    lines: list[str] = []
    recovery = recover(store, report=lines.append)
    assert lines == ["checkpoint at seq 30 is unusable (checksum mismatch); trying an older one"]
    assert recovery.checkpoint_seq == 20
    assert recovery.replayed == 10
    assert snapshot(recovery.engine) == state
