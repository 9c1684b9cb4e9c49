"""One suite for every store: SQLite files and a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.store import ArchivedSegment, NotFound, Store, StoreError, Trade, UserExists, checksum
from exchange.store.base import Record
from exchange.store.sqlite import SQLiteStore
from tests.conftest import TEST_ROUNDS, StoreFactory


def _records(first: int, last: int) -> list[Record]:
    out: list[Record] = []
    for seq in range(first, last + 1):
        payload = f"cmd-{seq}".encode()
        out.append((seq, seq * 10, checksum(seq, seq * 10, payload), payload))
    return out


def _trade(trade_id: int, *, ts: int, symbol: str = "ACME") -> Trade:
    return Trade(
        trade_id, trade_id, ts, symbol, 100 + trade_id, 5, "sell", 1, 10 + trade_id, 2, 20 + trade_id
    )


def _read_all(store: Store, after: int = 0) -> list[Record]:
    out: list[Record] = []
    for seg in store.segments():
        for chunk in store.read_records(seg, after=after):
            out.extend(tuple(r) for r in chunk)  # type: ignore[misc]
    return out


# ------------------------------------------------------------------- users


def test_users_get_ids_from_the_store_and_hashes_are_bcrypt(store: Store) -> None:
    alice = store.add_user("alice", "pw-alice")
    bob = store.add_user("bob", "pw-bob", role="admin")
    assert alice.id != bob.id
    assert (alice.name, alice.role, alice.disabled) == ("alice", "trader", False)
    assert alice.created > 0
    assert store.get_user("bob") == bob
    assert store.user_by_id(alice.id) == alice
    assert store.users() == [alice, bob]
    assert store.get_user("carol") is None
    assert store.user_by_id(999) is None


def test_duplicate_user_and_bad_role_are_refused(store: Store) -> None:
    store.add_user("alice", "x")
    with pytest.raises(UserExists, match="alice"):
        store.add_user("alice", "y")
    with pytest.raises(StoreError, match="role"):
        store.add_user("bob", "y", role="root")  # type: ignore[arg-type]


def test_authenticate_checks_password_and_disabled_flag(store: Store) -> None:
    user = store.add_user("alice", "secret")
    assert store.authenticate("alice", "secret") == user
    assert store.authenticate("alice", "wrong") is None
    assert store.authenticate("nobody", "secret") is None
    store.set_disabled("alice", True)
    assert store.get_user("alice").disabled  # type: ignore[union-attr]
    assert store.authenticate("alice", "secret") is None
    store.set_disabled("alice", False)
    store.set_password("alice", "new")
    assert store.authenticate("alice", "secret") is None
    assert store.authenticate("alice", "new") is not None
    with pytest.raises(NotFound):
        store.set_disabled("nobody", True)
    with pytest.raises(NotFound):
        store.set_password("nobody", "x")


def test_bcrypt_cost_is_configurable_and_defaults_to_12(store: Store, tmp_path: object) -> None:
    from pathlib import Path

    store.add_user("alice", "pw")
    assert f"$2b$0{TEST_ROUNDS}$" in _hash_of(store, "alice")
    default = SQLiteStore(Path(str(tmp_path)) / "default-cost")
    try:
        default.add_user("bob", "pw")
        assert "$2b$12$" in _hash_of(default, "bob")
    finally:
        default.close()


def _hash_of(store: Store, name: str) -> str:
    found = store.credentials(name)
    assert found is not None
    return found[1]


def test_password_hash_is_bcrypt_of_the_password(store: Store) -> None:
    import bcrypt

    store.add_user("alice", "pw")
    assert bcrypt.checkpw(b"pw", _hash_of(store, "alice").encode())
    assert store.credentials("nobody") is None


# ----------------------------------------------------------- symbols, meta


def test_symbols_and_meta(store: Store) -> None:
    store.add_symbol("ZED", tick=5, lot=10)
    store.add_symbol("ACME")
    assert [(s.symbol, s.tick, s.lot) for s in store.symbols()] == [("ACME", 1, 1), ("ZED", 5, 10)]
    with pytest.raises(StoreError, match="ACME"):
        store.add_symbol("ACME")
    assert store.get_meta("k") is None
    store.set_meta("k", "1")
    store.set_meta("k", "2")
    assert store.get_meta("k") == "2"


# ------------------------------------------------------------------ journal


def test_sink_writes_segments_and_the_catalog_tracks_ranges(store: Store) -> None:
    sink = store.open_sink()
    try:
        seg = sink.create_segment(1)
        assert (seg.first_seq, seg.last_seq, seg.count) == (1, 0, 0)
        seg = sink.write(seg, _records(1, 3), [_trade(1, ts=10)])
        seg = sink.write(seg, _records(4, 5), [])
        seg2 = sink.create_segment(6)
        sink.write(seg2, _records(6, 9), [_trade(2, ts=60), _trade(3, ts=90, symbol="ZED")])
    finally:
        sink.close()
    segments = store.segments()
    assert [(s.first_seq, s.last_seq) for s in segments] == [(1, 5), (6, 9)]
    assert segments[0].name != segments[1].name
    assert all(store.segment_size(s) > 0 for s in segments)
    assert segments[0].name in store.segment_location(segments[0])
    assert _read_all(store) == _records(1, 9)
    assert [r[0] for r in _read_all(store, after=7)] == [8, 9]
    assert [t.trade_id for t in store.trades()] == [1, 2, 3]


def test_set_segment_end_cuts_stored_records(store: Store) -> None:
    sink = store.open_sink()
    try:
        seg = sink.write(sink.create_segment(1), _records(1, 6), [])
    finally:
        sink.close()
    store.set_segment_end(seg, 4)
    assert [(s.first_seq, s.last_seq) for s in store.segments()] == [(1, 4)]
    assert _read_all(store) == _records(1, 4)


def test_a_sink_refuses_a_seq_twice(store: Store) -> None:
    sink = store.open_sink()
    try:
        seg = sink.write(sink.create_segment(1), _records(1, 2), [])
        with pytest.raises(Exception):  # noqa: B017 - the backends raise their own IntegrityError
            sink.write(seg, _records(2, 3), [])
    finally:
        sink.close()
    assert _read_all(store) == _records(1, 2)


def test_archive_catalog_moves_segments_out_and_back(store: Store) -> None:
    sink = store.open_sink()
    try:
        first = sink.write(sink.create_segment(1), _records(1, 3), [])
        second = sink.write(sink.create_segment(4), _records(4, 6), [])
    finally:
        sink.close()
    entry = ArchivedSegment(first.name, 1, 3, first.created, 99, "/archive/x.seg", 123, "ab" * 32, "somewhere")
    with pytest.raises(StoreError, match="the one being written"):
        store.archive_segment(second, entry)
    store.archive_segment(first, entry)
    assert [(s.first_seq, s.last_seq) for s in store.segments()] == [(4, 6)]
    assert store.archived_segments() == [entry] and entry.count == 3
    assert _read_all(store) == _records(4, 6)
    assert store.drop_archived_leftovers() == []
    with pytest.raises(NotFound):
        store.archive_segment(first, entry)
    restored = store.restore_segment(entry, [_records(1, 3)])
    assert restored == first
    assert store.archived_segments() == []
    assert _read_all(store) == _records(1, 6)
    with pytest.raises(NotFound):
        store.restore_segment(entry, [_records(1, 3)])


def test_restore_refuses_a_gap_before_the_live_journal(store: Store) -> None:
    sink = store.open_sink()
    try:
        segments = [sink.write(sink.create_segment(n), _records(n, n + 1), []) for n in (1, 3, 5)]
    finally:
        sink.close()
    entries = [ArchivedSegment(s.name, s.first_seq, s.last_seq, s.created, 1, "f", 1, "0", "s") for s in segments]
    store.archive_segment(segments[0], entries[0])
    store.archive_segment(segments[1], entries[1])
    with pytest.raises(StoreError, match="restore the later archived segments first"):
        store.restore_segment(entries[0], [_records(1, 2)])
    assert [(s.first_seq, s.last_seq) for s in store.segments()] == [(5, 6)]
    store.restore_segment(entries[1], [_records(3, 4)])
    store.restore_segment(entries[0], [_records(1, 2)])
    assert _read_all(store) == _records(1, 6)


# -------------------------------------------------------------- checkpoints


def test_checkpoints_are_saved_loaded_and_pruned(store: Store) -> None:
    sink = store.open_sink()
    try:
        for seq in (10, 20, 30, 40):
            sink.save_checkpoint(seq, f"state-{seq}".encode(), keep=3)
    finally:
        sink.close()
    infos = store.checkpoints()
    assert [c.seq for c in infos] == [40, 30, 20]
    assert infos[0].size == len(b"state-40")
    assert store.load_checkpoint(30) == b"state-30"
    with pytest.raises(NotFound):
        store.load_checkpoint(10)
    assert store.prune_checkpoints(1) == [30, 20]
    assert [c.seq for c in store.checkpoints()] == [40]


# ------------------------------------------------------------------- trades


def test_trades_filter_by_time_and_symbol_and_ignore_repeats(store: Store) -> None:
    trades = [_trade(1, ts=100), _trade(2, ts=200, symbol="ZED"), _trade(3, ts=300)]
    store.add_trades(trades)
    store.add_trades(trades[1:])
    assert list(store.trades()) == trades
    assert [t.trade_id for t in store.trades(since=200)] == [2, 3]
    assert [t.trade_id for t in store.trades(symbol="ACME")] == [1, 3]
    assert [t.trade_id for t in store.trades(since=150, symbol="ACME")] == [3]


def test_user_trades_pages_newest_first_over_both_roles(store: Store) -> None:
    def between(trade_id: int, maker: int, taker: int) -> Trade:
        return Trade(trade_id, trade_id, trade_id, "ACME", 100, 1, "sell", maker, trade_id, taker, trade_id)

    store.add_trades([between(i, maker=1 + i % 3, taker=1 + (i + 1) % 3) for i in range(1, 31)])
    mine = [i for i in range(30, 0, -1) if 1 in (1 + i % 3, 1 + (i + 1) % 3)]  # user 1 makes or takes
    assert [t.trade_id for t in store.user_trades(1, limit=100)] == mine
    assert [t.trade_id for t in store.user_trades(1, limit=5)] == mine[:5]
    assert [t.trade_id for t in store.user_trades(1, before=mine[4], limit=5)] == mine[5:10]
    assert store.user_trades(4) == [] and store.user_trades(1, before=1) == []


def test_user_trades_reads_by_index_not_by_scanning_every_trade(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    try:
        ran: list[str] = []
        store._conn.set_trace_callback(ran.append)  # the statement as run, values bound
        store.user_trades(1, before=9, limit=5)
        store._conn.set_trace_callback(None)
        (query,) = [q for q in ran if "FROM trades" in q]
        plan = " ".join(row[-1] for row in store._conn.execute("EXPLAIN QUERY PLAN " + query))
        assert "trades_maker" in plan and "trades_taker" in plan and "SCAN trades" not in plan, plan
    finally:
        store.close()


def test_a_second_connection_sees_committed_data(store_factory: StoreFactory) -> None:
    first = store_factory()
    first.add_user("alice", "pw")
    sink = first.open_sink()
    try:
        sink.write(sink.create_segment(1), _records(1, 2), [])
    finally:
        sink.close()
    second = store_factory()
    assert [u.name for u in second.users()] == ["alice"]
    assert _read_all(second) == _records(1, 2)
