"""Replay equivalence: stop, restart from the journal (with or without a checkpoint).

The rebuilt engine must have the same state and answer later commands with the same events.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.engine import Command, Engine, Event, snapshot
from exchange.journal import JournalConfig, recover
from exchange.ledger import Ledger
from exchange.store import Store
from exchange.store.sqlite import SQLiteStore
from tests.conftest import TEST_ROUNDS, StoreFactory
from tests.journal.streams import SETUP, streams

pytestmark = pytest.mark.usefixtures("reader")


def _run(engine: Engine, commands: list[Command], ts0: int) -> list[list[Event]]:
    return [engine.apply(c, ts0 + i) for i, c in enumerate(commands)]


def _check_restart(store: Store, before: list[Command], after: list[Command], config: JournalConfig) -> None:
    ledger = Ledger.open(store, config=config)
    for i, command in enumerate(SETUP + before):
        ledger.submit(command, ts=1_000 + i)
    reference = ledger.engine
    state = snapshot(reference)
    ledger.close(checkpoint=False)  # stop: the tail after the last checkpoint is in the journal only

    alone = recover(store, use_checkpoint=False)
    assert alone.checkpoint_seq == 0
    assert snapshot(alone.engine) == state

    checkpoints = store.checkpoints()
    with_checkpoint = Ledger.open(store, config=config)
    assert with_checkpoint.recovery.checkpoint_seq == (checkpoints[0].seq if checkpoints else 0)
    assert snapshot(with_checkpoint.engine) == state

    ts0 = 1_000_000
    expected = _run(reference, after, ts0)
    assert _run(alone.engine, after, ts0) == expected
    assert [with_checkpoint.submit(c, ts=ts0 + i)[1] for i, c in enumerate(after)] == expected
    with_checkpoint.close()
    final = snapshot(reference)
    assert snapshot(recover(store).engine) == final  # from the shutdown checkpoint
    assert snapshot(recover(store, use_checkpoint=False).engine) == final


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=streams, after=streams, every=st.integers(1, 40), segment=st.integers(1, 30))
def test_restart_reproduces_state_and_events_sqlite(
    before: list[Command], after: list[Command], every: int, segment: int
) -> None:
    config = JournalConfig(segment_records=segment, checkpoint_every=every, flush_interval=0.0005)
    with tempfile.TemporaryDirectory() as home:
        store = SQLiteStore(Path(home), bcrypt_rounds=TEST_ROUNDS)
        try:
            _check_restart(store, before, after, config)
        finally:
            store.close()


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(before=streams, after=streams, every=st.integers(1, 40))
def test_restart_reproduces_state_and_events_on_each_store(
    store_factory: StoreFactory, before: list[Command], after: list[Command], every: int
) -> None:
    store = store_factory()
    # a fresh journal per example: wipe what the previous example left
    for table in ("journal_segments", "checkpoints", "trades", "meta"):
        store._conn.execute(f"DELETE FROM {table}")  # type: ignore[attr-defined]
    if not isinstance(store, SQLiteStore):
        store._conn.execute("DELETE FROM journal_records")  # type: ignore[attr-defined]
    _check_restart(store, before, after, JournalConfig(segment_records=9, checkpoint_every=every))
