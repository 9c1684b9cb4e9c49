"""The default store: SQLite files in the data directory.

``exch.db`` holds users, symbols, meta values, the journal catalog,
checkpoints and trades; each journal segment is its own SQLite file
``journal/<random hex>.seg`` with one table ``records``. Every file is in WAL
mode with ``synchronous=NORMAL`` (an acknowledged record survives ``kill -9``),
or ``FULL`` when the sink is opened with ``fsync=True`` (it also survives power
loss). The file names mean nothing: the catalog says which file holds what.

The journal writer's connections never checkpoint the WAL themselves
(``wal_autocheckpoint = 0``): SQLite's automatic checkpoint runs inside the
commit that crosses 1,000 pages and stalled it for ~5 ms, holding back every
reply waiting on that commit. A :class:`WalCheckpointer` thread runs passive
checkpoints of ``exch.db`` and the open segment from connections of its own
instead (a passive checkpoint never waits for, nor blocks, the writer), and
``journal_size_limit`` trims a WAL file back when it restarts.

The methods the PostgreSQL store shares are in :mod:`exchange.store.sql`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from exchange.files import fsync_path
from exchange.paths import db_path, journal_dir
from exchange.store.base import (
    DEFAULT_BCRYPT_ROUNDS,
    ArchivedSegment,
    NotFound,
    Record,
    Segment,
    SegmentUnreadable,
    StoreError,
    Trade,
)
from exchange.store.sql import TRADE_COLUMNS, Dialect, SQLSink, SQLStore, trade_rows

log = logging.getLogger("exch.store")

__all__ = ["SQLiteSink", "SQLiteStore"]

_MAIN_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    pw_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('trader', 'admin')),
    disabled INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS symbols (
    symbol TEXT PRIMARY KEY, tick INTEGER NOT NULL, lot INTEGER NOT NULL, created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_segments (
    name TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    first_seq INTEGER NOT NULL UNIQUE,
    last_seq INTEGER NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_archive (
    name TEXT PRIMARY KEY,
    first_seq INTEGER NOT NULL UNIQUE,
    last_seq INTEGER NOT NULL,
    created INTEGER NOT NULL,
    archived INTEGER NOT NULL,
    file TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY, created INTEGER NOT NULL, size INTEGER NOT NULL,
    crc INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS trades (
    trade_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
    symbol TEXT NOT NULL, price INTEGER NOT NULL, qty INTEGER NOT NULL, side TEXT NOT NULL,
    maker_user INTEGER NOT NULL, maker_order_id INTEGER NOT NULL,
    taker_user INTEGER NOT NULL, taker_order_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_ts ON trades (ts);
CREATE INDEX IF NOT EXISTS trades_symbol_ts ON trades (symbol, ts);
CREATE INDEX IF NOT EXISTS trades_maker ON trades (maker_user, trade_id);
CREATE INDEX IF NOT EXISTS trades_taker ON trades (taker_user, trade_id);
"""

_SEGMENT_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, crc INTEGER NOT NULL, payload BLOB NOT NULL
);
"""


def _connect(path: Path, *, fsync: bool = False, create: bool = True) -> sqlite3.Connection:
    uri = f"file:{path}?mode={'rwc' if create else 'rw'}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {'FULL' if fsync else 'NORMAL'}")
    return conn


WAL_CHECKPOINT_INTERVAL = 0.25
"""Seconds between the checkpointer's passive checkpoints."""
WAL_SIZE_LIMIT = 64 * 1024 * 1024
"""``journal_size_limit``: a WAL file is cut back to this when it restarts."""


def _writer_connect(path: Path, *, fsync: bool, create: bool = True) -> sqlite3.Connection:
    """A connection of the journal writer: no automatic checkpoints in its commits."""
    conn = _connect(path, fsync=fsync, create=create)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    return conn


