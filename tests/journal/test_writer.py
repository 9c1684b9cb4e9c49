"""The writer's contract: durability notifications, checkpoint ordering, fail-stop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from exchange.engine import Deposit, NewOrder
from exchange.journal import DurableGate, JournalConfig, JournalError
from exchange.ledger import Ledger
from exchange.store.sqlite import SQLiteStore
from tests.conftest import TEST_ROUNDS, StoreFactory
from tests.journal.streams import SETUP


def test_commit_listeners_see_every_seq_become_durable(store_factory: StoreFactory) -> None:
    store = store_factory()
    seen: list[int] = []
    done = threading.Event()
    with Ledger.open(store, config=JournalConfig(flush_records=10)) as ledger:
        ledger.writer.add_listener(lambda seq: (seen.append(seq), seq >= 100 and done.set()))
        for i in range(100):
            seq, _events = ledger.submit(Deposit(1, cash=1))
            assert seq == i + 1
        assert done.wait(10)
        assert ledger.writer.wait(100, timeout=10)
        assert ledger.durable_seq == 100
    assert seen == sorted(seen) and seen[-1] == 100


def test_a_reject_waits_for_the_seq_it_was_based_on(store_factory: StoreFactory) -> None:
    with Ledger.open(store_factory()) as ledger:
        ledger.submit(Deposit(1, cash=5))
        seq, events = ledger.submit(NewOrder(1, "NOPE", "buy", "limit", 1, 1))
        assert type(events[0]).__name__ == "Reject"
        assert seq == ledger.seq == 1
        assert ledger.writer.appended_seq == 1


async def test_durable_gate_releases_waiters_on_the_loop(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, bcrypt_rounds=TEST_ROUNDS)
    ledger = Ledger.open(store, config=JournalConfig(flush_interval=0.001))
    gate = DurableGate(ledger.writer)
    seqs = [ledger.submit(c)[0] for c in SETUP]
    await asyncio.wait_for(asyncio.gather(*(gate.wait(s) for s in seqs)), 10)
    assert gate.durable_seq >= seqs[-1]
    await gate.wait(1)  # already durable: returns at once
    ledger.close()
    store.close()


def test_checkpoints_are_taken_every_n_and_pruned(store_factory: StoreFactory) -> None:
    store = store_factory()
    config = JournalConfig(checkpoint_every=10, keep_checkpoints=2)
    with Ledger.open(store, config=config) as ledger:
        for _ in range(35):
            seq, _events = ledger.submit(Deposit(1, cash=1))
            if seq % 10 == 0:  # requests coalesce while the writer is busy: let each one land
                deadline = time.monotonic() + 10
                while ledger.writer.checkpoint_seq < seq and time.monotonic() < deadline:
                    time.sleep(0.001)
                assert ledger.writer.checkpoint_seq == seq
    assert [c.seq for c in store.checkpoints()] == [35, 30]  # 35 from the clean shutdown


def test_a_failed_commit_stops_the_ledger(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, bcrypt_rounds=TEST_ROUNDS)
    errors: list[BaseException] = []
    ledger = Ledger.open(store, config=JournalConfig(flush_interval=0.0))
    ledger.writer.add_listener(lambda seq: None, errors.append)
    ledger.submit(Deposit(1, cash=1))
    ledger.writer.flush(timeout=10)
    segment = store.segments()[0]
    conn = sqlite3.connect(store.segment_file(segment))
    conn.execute("DROP TABLE records")
    conn.commit()
    conn.close()
    ledger.submit(Deposit(1, cash=1))
    with pytest.raises(JournalError, match="no such table"):
        ledger.writer.flush(timeout=10)
    assert errors and "no such table" in str(errors[0])
    with pytest.raises(JournalError):
        ledger.submit(Deposit(1, cash=1))
    with pytest.raises(JournalError):
        ledger.close()
    store.close()


def test_a_record_reaching_an_idle_writer_is_committed_at_once(store_factory: StoreFactory) -> None:
    """Group commit without a fixed delay: a lone order is not held for ``flush_interval``;
    records arriving within the interval of the last commit wait and go together."""
    commits: list[int] = []
    with Ledger.open(store_factory(), config=JournalConfig(flush_interval=60.0)) as ledger:
        ledger.writer.add_listener(commits.append)
        first, _ = ledger.submit(Deposit(1, cash=1))
        assert ledger.writer.wait(first, timeout=20)  # not 60 s later
        later = [ledger.submit(Deposit(1, cash=1))[0] for _ in range(3)]
        assert not ledger.writer.wait(later[-1], timeout=0.2)  # within the interval: they wait...
    assert commits == [first, later[-1]]  # ...and go in one commit (here: the clean close's)
