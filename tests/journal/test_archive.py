"""Journal archiving: ``exch journal archive``, ``restore`` and ``replay --archive`` on real files
and the real PostgreSQL server.

The journal under test: 100 records in segments of 20 and checkpoints at seqs
50, 75 and 100 (one per clean shutdown), so the oldest kept checkpoint allows
segments 1..20 and 21..40 to go and nothing else.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exchange.cli import app
from exchange.engine import NewOrder, snapshot
from exchange.journal import JournalArchived, JournalConfig, JournalCorrupt, recover
from exchange.journal.archive import ArchiveError, archive, check_file, read_header, restore
from exchange.journal.verify import verify
from exchange.ledger import Ledger
from exchange.store.base import Store
from exchange.store.sqlite import SQLiteStore
from tests.conftest import TEST_ROUNDS, StoreFactory
from tests.journal.streams import SETUP

CONFIG = JournalConfig(segment_records=20, checkpoint_every=10**9, keep_checkpoints=3)
runner = CliRunner()
pytestmark = pytest.mark.usefixtures("reader")  # in-process and read-ahead replays


def _order(seq: int) -> NewOrder:
    side = "buy" if seq % 2 else "sell"
    return NewOrder(1 + seq % 2, "AAA" if seq % 3 else "BBB", side, "limit", 100, 2)


def _trade_until(store: Store, last: int) -> dict[str, Any]:
    """One server session: trade up to seq ``last``, shut down cleanly (a checkpoint); the state."""
    with Ledger.open(store, config=CONFIG) as ledger:
        if ledger.seq == 0:
            for command in SETUP:
                ledger.submit(command, ts=1_700_000_000_000_000_000 + ledger.seq)
        while ledger.seq < last:
            ledger.submit(_order(ledger.seq + 1), ts=1_700_000_000_000_000_000 + ledger.seq)
        state = snapshot(ledger.engine)
    return state


def _journal(store: Store) -> dict[str, Any]:
    for last in (50, 75):
        _trade_until(store, last)
    state = _trade_until(store, 100)
    assert [c.seq for c in store.checkpoints()] == [100, 75, 50]
    assert [(s.first_seq, s.last_seq) for s in store.segments()] == [
        (1, 20), (21, 40), (41, 60), (61, 80), (81, 100),
    ]  # fmt: skip
    return state


def _ranges(items: Any) -> list[tuple[int, int]]:
    return [(s.first_seq, s.last_seq) for s in items]


def _one_line_error(result: Any) -> str:
    output = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return str(lines[0])


def _flip(path: Path, needle: bytes = b"AAA") -> None:
    data = bytearray(path.read_bytes())
    at = data.rfind(needle)
    assert at >= 0
    data[at] ^= 0x20
    path.write_bytes(bytes(data))


# ------------------------------------------------------------ both stores


def test_archive_moves_only_segments_before_the_oldest_checkpoint(store_factory: StoreFactory, tmp_path: Path) -> None:
    store = store_factory()
    state = _journal(store)
    dest = tmp_path / "archive"
    lines: list[str] = []
    result = archive(store, dest, report=lines.append)
    assert lines == []
    assert _ranges(m.segment for m in result.moved) == [(1, 20), (21, 40)]
    assert result.plan.boundary == 50 and result.records == 40 and result.freed > 0
    assert _ranges(store.segments()) == [(41, 60), (61, 80), (81, 100)]
    archived = store.archived_segments()
    assert _ranges(archived) == [(1, 20), (21, 40)]
    for entry, moved in zip(archived, result.moved, strict=True):
        assert Path(entry.file) == moved.file.resolve() and moved.file.name == f"{entry.name}.seg"
        assert len(entry.sha256) == 64 and entry.size == moved.file.stat().st_size
        assert check_file(moved.file, moved.segment).segment == moved.segment
    names = sorted(p.name for p in dest.iterdir())
    assert names == sorted([".exch-archive.lock", *(m.file.name for m in result.moved)])
    if isinstance(store, SQLiteStore):
        assert len(list((store.home / "journal").glob("*.seg*"))) == 3

    # a restart recovers from the checkpoints without the archived records, and keeps going
    assert snapshot(recover(store).engine) == state
    more = _trade_until(store_factory(), 110)
    assert snapshot(recover(store_factory()).engine) == more
    # the full history still verifies with the archive; without it, one clear error
    verdict = verify(store_factory(), archive=[dest])
    assert verdict.ok, verdict.message
    assert verdict.message == "OK: replayed records 1..110; the state at seq 110 equals the newest checkpoint"
    with pytest.raises(JournalArchived) as caught:
        verify(store_factory())
    assert str(caught.value) == (
        f"records 1..40 are archived in {dest.resolve()}, not in the live journal: pass --archive "
        f"{dest.resolve()} to exch replay, or put them back with exch journal restore --from {dest.resolve()}"
    )
    # the session to 110 pruned the checkpoint at 50: the oldest kept one is at 75, inside 61..80
    again = archive(store_factory(), dest)
    assert _ranges(m.segment for m in again.moved) == [(41, 60)]
    assert archive(store_factory(), dest).moved == []
    assert archive(store_factory(), dest).plan.reason == (
        "no complete segment ends at or before the oldest kept checkpoint (seq 75); "
        "the segment being written is never archived"
    )
    assert verify(store_factory(), archive=[dest]).ok


def test_archive_while_the_ledger_writes(store_factory: StoreFactory, tmp_path: Path) -> None:
    store = store_factory()
    _journal(store)
    dest = tmp_path / "archive"
    result: list[Any] = []
    with Ledger.open(store_factory(), config=CONFIG) as ledger:
        for _ in range(30):  # the writer is busy with its own segment
            ledger.submit(_order(ledger.seq + 1), ts=1_800_000_000_000_000_000 + ledger.seq)
        # another process's view: its own store, while the writer thread keeps committing
        archiver = threading.Thread(target=lambda: result.append(archive(store_factory(), dest)))
        archiver.start()
        while archiver.is_alive() or ledger.seq < 190:
            ledger.submit(_order(ledger.seq + 1), ts=1_800_000_000_000_000_000 + ledger.seq)
            time.sleep(0.0002)  # interleave with the archiver rather than race ahead
        archiver.join()
        ledger.writer.flush()
        state = snapshot(ledger.engine)
    assert _ranges(m.segment for m in result[0].moved) == [(1, 20), (21, 40)]
    fresh = store_factory()
    assert fresh.segments()[0].first_seq == 41 and fresh.segments()[-1].last_seq == state["seq"]
    assert snapshot(recover(fresh).engine) == state
    assert verify(fresh, archive=[dest]).ok


def test_restore_puts_archived_segments_back(store_factory: StoreFactory, tmp_path: Path) -> None:
    store = store_factory()
    state = _journal(store)
    dest = tmp_path / "archive"
    archive(store, dest)
    # every checkpoint damaged: recovery would need records 1..40, and says where they are
    assert restore(store, [tmp_path / "archive"]) != []
    assert _ranges(store.segments()) == [(1, 20), (21, 40), (41, 60), (61, 80), (81, 100)]
    assert store.archived_segments() == []
    assert snapshot(recover(store, use_checkpoint=False).engine) == state
    assert verify(store).ok
    assert list(dest.glob("*.seg")) != []  # the archive files are left in place
    assert restore(store, [dest]) == []


def test_a_damaged_archive_file_is_detected(store_factory: StoreFactory, tmp_path: Path) -> None:
    store = store_factory()
    _journal(store)
    dest = tmp_path / "archive"
    moved = archive(store, dest).moved
    _flip(moved[1].file)
    with pytest.raises(ArchiveError, match=r"SHA-256 differs from the one recorded when it was archived"):
        verify(store, archive=[dest])
    with pytest.raises(ArchiveError, match=r"SHA-256 differs"):
        restore(store, [dest])
    assert _ranges(store.segments()) == [(41, 60), (61, 80), (81, 100)]  # nothing restored
    with pytest.raises(ArchiveError, match=r"records 1\.\.40 are in no archive file in .*went to"):
        verify(store, archive=[tmp_path])


def test_recovery_with_every_checkpoint_damaged_says_where_the_records_went(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    store = store_factory()
    state = _journal(store)
    archive(store, tmp_path / "archive", keep_checkpoints=1)
    assert [c.seq for c in store.checkpoints()] == [100]
    assert _ranges(store.archived_segments())[-1] == (61, 80)  # the oldest kept checkpoint is now 100
    lines: list[str] = []
    with pytest.raises(JournalArchived, match=r"^records 1\.\.80 are archived in "):
        recover(store, use_checkpoint=False, report=lines.append)
    restore(store, [tmp_path / "archive"])
    assert snapshot(recover(store, use_checkpoint=False).engine) == state


# ---------------------------------------------------- crash safety (SQLite)


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A closed SQLite home with the journal described above, and its final state."""
    store = SQLiteStore(tmp_path / "home", bcrypt_rounds=TEST_ROUNDS)
    state = _journal(store)
    store.close()
    return tmp_path / "home", state


