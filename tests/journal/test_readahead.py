"""Replay through the read-ahead helper process gives exactly the in-process outcome.

The helper only vouches for records (seq and CRC checked); anything it cannot
vouch for is read and judged by the replay itself, so a gap, a record whose
CRC matches but which does not decode, a helper that dies, or a stop in the
middle of a chunk end the same way with or without it (the ``reader``
fixture runs each test both ways).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from exchange.engine import Deposit, encode_command, snapshot
from exchange.journal import JournalCorrupt, readahead, recover, recovery
from exchange.journal.readahead import ReadAhead
from exchange.journal.verify import verify
from exchange.store.base import checksum
from exchange.store.sqlite import SQLiteStore
from tests.journal.test_corruption import _journal, _lower_committed_end, _segment_of

pytestmark = pytest.mark.usefixtures("reader")


def _rewrite(store: SQLiteStore, seq: int, payload: bytes | None) -> Path:
    """Replace record ``seq``'s payload (with a matching CRC), or delete the record (None)."""
    path = store.segment_file(_segment_of(store, seq))
    conn = sqlite3.connect(path)
    if payload is None:
        conn.execute("DELETE FROM records WHERE seq = ?", (seq,))
    else:
        (ts,) = conn.execute("SELECT ts FROM records WHERE seq = ?", (seq,)).fetchone()
        conn.execute(
            "UPDATE records SET payload = ?, crc = ? WHERE seq = ?", (payload, checksum(seq, ts, payload), seq)
        )
    conn.commit()
    conn.close()
    return path


def test_the_same_state_as_applying_the_commands(
    tmp_path: Path, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _journal(tmp_path, 300, segment_records=40)
    engine = recovery.Engine(limits=recover(store).engine.limits)
    for record in (r for seg in store.segments() for chunk in store.read_records(seg) for r in chunk):
        engine.apply(recovery.decode_command(record[3]), record[1])
    chunks: list[int] = []
    next_chunk = ReadAhead.next

    def counting(self: ReadAhead, expected: int) -> readahead.Chunk | None:
        chunk = next_chunk(self, expected)
        if chunk is not None:
            chunks.append(len(chunk.ts))
        return chunk

    monkeypatch.setattr(ReadAhead, "next", counting)
    rebuilt = recover(store, use_checkpoint=False)
    assert rebuilt.replayed == 300
    assert snapshot(rebuilt.engine) == snapshot(engine)
    if reader == "helper":  # every record came checked from the helper, in chunks of at most 7
        assert sum(chunks) == 300 and max(chunks) == 7
    else:
        assert chunks == []


def test_a_gap_in_a_committed_segment_stops_the_start(tmp_path: Path) -> None:
    store = _journal(tmp_path)
    path = _rewrite(store, 73, None)
    with pytest.raises(JournalCorrupt) as info:
        recover(store)
    assert str(info.value) == (
        f"journal/{path.name}: committed record 73 is corrupted or missing "
        "(record 73 is missing (next stored is 74)); refusing to start without it"
    )


@pytest.mark.parametrize(
    "payload",
    [
        b"\x92\xa5order",  # a truncated value (would borrow from the next payload)
        encode_command(Deposit(1, cash=5)) + b"\x01",  # a whole command and a stray byte
        msgspec.msgpack.encode(["nope", 1]),  # well-formed msgpack, not a command
        b"\xc1",  # never used in msgpack
    ],
    ids=["truncated", "trailing", "not-a-command", "invalid"],
)
def test_an_undecodable_record_with_a_good_checksum_stops_the_start(tmp_path: Path, payload: bytes) -> None:
    store = _journal(tmp_path)
    path = _rewrite(store, 64, payload)
    with pytest.raises(JournalCorrupt) as info:
        recover(store)
    message = str(info.value)
    assert message.startswith(f"journal/{path.name}: committed record 64 is corrupted or missing (undecodable command")
    assert message.endswith("; refusing to start without it")


def test_an_undecodable_uncommitted_record_is_cut_off(tmp_path: Path) -> None:
    store = _journal(tmp_path)
    path = _rewrite(store, 112, b"\xc1")
    _lower_committed_end(store, store.segments()[-1], 110)
    lines: list[str] = []
    assert recover(store, report=lines.append).engine.seq == 111
    assert len(lines) == 1
    assert lines[0].startswith(f"journal/{path.name}: torn tail at seq 112 (undecodable command (")
    assert store.segments()[-1].last_seq == 111


def test_a_stop_inside_a_chunk(tmp_path: Path) -> None:
    store = _journal(tmp_path, 200, segment_records=60)
    engine = recover(store, use_checkpoint=False).engine
    partial = recovery.Engine(limits=engine.limits)
    assert recovery.replay(store, partial, until=95, repair=False) == (95, [])
    assert partial.seq == 95
    assert recovery.replay(store, partial, repair=False) == (105, [])
    assert snapshot(partial) == snapshot(engine)
    assert verify(store).ok


def test_a_helper_that_dies_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _journal(tmp_path, 200, segment_records=60)
    expected = snapshot(recover(store, use_checkpoint=False).engine)
    started: list[ReadAhead] = []

    def dying(*args: object, **kwargs: object) -> ReadAhead:
        helper = ReadAhead(*args, **kwargs)  # type: ignore[arg-type]
        helper._proc.kill()
        started.append(helper)
        return helper

    monkeypatch.setattr(recovery, "ReadAhead", dying)
    monkeypatch.setattr(recovery, "READAHEAD_MIN", 0)
    monkeypatch.setattr(readahead, "CHUNK", 7)
    assert snapshot(recover(store, use_checkpoint=False).engine) == expected
    assert len(started) == 1 and not started[0].alive