class WalCheckpointer:
    """A thread that checkpoints the writer's WAL files (``exch.db`` and the open segment) off its path.

    Args:
        main: the path of ``exch.db``.
        interval: seconds between rounds.
    """

    def __init__(self, main: Path, *, interval: float = WAL_CHECKPOINT_INTERVAL) -> None:
        self.main = main
        self.interval = interval
        self.segment: Path | None = None
        """The segment file the writer appends to (set by the sink; read by the thread)."""
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exch-wal-checkpoint", daemon=True)

    def start(self) -> None:
        """Start checkpointing every ``interval`` seconds."""
        self._thread.start()

    def close(self) -> None:
        """Stop after a last round (the files' WALs are then as small as the writer left them)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        conns: dict[Path, sqlite3.Connection] = {}
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                wanted = [self.main] + ([self.segment] if self.segment is not None else [])
                for path in [p for p in conns if p not in wanted]:  # the writer moved to a new segment
                    _checkpoint(conns.pop(path), close=True)
                for path in wanted:
                    conn = conns.get(path)
                    if conn is None:
                        try:
                            conn = conns[path] = _connect(path, create=False)
                        except sqlite3.Error as exc:
                            log.warning("WAL checkpoint: cannot open %s: %s", path, exc)
                            continue
                    _checkpoint(conn)
                self.rounds += 1
                if stopping:
                    return
        finally:
            for conn in conns.values():
                _checkpoint(conn, close=True)


def _checkpoint(conn: sqlite3.Connection, *, close: bool = False) -> None:
    """One passive checkpoint (never waits for the writer); failures are logged, the next round retries."""
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:
        log.warning("WAL checkpoint failed: %s", exc)
    finally:
        if close:
            conn.close()


def _unlink_segment(path: Path) -> bool:
    """Delete a segment file and its WAL/shm (durably); whether anything was there."""
    found = False
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            found = True
    if found:
        fsync_path(path.parent)
    return found


_MAX_VARIABLES: Final = 32_766  # SQLITE_MAX_VARIABLE_NUMBER since 3.32


def _insert_many(conn: sqlite3.Connection, head: str, width: int, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` with multi-row ``VALUES`` statements.

    ``executemany`` steps once per row, and CPython's sqlite3 releases the GIL
    around every step: with the engine thread busy, each re-acquisition waits
    up to the switch interval (5 ms). A few statements of thousands of rows
    each need only a few.
    """
    per = _MAX_VARIABLES // width
    one = "(" + ",".join("?" * width) + ")"
    for i in range(0, len(rows), per):
        chunk = rows[i : i + per]
        conn.execute(head + ",".join([one] * len(chunk)), [v for row in chunk for v in row])


class _SQLiteDialect(Dialect[sqlite3.Connection]):
    """``?`` placeholders, explicit ``BEGIN IMMEDIATE`` on autocommit connections, multi-row inserts."""

    unique_violation = sqlite3.IntegrityError
    chunk = 8_192

    @contextlib.contextmanager
    def transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE: take the write lock up front (waiting up to busy_timeout). A deferred
        # transaction that reads first (archiving checks the catalog, then moves the row) and
        # only then writes fails at once with "database is locked" if another connection
        # (the journal writer) committed in between: WAL cannot upgrade a stale snapshot.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def columns(self, conn: sqlite3.Connection, table: str) -> set[str]:
        return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}

    def insert_trades(self, conn: sqlite3.Connection, trades: Sequence[Trade]) -> None:
        _insert_many(conn, f"INSERT OR IGNORE INTO trades ({TRADE_COLUMNS}) VALUES ", 11, trade_rows(trades))

    def insert_id(self, conn: sqlite3.Connection, query: str, params: Sequence[Any]) -> int:
        # lastrowid rather than RETURNING, which needs SQLite 3.35
        rowid = conn.execute(query, params).lastrowid
        assert rowid is not None
        return rowid


_SQLITE: Final = _SQLiteDialect()


