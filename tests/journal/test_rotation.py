"""Segment rotation: many small segments, and the real 100,000-record default."""

from __future__ import annotations

from pathlib import Path

from exchange.engine import Deposit, snapshot
from exchange.journal import JournalConfig, recover
from exchange.ledger import Ledger
from exchange.store.sqlite import SQLiteStore
from tests.conftest import TEST_ROUNDS, StoreFactory


def test_a_stream_crosses_several_small_segments(store_factory: StoreFactory) -> None:
    store = store_factory()
    config = JournalConfig(segment_records=50, flush_records=7, checkpoint_every=10_000)
    with Ledger.open(store, config=config) as ledger:
        for i in range(1, 231):
            ledger.submit(Deposit(1 + i % 5, cash=i), ts=i)
        ledger.writer.flush()
        state = snapshot(ledger.engine)
    segments = store.segments()
    assert [(s.first_seq, s.last_seq) for s in segments] == [
        (1, 50), (51, 100), (101, 150), (151, 200), (201, 230),
    ]  # fmt: skip
    assert len({s.name for s in segments}) == 5
    assert snapshot(recover(store, use_checkpoint=False).engine) == state
    with Ledger.open(store, config=config) as ledger:  # the next start continues the last segment
        for i in range(231, 261):
            ledger.submit(Deposit(1, cash=i), ts=i)
    assert [(s.first_seq, s.last_seq) for s in store_factory().segments()][-2:] == [(201, 250), (251, 260)]


def test_the_default_segment_holds_100_000_records(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, bcrypt_rounds=TEST_ROUNDS)
    config = JournalConfig(checkpoint_every=10**9)
    assert config.segment_records == 100_000
    with Ledger.open(store, config=config) as ledger:
        submit = ledger.submit
        for i in range(1, 100_011):
            submit(Deposit(1, cash=1), ts=i)
    assert [(s.first_seq, s.last_seq) for s in store.segments()] == [(1, 100_000), (100_001, 100_010)]
    assert len(list((tmp_path / "journal").glob("*.seg"))) == 2
    engine = recover(store, use_checkpoint=False).engine
    assert engine.seq == 100_010
    assert engine.accounts[1].cash == 100_010
    store.close()
