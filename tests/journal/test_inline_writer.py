"""The journal writer's inline mode: commits on the event loop, once per loop turn.

The server uses it where a commit is a local write (SQLite without ``--fsync``):
no writer thread, so no wake-up of another thread per commit on either side.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from exchange.engine import Deposit
from exchange.journal import JournalConfig, JournalError
from exchange.ledger import Ledger
from exchange.server import inline_journal
from exchange.store.base import Store
from exchange.store.sqlite import SQLiteStore
from tests.conftest import TEST_ROUNDS, StoreFactory

INLINE = JournalConfig(inline=True)


def _seqs(store: Store) -> list[int]:
    return [record[0] for segment in store.segments() for batch in store.read_records(segment) for record in batch]


def _journal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "exch-journal"]


async def test_everything_appended_in_one_loop_turn_is_one_commit_on_the_loop(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, bcrypt_rounds=TEST_ROUNDS)
    before = _journal_threads()
    ledger = Ledger.open(store, config=INLINE)
    try:
        assert _journal_threads() == before  # no writer thread in inline mode
        loop = asyncio.get_running_loop()
        commits: list[tuple[int, bool]] = []
        ledger.writer.schedule_with(loop.call_soon)
        on_loop = threading.current_thread()
        ledger.writer.add_listener(lambda seq: commits.append((seq, threading.current_thread() is on_loop)))
        seqs = [ledger.submit(Deposit(1, cash=1))[0] for _ in range(5)]
        assert ledger.durable_seq == 0 and commits == []  # nothing is committed inside the turn
        await asyncio.sleep(0)
        assert commits == [(seqs[-1], True)]  # one commit for the turn, on the loop's thread
        assert ledger.durable_seq == 5
        more = ledger.submit(Deposit(1, cash=1))[0]
        await asyncio.sleep(0)
        assert commits[-1] == (more, True) and len(commits) == 2
        assert _seqs(store) == [1, 2, 3, 4, 5, 6]
    finally:
        ledger.close()
        store.close()


def test_without_a_scheduler_records_wait_for_wait_or_close(store_factory: StoreFactory) -> None:
    store = store_factory()
    with Ledger.open(store, config=INLINE) as ledger:
        first, _ = ledger.submit(Deposit(1, cash=1))
        assert ledger.durable_seq == 0
        assert ledger.writer.wait(first, timeout=0)  # wait commits what is pending, on the caller's thread
        assert ledger.durable_seq == first
        last, _ = ledger.submit(Deposit(1, cash=1))
    assert _seqs(store) == [first, last]  # the clean close committed the rest


def test_inline_checkpoints_are_saved_after_the_records_they_reflect(store_factory: StoreFactory) -> None:
    store = store_factory()
    config = JournalConfig(inline=True, checkpoint_every=10, keep_checkpoints=5)
    with Ledger.open(store, config=config) as ledger:
        for _ in range(25):
            seq, _ = ledger.submit(Deposit(1, cash=1))
            ledger.writer.commit_pending()  # one loop turn per command
            assert ledger.durable_seq == seq
        assert ledger.writer.checkpoint_seq == 20
    assert [c.seq for c in store.checkpoints()] == [25, 20, 10]


def test_an_inline_commit_that_fails_stops_the_ledger_and_tells_the_listeners(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, bcrypt_rounds=TEST_ROUNDS)
    errors: list[BaseException] = []
    ledger = Ledger.open(store, config=INLINE)
    ledger.writer.add_listener(lambda seq: None, errors.append)
    ledger.submit(Deposit(1, cash=1))
    ledger.writer.commit_pending()
    conn = sqlite3.connect(store.segment_file(store.segments()[0]))
    conn.execute("DROP TABLE records")
    conn.commit()
    conn.close()
    ledger.submit(Deposit(1, cash=1))
    ledger.writer.commit_pending()  # reports, never raises into the loop
    assert errors and "no such table" in str(errors[0])
    assert ledger.durable_seq == 1
    with pytest.raises(JournalError):
        ledger.submit(Deposit(1, cash=1))
    with pytest.raises(JournalError):
        ledger.close()
    store.close()


def test_the_server_commits_inline_only_where_a_commit_is_a_local_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(tmp_path, bcrypt_rounds=TEST_ROUNDS)
    try:
        monkeypatch.delenv("EXCH_JOURNAL_THREAD", raising=False)
        assert inline_journal(store, JournalConfig())
        assert not inline_journal(store, JournalConfig(fsync=True))  # a commit waits for the disk
        monkeypatch.setenv("EXCH_JOURNAL_THREAD", "1")
        assert not inline_journal(store, JournalConfig())
    finally:
        store.close()


def test_a_listener_that_raises_is_logged_and_does_not_stop_the_journal(
    store_factory: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Inline, the release of replies runs inside the commit: a bug there must not fail the journal."""
    store = store_factory()
    seen: list[int] = []

    def broken(seq: int) -> None:
        seen.append(seq)
        if seq == 1:
            raise RuntimeError("a delivery bug")

    errors: list[BaseException] = []
    with Ledger.open(store, config=INLINE) as ledger:
        ledger.writer.add_listener(broken, errors.append)
        ledger.submit(Deposit(1, cash=1))
        with caplog.at_level("ERROR", logger="exch.journal"):
            ledger.writer.commit_pending()
        assert ledger.durable_seq == 1 and ledger.writer.error is None and errors == []
        assert "a journal commit listener failed (seq 1)" in caplog.text
        ledger.submit(Deposit(1, cash=1))
        ledger.writer.commit_pending()
        assert seen == [1, 2] and ledger.durable_seq == 2
    assert _seqs(store) == [1, 2]