class SQLiteStore(SQLStore[sqlite3.Connection]):
    """The SQLite store under ``home`` (created if missing).

    Args:
        home: the data directory.
        bcrypt_rounds: bcrypt cost for new password hashes.
    """

    _dialect = _SQLITE

    def __init__(self, home: Path, *, bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS) -> None:
        self.home = home
        self.bcrypt_rounds = bcrypt_rounds
        self.description = f"sqlite:{db_path(home)}"
        self.commits_locally = True
        try:
            journal_dir(home).mkdir(parents=True, exist_ok=True)
            self._conn = _connect(db_path(home))
            self._conn.executescript(_MAIN_SCHEMA)
            if self._outdated():  # only then take the write lock
                with self._dialect.transaction(self._conn):
                    self._upgrade()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store in {home}: {exc}") from exc

    # ---------------------------------------------------------------- journal

    def segment_file(self, segment: Segment) -> Path:
        """The file that holds ``segment`` (from the catalog)."""
        return self.home / _segment_file(self._conn, segment)

    def segment_location(self, segment: Segment) -> str:
        """The segment's file, relative to the data directory."""
        return str(self.segment_file(segment).relative_to(self.home))

    def segment_size(self, segment: Segment) -> int:
        """Bytes of the segment's file and its WAL."""
        path = self.segment_file(segment)
        total = 0
        for p in (path, path.with_name(path.name + "-wal")):
            with contextlib.suppress(FileNotFoundError):
                total += p.stat().st_size
        return total

    def read_records(self, segment: Segment, *, after: int = 0) -> Iterator[Sequence[Record]]:
        """Chunks of the segment's stored records with ``seq > after``, by seq."""
        path = self.segment_file(segment)
        if not path.exists():
            raise SegmentUnreadable("file is missing")
        try:
            conn = _connect(path, create=False)
        except sqlite3.Error as exc:
            raise SegmentUnreadable(str(exc)) from exc
        try:
            cur = conn.execute("SELECT seq, ts, crc, payload FROM records WHERE seq > ? ORDER BY seq", (after,))
            while True:
                rows = cur.fetchmany(self._dialect.chunk)
                if not rows:
                    return
                yield rows
        except sqlite3.DatabaseError as exc:
            raise SegmentUnreadable(str(exc)) from exc
        finally:
            conn.close()

    def set_segment_end(self, segment: Segment, last_seq: int) -> None:
        """Delete the segment's stored records after ``last_seq``; record it as the end."""
        path = self.segment_file(segment)
        try:
            conn = _connect(path, create=False)
            try:
                conn.execute("DELETE FROM records WHERE seq > ?", (last_seq,))
            finally:
                conn.close()
        except sqlite3.Error as exc:
            where = path.relative_to(self.home)
            raise StoreError(f"cannot cut {where} back to seq {last_seq}: {exc}") from exc
        self._dialect.set_last_seq(self._conn, segment.name, last_seq)

    def open_sink(self, *, fsync: bool = False) -> SQLiteSink:
        """A handle for the journal writer thread, with its own connections."""
        return SQLiteSink(self.home, fsync=fsync)

    # ---------------------------------------------------------------- archive

    @contextlib.contextmanager
    def _durable(self) -> Iterator[None]:
        """Commits in the block reach the disk (``synchronous=FULL``) before it ends."""
        self._conn.execute("PRAGMA synchronous = FULL")
        try:
            yield
        finally:
            self._conn.execute("PRAGMA synchronous = NORMAL")

    def archive_segment(self, segment: Segment, entry: ArchivedSegment) -> None:
        """Move the catalog row to ``journal_archive`` (durably), then delete the segment's file."""
        path = self.segment_file(segment)
        with self._durable(), self._dialect.transaction(self._conn):
            self._move_to_archive(segment, entry)
        _unlink_segment(path)

    def drop_archived_leftovers(self) -> list[str]:
        """Delete segment files of archived segments that a crash left in ``journal/``."""
        live = {str(row[0]) for row in self._conn.execute("SELECT file FROM journal_segments")}
        dropped = []
        for entry in self.archived_segments():
            if entry.source not in live and _unlink_segment(self.home / entry.source):
                dropped.append(entry.source)
        return dropped

    def restore_segment(self, entry: ArchivedSegment, chunks: Iterable[Sequence[Record]]) -> Segment:
        """Write the records to ``journal/<name>.seg`` (fsynced), then move the catalog row back."""
        file = f"{journal_dir(Path('.'))}/{entry.name}.seg"
        path = self.home / file
        tmp = path.with_name(path.name + ".restoring")
        _unlink_segment(tmp)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA synchronous = FULL")
                conn.executescript(_SEGMENT_SCHEMA)
                with self._dialect.transaction(conn):
                    for chunk in chunks:
                        _insert_many(conn, "INSERT INTO records (seq, ts, crc, payload) VALUES ", 4, chunk)
            finally:
                conn.close()
            os.replace(tmp, path)
            fsync_path(path.parent)
        except (OSError, sqlite3.Error) as exc:
            _unlink_segment(tmp)
            raise StoreError(f"cannot write {file}: {exc}") from exc
        except BaseException:
            _unlink_segment(tmp)
            raise
        segment = Segment(entry.name, entry.first_seq, entry.last_seq, entry.created)
        try:
            with self._durable(), self._dialect.transaction(self._conn):
                self._take_from_archive(entry)
                self._conn.execute(
                    "INSERT INTO journal_segments (name, file, first_seq, last_seq, created) VALUES (?, ?, ?, ?, ?)",
                    (entry.name, file, entry.first_seq, entry.last_seq, entry.created),
                )
        except BaseException:
            _unlink_segment(path)
            raise
        return segment


