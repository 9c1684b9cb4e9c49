"""The default store: SQLite files in the data directory.

``exch.db`` holds users, symbols, meta values, the journal catalog,
checkpoints and trades; each journal segment is its own SQLite file
``journal/<random hex>.seg`` with one table ``records``. Every file is in WAL
mode with ``synchronous=NORMAL`` (an acknowledged record survives ``kill -9``),
or ``FULL`` when the sink is opened with ``fsync=True`` (it also survives power
loss). The file names mean nothing: the catalog says which file holds what.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from exchange.paths import db_path, journal_dir
from exchange.store.base import (
    DEFAULT_BCRYPT_ROUNDS,
    ROLES,
    CheckpointInfo,
    NotFound,
    Record,
    Role,
    Segment,
    SegmentUnreadable,
    StoreError,
    SymbolInfo,
    Trade,
    User,
    UserExists,
    check_password,
    hash_password,
)

__all__ = ["SQLiteSink", "SQLiteStore"]

_CHUNK: Final = 8_192

_MAIN_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    pw_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('trader', 'admin')),
    disabled INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
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
"""

_SEGMENT_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, crc INTEGER NOT NULL, payload BLOB NOT NULL
);
"""

_TRADE_COLUMNS: Final = (
    "trade_id, seq, ts, symbol, price, qty, side, maker_user, maker_order_id, taker_user, taker_order_id"
)


def _connect(path: Path, *, fsync: bool = False, create: bool = True) -> sqlite3.Connection:
    uri = f"file:{path}?mode={'rwc' if create else 'rw'}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {'FULL' if fsync else 'NORMAL'}")
    return conn


def _user(row: Any) -> User:
    return User(row[0], row[1], row[2], bool(row[3]), row[4])


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


def _insert_trades(conn: sqlite3.Connection, trades: Sequence[Trade]) -> None:
    _insert_many(
        conn,
        f"INSERT OR IGNORE INTO trades ({_TRADE_COLUMNS}) VALUES ",
        11,
        [
            (
                t.trade_id, t.seq, t.ts, t.symbol, t.price, t.qty, t.side,
                t.maker_user, t.maker_order_id, t.taker_user, t.taker_order_id,
            )
            for t in trades
        ],
    )  # fmt: skip


class SQLiteStore:
    """The SQLite store under ``home`` (created if missing).

    Args:
        home: the data directory.
        bcrypt_rounds: bcrypt cost for new password hashes.
    """

    def __init__(self, home: Path, *, bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS) -> None:
        self.home = home
        self.bcrypt_rounds = bcrypt_rounds
        self.description = f"sqlite:{db_path(home)}"
        try:
            journal_dir(home).mkdir(parents=True, exist_ok=True)
            self._conn = _connect(db_path(home))
            self._conn.executescript(_MAIN_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store in {home}: {exc}") from exc

    # ------------------------------------------------------------------ users

    def add_user(self, name: str, password: str, *, role: Role = "trader") -> User:
        """Create a user with a bcrypt-hashed password; the store assigns its id."""
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        pw_hash = hash_password(password, self.bcrypt_rounds)
        created = time.time_ns()
        try:
            cur = self._conn.execute(
                "INSERT INTO users (name, pw_hash, role, disabled, created) VALUES (?, ?, ?, 0, ?)",
                (name, pw_hash, role, created),
            )
        except sqlite3.IntegrityError as exc:
            raise UserExists(f"user {name!r} already exists") from exc
        assert cur.lastrowid is not None
        return User(cur.lastrowid, name, role, False, created)

    def get_user(self, name: str) -> User | None:
        """The user called ``name``, if any."""
        row = self._conn.execute(
            "SELECT id, name, role, disabled, created FROM users WHERE name = ?", (name,)
        ).fetchone()
        return _user(row) if row else None

    def user_by_id(self, user_id: int) -> User | None:
        """The user with this id, if any."""
        row = self._conn.execute(
            "SELECT id, name, role, disabled, created FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        return _user(row) if row else None

    def users(self) -> list[User]:
        """All users by id."""
        rows = self._conn.execute("SELECT id, name, role, disabled, created FROM users ORDER BY id")
        return [_user(r) for r in rows]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is right and the user is enabled, else None."""
        row = self._conn.execute(
            "SELECT id, name, role, disabled, created, pw_hash FROM users WHERE name = ?", (name,)
        ).fetchone()
        if row is None or row[3] or not check_password(password, row[5]):
            return None
        return _user(row)

    def password_hash(self, name: str) -> str | None:
        """The stored bcrypt hash of ``name`` (for checks off the store's thread), if any."""
        row = self._conn.execute("SELECT pw_hash FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password."""
        pw_hash = hash_password(password, self.bcrypt_rounds)
        if self._conn.execute("UPDATE users SET pw_hash = ? WHERE name = ?", (pw_hash, name)).rowcount != 1:
            raise NotFound(f"no user {name!r}")

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable or enable a user."""
        cur = self._conn.execute("UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name))
        if cur.rowcount != 1:
            raise NotFound(f"no user {name!r}")

    # ---------------------------------------------------------------- symbols

    def add_symbol(self, symbol: str, *, tick: int = 1, lot: int = 1) -> SymbolInfo:
        """List a symbol."""
        info = SymbolInfo(symbol, tick, lot, time.time_ns())
        try:
            self._conn.execute(
                "INSERT INTO symbols (symbol, tick, lot, created) VALUES (?, ?, ?, ?)",
                (symbol, tick, lot, info.created),
            )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"symbol {symbol!r} is already listed") from exc
        return info

    def symbols(self) -> list[SymbolInfo]:
        """All listed symbols by name."""
        rows = self._conn.execute("SELECT symbol, tick, lot, created FROM symbols ORDER BY symbol")
        return [SymbolInfo(*r) for r in rows]

    # ------------------------------------------------------------------- meta

    def get_meta(self, key: str) -> str | None:
        """A stored configuration value."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a configuration value."""
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ---------------------------------------------------------------- journal

    def segments(self) -> list[Segment]:
        """The journal catalog, by ``first_seq``."""
        rows = self._conn.execute(
            "SELECT name, first_seq, last_seq, created FROM journal_segments ORDER BY first_seq"
        )
        return [Segment(*r) for r in rows]

    def segment_file(self, segment: Segment) -> Path:
        """The file that holds ``segment`` (from the catalog)."""
        row = self._conn.execute(
            "SELECT file FROM journal_segments WHERE name = ?", (segment.name,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no journal segment {segment.name!r} in the catalog")
        return self.home / str(row[0])

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
            cur = conn.execute(
                "SELECT seq, ts, crc, payload FROM records WHERE seq > ? ORDER BY seq", (after,)
            )
            while True:
                rows = cur.fetchmany(_CHUNK)
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
        self._conn.execute(
            "UPDATE journal_segments SET last_seq = ? WHERE name = ?", (last_seq, segment.name)
        )

    def open_sink(self, *, fsync: bool = False) -> SQLiteSink:
        """A handle for the journal writer thread, with its own connections."""
        return SQLiteSink(self.home, fsync=fsync)

    # ------------------------------------------------------------ checkpoints

    def checkpoints(self) -> list[CheckpointInfo]:
        """Stored checkpoints, newest first."""
        rows = self._conn.execute("SELECT seq, created, size, crc FROM checkpoints ORDER BY seq DESC")
        return [CheckpointInfo(*r) for r in rows]

    def load_checkpoint(self, seq: int) -> bytes:
        """The stored bytes of the checkpoint as of ``seq``."""
        row = self._conn.execute("SELECT data FROM checkpoints WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise NotFound(f"no checkpoint at seq {seq}")
        return bytes(row[0])

    # ----------------------------------------------------------------- trades

    def add_trades(self, trades: Sequence[Trade]) -> None:
        """Insert trades; ones already stored (same trade id) are left alone."""
        self._conn.execute("BEGIN")
        _insert_trades(self._conn, trades)
        self._conn.execute("COMMIT")

    def trades(self, *, since: int | None = None, symbol: str | None = None) -> Iterator[Trade]:
        """Trades by id, optionally from ts ``since`` (ns) on and for one symbol."""
        sql = f"SELECT {_TRADE_COLUMNS} FROM trades WHERE ts >= ?"
        args: list[Any] = [since if since is not None else -(2**63)]
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        cur = self._conn.execute(sql + " ORDER BY trade_id", args)
        while rows := cur.fetchmany(_CHUNK):
            for r in rows:
                yield Trade(*r)

    def close(self) -> None:
        """Close the main connection."""
        self._conn.close()


class SQLiteSink:
    """The journal writer's connections: the main database and the open segment."""

    def __init__(self, home: Path, *, fsync: bool = False) -> None:
        self.home = home
        self.fsync = fsync
        self._main = _connect(db_path(home), fsync=fsync)
        self._seg_name: str | None = None
        self._seg: sqlite3.Connection | None = None

    def _segment_conn(self, segment: Segment) -> sqlite3.Connection:
        if self._seg_name != segment.name or self._seg is None:
            if self._seg is not None:
                self._seg.close()
            row = self._main.execute(
                "SELECT file FROM journal_segments WHERE name = ?", (segment.name,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no journal segment {segment.name!r} in the catalog")
            self._seg = _connect(self.home / row[0], fsync=self.fsync, create=False)
            self._seg_name = segment.name
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
        conn.execute("BEGIN")
        try:
            _insert_many(conn, "INSERT INTO records (seq, ts, crc, payload) VALUES ", 4, records)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        last = records[-1][0]
        main = self._main
        main.execute("BEGIN")
        try:
            main.execute("UPDATE journal_segments SET last_seq = ? WHERE name = ?", (last, segment.name))
            if trades:
                _insert_trades(main, trades)
            main.execute("COMMIT")
        except BaseException:
            main.execute("ROLLBACK")
            raise
        return Segment(segment.name, segment.first_seq, last, segment.created)

    def save_checkpoint(self, seq: int, data: bytes, *, keep: int) -> None:
        """Store a checkpoint as of ``seq``; keep only the newest ``keep``."""
        main = self._main
        main.execute("BEGIN")
        try:
            main.execute(
                "INSERT OR REPLACE INTO checkpoints (seq, created, size, crc, data) VALUES (?, ?, ?, ?, ?)",
                (seq, time.time_ns(), len(data), zlib.crc32(data), data),
            )
            main.execute(
                "DELETE FROM checkpoints WHERE seq NOT IN "
                "(SELECT seq FROM checkpoints ORDER BY seq DESC LIMIT ?)",
                (max(keep, 1),),
            )
            main.execute("COMMIT")
        except BaseException:
            main.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close both connections."""
        if self._seg is not None:
            self._seg.close()
            self._seg = None
        self._main.close()