def test_an_interrupted_archive_is_finished_without_losing_a_copy(
    home: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, state = home
    dest = tmp_path / "archive"
    # crash after the copies were renamed into place, before the catalog moved: a copy of the
    # home taken before archiving is exactly that state once its twin has archived to `dest`
    shutil.copytree(root, tmp_path / "twin")
    twin = SQLiteStore(tmp_path / "twin")
    first, second = twin.segments()[:2]
    archive(twin, dest)
    twin.close()
    # ... and a crash in the middle of copying the second one: a partial file, and the final
    # name holding garbage
    partial = dest / f"{second.name}.seg.partial"
    partial.write_bytes(b"half a segment")
    (dest / f"{second.name}.seg").write_bytes(b"SQLite format 3\x00 torn")
    store = SQLiteStore(root)
    lines: list[str] = []
    result = archive(store, dest, report=lines.append)
    assert [m.reused for m in result.moved] == [True, False]
    assert lines == [
        f"{dest / first.name}.seg: complete copy left by an interrupted archive; checked, kept",
        f"{partial}: left by an interrupted archive; deleted",
        f"{dest / second.name}.seg: left by an interrupted archive and unusable ({dest / second.name}.seg: "
        "not a readable archive file (file is not a database)); copying again",
    ]
    assert not partial.exists()
    assert verify(store, archive=[dest]).ok
    assert snapshot(recover(store).engine) == state


def test_a_damaged_leftover_copy_is_made_again_and_a_leftover_live_file_is_deleted(
    home: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, _ = home
    dest = tmp_path / "archive"
    shutil.copytree(root, tmp_path / "twin")
    twin = SQLiteStore(tmp_path / "twin")
    archive(twin, dest)
    twin.close()
    store = SQLiteStore(root)
    first = store.segments()[0]
    _flip(dest / f"{first.name}.seg")  # the copy a crashed run left is damaged: its CRC says so
    live = store.segment_file(first)
    saved = live.read_bytes()
    lines: list[str] = []
    result = archive(store, dest, report=lines.append)
    assert [m.reused for m in result.moved] == [False, True]
    assert lines[0].endswith("checksum mismatch); copying again"), lines
    assert "record " in lines[0]
    # a crash between the catalog commit and the delete leaves the live file: the next run deletes it
    live.write_bytes(saved)
    lines.clear()
    again = archive(store, dest, report=lines.append)
    assert again.leftovers == [f"journal/{live.name}"] and not live.exists()
    assert lines == [f"journal/{live.name}: live copy of an archived segment left by an interrupted archive; deleted"]
    assert verify(store, archive=[dest]).ok


def test_without_its_catalog_row_an_archive_file_is_checked_record_by_record(
    home: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, state = home
    dest = tmp_path / "archive"
    store = SQLiteStore(root)
    moved = archive(store, dest).moved
    conn = sqlite3.connect(root / "exch.db")
    conn.execute("DELETE FROM journal_archive")  # e.g. the store came back from an older backup
    conn.commit()
    conn.close()
    assert verify(store, archive=[dest]).ok  # the files describe themselves
    with pytest.raises(JournalArchived, match=r"^records 1\.\.40 are not in the live journal .* no archive of them"):
        verify(store)
    _flip(moved[0].file)
    with pytest.raises(JournalCorrupt) as caught:
        verify(store, archive=[dest])
    assert str(caught.value).startswith(f"{moved[0].file}: committed record ")
    assert "(checksum mismatch)" in str(caught.value)
    assert snapshot(recover(store).engine) == state  # start-up never needed the archive


def test_a_damaged_live_record_is_not_archived(home: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    root, _ = home
    store = SQLiteStore(root)
    second = store.segments()[1]
    _flip(store.segment_file(second), b"BBB")
    with pytest.raises(ArchiveError, match=r"checksum mismatch in the live journal: not archiving it"):
        archive(store, tmp_path / "archive")
    assert _ranges(store.segments())[0] == (21, 40)  # the first went, the damaged one stayed
    assert not list((tmp_path / "archive").glob("*.partial"))


# ------------------------------------------------------------------- CLI


def test_cli_archive_info_replay_and_restore(home: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    root, _ = home
    dest = tmp_path / "archive"
    base = ["--home", str(root)]
    dry = runner.invoke(app, ["journal", "archive", "--to", str(dest), "--dry-run", *base])
    assert dry.exit_code == 0, dry.output
    assert dry.output.count("would archive journal/") == 2 and not dest.exists()
    done = runner.invoke(app, ["journal", "archive", "--to", str(dest), *base])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].startswith("archived journal/") and ": records 1..20 (20 records, " in lines[0]
    assert lines[1].startswith("archived journal/") and f"-> {dest}/" in lines[1]
    assert lines[2].startswith(f"archived 2 segments to {dest}: records 1..40 (40 records), ")
    assert lines[2].endswith("freed; the live journal starts at seq 41 (oldest kept checkpoint: seq 50)")
    assert len(lines) == 3
    info = runner.invoke(app, ["journal", "info", *base])
    assert info.exit_code == 0, info.output
    assert "archived segments" in info.output
    assert "archived: records 1..40 in 2 segments" in info.output and str(dest.resolve()) in info.output

    line = _one_line_error(runner.invoke(app, ["replay", "--verify", *base]))
    assert line.startswith(f"exch: error: records 1..40 are archived in {dest.resolve()}, not in the live journal")
    ok = runner.invoke(app, ["replay", "--verify", "--archive", str(dest), *base])
    assert ok.exit_code == 0, ok.output
    assert "OK: replayed records 1..100; the state at seq 100 equals the newest checkpoint" in ok.output

    nothing = runner.invoke(app, ["journal", "archive", "--to", str(dest), *base])
    assert nothing.exit_code == 0 and nothing.output.startswith("nothing to archive: no complete segment")
    more = runner.invoke(app, ["journal", "archive", "--to", str(dest), "--keep-checkpoints", "1", *base])
    assert more.exit_code == 0, more.output
    assert more.output.splitlines()[0] == "deleted checkpoints at seq 75, 50 (--keep-checkpoints)"
    assert "records 41..80 (40 records)" in more.output

    back = runner.invoke(app, ["journal", "restore", "--from", str(dest), *base])
    assert back.exit_code == 0, back.output
    assert back.output.count("restored ") == 5
    assert "the live journal holds records 1..100 again" in back.output
    assert runner.invoke(app, ["replay", "--verify", *base]).exit_code == 0


def test_cli_archive_errors_are_one_line(home: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    root, _ = home
    base = ["--home", str(root)]
    line = _one_line_error(runner.invoke(app, ["journal", "archive", "--to", str(root / "journal" / "old"), *base]))
    assert line == f"exch: error: the archive directory must be outside the live journal ({root / 'journal'})"
    (tmp_path / "file").write_text("x")
    line = _one_line_error(runner.invoke(app, ["journal", "archive", "--to", str(tmp_path / "file"), *base]))
    assert line == f"exch: error: {tmp_path / 'file'} is not a directory"
    assert runner.invoke(app, ["journal", "archive", "--to", str(tmp_path / "a"), *base]).exit_code == 0
    missing = tmp_path / "nowhere"
    line = _one_line_error(runner.invoke(app, ["replay", "--archive", str(missing), *base]))
    assert line == f"exch: error: archive directory {missing} does not exist"
    line = _one_line_error(runner.invoke(app, ["journal", "restore", "--from", str(tmp_path), *base]))
    assert line.startswith("exch: error: archived segment ") and f"is not in {tmp_path}" in line
    result = runner.invoke(app, ["journal", "archive", "--to", str(tmp_path / "a"), "--keep-checkpoints", "0", *base])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_an_archive_file_is_self_describing(home: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    root, _ = home
    store = SQLiteStore(root)
    moved = archive(store, tmp_path / "archive").moved[0]
    header = read_header(moved.file)
    assert header.segment == moved.segment and header.source == moved.source
    conn = sqlite3.connect(moved.file)
    assert conn.execute("SELECT format, version, records FROM segment").fetchone() == ("exch-journal-segment", 1, 20)
    assert conn.execute("SELECT min(seq), max(seq), count(*) FROM records").fetchone() == (1, 20, 20)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()
