"""Store capabilities: recovery asks what a store can do, not which class it is."""

from __future__ import annotations

from pathlib import Path

from exchange.store.base import Segment, segment_files
from exchange.store.sqlite import SQLiteStore


class _Delegating:
    """A store wrapper (e.g. one that logs): not an SQLiteStore, but keeps segments in files."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner

    def segment_file(self, segment: Segment) -> Path:
        return self.inner.segment_file(segment)


def test_sqlite_segments_are_files_a_helper_may_read(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    try:
        sink = store.open_sink()
        seg = sink.create_segment(1)
        sink.close()
        on_disk = segment_files(store)
        assert on_disk is not None
        assert on_disk.segment_file(seg).is_file()
        wrapped = segment_files(_Delegating(store))  # the capability, whoever provides it
        assert wrapped is not None and wrapped.segment_file(seg) == on_disk.segment_file(seg)
    finally:
        store.close()


def test_a_store_without_segment_files_has_no_such_capability() -> None:
    assert segment_files(object()) is None