def _segment_file(main: sqlite3.Connection, segment: Segment) -> str:
    """The catalog's file of ``segment``, relative to the data directory."""
    row = main.execute("SELECT file FROM journal_segments WHERE name = ?", (segment.name,)).fetchone()
    if row is None:
        raise NotFound(f"no journal segment {segment.name!r} in the catalog")
    return str(row[0])


class SQLiteSink(SQLSink[sqlite3.Connection]):
    """The journal writer's connections: the main database and the open segment."""

    _dialect = _SQLITE

    def __init__(self, home: Path, *, fsync: bool = False) -> None:
        self.home = home
        self.fsync = fsync
        self._main = _writer_connect(db_path(home), fsync=fsync)
        self._seg_name: str | None = None
        self._seg: sqlite3.Connection | None = None
        self.checkpointer = WalCheckpointer(db_path(home))
        self.checkpointer.start()

    def _segment_conn(self, segment: Segment) -> sqlite3.Connection:
        if self._seg_name != segment.name or self._seg is None:
            if self._seg is not None:
                self._seg.close()
            path = self.home / _segment_file(self._main, segment)
            self._seg = _writer_connect(path, fsync=self.fsync, create=False)
            self._seg_name = segment.name
            self.checkpointer.segment = path
        return self._seg

    def create_segment(self, first_seq: int) -> Segment:
        """Create a new segment file, then add it to the catalog."""
        name = uuid.uuid4().hex
        file = f"{journal_dir(Path('.'))}/{name}.seg"
        conn = _connect(self.home / file, fsync=self.fsync)
        conn.executescript(_SEGMENT_SCHEMA)
        conn.close()
        segment = Segment(name, first_seq, first_seq - 1, time.time_ns())
        self._main.execute(
            "INSERT INTO journal_segments (name, file, first_seq, last_seq, created) VALUES (?, ?, ?, ?, ?)",
            (name, file, first_seq, segment.last_seq, segment.created),
        )
        return segment

    def write(self, segment: Segment, records: Sequence[Record], trades: Sequence[Trade]) -> Segment:
        """Commit ``records`` to the segment file, then its catalog end and ``trades``."""
        conn = self._segment_conn(segment)
        with self._dialect.transaction(conn):
            _insert_many(conn, "INSERT INTO records (seq, ts, crc, payload) VALUES ", 4, records)
        last = records[-1][0]
        with self._dialect.transaction(self._main):
            self._dialect.set_last_seq(self._main, segment.name, last)
            if trades:
                self._dialect.insert_trades(self._main, trades)
        return Segment(segment.name, segment.first_seq, last, segment.created)

    def close(self) -> None:
        """Stop the checkpointer, close both connections."""
        self.checkpointer.close()
        if self._seg is not None:
            self._seg.close()
            self._seg = None
        self._main.close()
