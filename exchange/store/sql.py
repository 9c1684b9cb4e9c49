"""What the SQLite and PostgreSQL stores share: one SQL implementation.

:class:`SQLStore` holds every store method whose logic is the same on both
backends (users, symbols, meta, the catalog listing, checkpoints, trades) and
:class:`SQLSink` the journal sink's checkpoint saving, written once with ``?``
placeholders against a small :class:`Dialect`: the placeholder the driver
wants, its unique-violation exception, how a transaction is run, how trades
are inserted and how a new row's id comes back. The backends keep only what
truly differs: connecting, where a segment's records live (files or a table)
and how a batch is written.

Schema changes: the tables are created with ``CREATE … IF NOT EXISTS`` in
their current layout, and :meth:`SQLStore._upgrade` adds what a database made
by an older version lacks (idempotently, in the transaction that creates the
tables), so an existing home or database opens as it is.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, Generic, Protocol, TypeVar

from exchange.auth import check_password
from exchange.store.base import (
    ROLES,
    ArchivedSegment,
    CheckpointInfo,
    NotFound,
    Role,
    Segment,
    StoreError,
    SymbolInfo,
    Trade,
    TradeBucket,
    TradeCandles,
    User,
    UserExists,
    hash_password,
)

__all__ = ["TRADE_COLUMNS", "Connection", "Cursor", "Dialect", "SQLSink", "SQLStore", "candles_query", "trade_rows"]

TRADE_COLUMNS: Final = (
    "trade_id, seq, ts, symbol, price, qty, side, maker_user, maker_order_id, taker_user, taker_order_id"
)

_CANDLES: Final = """
SELECT b.bucket, {open}, b.high, b.low, {close}, b.volume, b.n, b.last_id, b.last_ts
FROM (
    SELECT ts - (ts % ? + ?) % ? AS bucket, min(trade_id) AS first_id, max(trade_id) AS last_id,
        max(price) AS high, min(price) AS low, CAST(sum(qty) AS BIGINT) AS volume, count(*) AS n,
        max(ts) AS last_ts{extra}
    FROM trades WHERE symbol = ? AND ts >= ? AND ts <= ? AND +trade_id > ?
    GROUP BY 1
) AS b
ORDER BY b.bucket
"""


def candles_query(*, open_price: str, close_price: str, extra: str = "") -> str:
    """The query of :meth:`SQLStore.candles`, with a dialect's SQL for the open and close prices of
    a candle ``b`` (the prices of its lowest and highest ``trade_id``: ``b.first_id``, ``b.last_id``) and
    the ``extra`` aggregates they read, if any.

    One pass over the trades of the ``(symbol, ts)`` range groups them by interval
    (``ts - (ts % i + i) % i`` floors like Python's ``%``, which SQL's truncating
    ``%`` alone does not for negative ``ts``). ``+trade_id`` keeps SQLite's planner
    from scanning the primary key for ``trade_id > ?`` instead of the index range.
    """
    return _CANDLES.format(open=open_price, close=close_price, extra=extra)


_USER_COLUMNS: Final = "id, name, role, disabled, created, generation"
_ARCHIVE_COLUMNS: Final = "name, first_seq, last_seq, created, archived, file, size, sha256, source"


class Cursor(Protocol):
    """The part of a DB-API cursor the shared code uses (sqlite3 and psycopg)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchmany(self, size: int, /) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def close(self) -> None: ...


class Connection(Protocol):
    """The part of a connection the shared code uses (sqlite3 and psycopg)."""

    def execute(self, query: str, params: Sequence[Any], /) -> Cursor: ...

    def close(self) -> None: ...


C = TypeVar("C", bound=Connection)


class Dialect(ABC, Generic[C]):
    """What differs between the backends' SQL, for the shared methods.

    Shared queries are written with ``?`` placeholders; :meth:`sql` turns them
    into the driver's (so no shared query may hold a literal ``?``; a ``%``
    operator is escaped for drivers whose placeholders use ``%``).
    """

    placeholder: str = "?"
    """The driver's parameter placeholder."""

    unique_violation: type[Exception]
    """What the driver raises when an insert hits a UNIQUE or PRIMARY KEY constraint."""

    chunk: int
    """Rows fetched at a time when streaming a query's result."""

    candles: str = candles_query(
        open_price="(SELECT price FROM trades WHERE trade_id = b.first_id)",
        close_price="(SELECT price FROM trades WHERE trade_id = b.last_id)",
    )
    """The query of :meth:`SQLStore.candles`. By default the open and close are two primary-key
    lookups per candle (scalar subqueries: a join would let a planner that misjudges how few
    intervals there are hash the whole table)."""

    def sql(self, query: str) -> str:
        """``query`` with its ``?`` placeholders in the driver's style (and ``%`` doubled where that style uses it)."""
        if self.placeholder == "?":
            return query
        return (query.replace("%", "%%") if "%" in self.placeholder else query).replace("?", self.placeholder)

    def set_last_seq(self, conn: C, name: str, last_seq: int) -> None:
        """Record ``last_seq`` as segment ``name``'s committed end in the catalog."""
        conn.execute(self.sql("UPDATE journal_segments SET last_seq = ? WHERE name = ?"), (last_seq, name))

    @abstractmethod
    def transaction(self, conn: C) -> AbstractContextManager[object]:
        """Run the ``with`` block in one transaction on ``conn``: committed, or rolled back on error."""

    @abstractmethod
    def columns(self, conn: C, table: str) -> set[str]:
        """The names of ``table``'s columns."""

    @abstractmethod
    def insert_trades(self, conn: C, trades: Sequence[Trade]) -> None:
        """Insert ``trades`` (in the caller's transaction), leaving alone ones already stored."""

    @abstractmethod
    def insert_id(self, conn: C, query: str, params: Sequence[Any]) -> int:
        """Run the INSERT ``query`` (driver placeholders) and return the new row's ``id``."""


def trade_rows(trades: Sequence[Trade]) -> list[tuple[Any, ...]]:
    """The trades as rows of :data:`TRADE_COLUMNS`."""
    return [
        (
            t.trade_id, t.seq, t.ts, t.symbol, t.price, t.qty, t.side,
            t.maker_user, t.maker_order_id, t.taker_user, t.taker_order_id,
        )
        for t in trades
    ]  # fmt: skip


def _user(row: Any) -> User:
    return User(row[0], row[1], row[2], bool(row[3]), row[4], int(row[5]))


class SQLStore(Generic[C]):
    """The store methods both backends share, on the main connection ``_conn``.

    A subclass sets ``_dialect``, ``_conn``, ``bcrypt_rounds`` and ``description``
    and adds the journal methods that depend on where records live.
    """

    _dialect: Dialect[C]
    _conn: C
    bcrypt_rounds: int
    description: str

    def _execute(self, query: str, params: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(self._dialect.sql(query), params)

    def _outdated(self) -> bool:
        """Whether the database lacks something :meth:`_upgrade` adds."""
        return "generation" not in self._dialect.columns(self._conn, "users")

    def _upgrade(self) -> None:
        """Add what a database created by an older version lacks (in the caller's transaction).

        ``users.generation`` (token revocation) starts at 0 for every existing
        user. Tokens of the older version carried a number derived from the
        password hash instead, so they stop working: clients log in once with
        their passwords. That is deliberate: the older version never revoked
        tokens on a disable, so a token it issued may belong to a user who was
        disabled and enabled since.
        """
        if self._outdated():
            self._execute("ALTER TABLE users ADD COLUMN generation BIGINT NOT NULL DEFAULT 0")

    # ------------------------------------------------------------------ users

    def add_user(self, name: str, password: str, *, role: Role = "trader") -> User:
        """Create a user with a bcrypt-hashed password; the store assigns its id."""
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        pw_hash = hash_password(password, self.bcrypt_rounds)
        created = time.time_ns()
        query = "INSERT INTO users (name, pw_hash, role, disabled, created) VALUES (?, ?, ?, FALSE, ?)"
        try:
            user_id = self._dialect.insert_id(self._conn, self._dialect.sql(query), (name, pw_hash, role, created))
        except self._dialect.unique_violation as exc:
            raise UserExists(f"user {name!r} already exists") from exc
        return User(user_id, name, role, False, created, 0)

    def get_user(self, name: str) -> User | None:
        """The user called ``name``, if any."""
        row = self._execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        return _user(row) if row else None

    def user_by_id(self, user_id: int) -> User | None:
        """The user with this id, if any."""
        row = self._execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user(row) if row else None

    def users(self) -> list[User]:
        """All users by id."""
        return [_user(r) for r in self._execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY id")]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is right and the user is enabled, else None."""
        row = self._execute(f"SELECT {_USER_COLUMNS}, pw_hash FROM users WHERE name = ?", (name,)).fetchone()
        if row is None or row[3] or not check_password(password, row[6]):
            return None
        return _user(row)

    def credentials(self, name: str) -> tuple[User, str] | None:
        """The user called ``name`` and its stored bcrypt hash (for checks off the store's thread), if any."""
        row = self._execute(f"SELECT {_USER_COLUMNS}, pw_hash FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else (_user(row), str(row[6]))

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password; moves its ``generation``, which revokes its tokens."""
        pw_hash = hash_password(password, self.bcrypt_rounds)
        query = "UPDATE users SET pw_hash = ?, generation = generation + 1 WHERE name = ?"
        if self._execute(query, (pw_hash, name)).rowcount != 1:
            raise NotFound(f"no user {name!r}")

    def set_disabled(self, name: str, disabled: bool) -> User:
        """Disable or enable a user; moves its ``generation`` (revokes its tokens); returns it.

        Enabling moves it too, so a token issued before a disable never works again.
        """
        with self._dialect.transaction(self._conn):
            query = "UPDATE users SET disabled = ?, generation = generation + 1 WHERE name = ?"
            if self._execute(query, (disabled, name)).rowcount != 1:
                raise NotFound(f"no user {name!r}")
            user = self.get_user(name)
        assert user is not None
        return user

    # ---------------------------------------------------------------- symbols

    def add_symbol(self, symbol: str, *, tick: int = 1, lot: int = 1) -> SymbolInfo:
        """List a symbol."""
        info = SymbolInfo(symbol, tick, lot, time.time_ns())
        try:
            self._execute(
                "INSERT INTO symbols (symbol, tick, lot, created) VALUES (?, ?, ?, ?)",
                (symbol, tick, lot, info.created),
            )
        except self._dialect.unique_violation as exc:
            raise StoreError(f"symbol {symbol!r} is already listed") from exc
        return info

    def symbols(self) -> list[SymbolInfo]:
        """All listed symbols by name."""
        return [SymbolInfo(*r) for r in self._execute("SELECT symbol, tick, lot, created FROM symbols ORDER BY symbol")]

    # ------------------------------------------------------------------- meta

    def get_meta(self, key: str) -> str | None:
        """A stored configuration value."""
        row = self._execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a configuration value."""
        self._execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ---------------------------------------------------------------- journal

    def segments(self) -> list[Segment]:
        """The journal catalog, by ``first_seq``."""
        rows = self._execute("SELECT name, first_seq, last_seq, created FROM journal_segments ORDER BY first_seq")
        return [Segment(*r) for r in rows]

    def archived_segments(self) -> list[ArchivedSegment]:
        """Segments moved out of the live journal, by ``first_seq``."""
        rows = self._execute(f"SELECT {_ARCHIVE_COLUMNS} FROM journal_archive ORDER BY first_seq")
        return [ArchivedSegment(*r) for r in rows]

    def _move_to_archive(self, segment: Segment, entry: ArchivedSegment) -> None:
        """In the caller's transaction: ``segment``'s catalog row becomes the archive row ``entry``."""
        later = self._execute(
            "SELECT count(*) FROM journal_segments WHERE first_seq > ?", (segment.first_seq,)
        ).fetchone()
        gone = self._execute(
            "DELETE FROM journal_segments WHERE name = ? AND first_seq = ? AND last_seq = ?",
            (segment.name, segment.first_seq, segment.last_seq),
        ).rowcount
        if gone != 1:
            raise NotFound(
                f"journal segment {segment.name} (records {segment.first_seq}..{segment.last_seq}) "
                "is no longer in the live catalog"
            )
        if not later or not later[0]:
            raise StoreError(f"journal segment {segment.name} is the one being written; not archiving it")
        self._execute(
            f"INSERT INTO journal_archive ({_ARCHIVE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.name, entry.first_seq, entry.last_seq, entry.created, entry.archived, entry.file,
             entry.size, entry.sha256, entry.source),
        )  # fmt: skip

    def _take_from_archive(self, entry: ArchivedSegment) -> None:
        """In the caller's transaction: drop ``entry``'s archive row; it must end just before
        the live journal's first record (so the catalog stays contiguous)."""
        if self._execute("DELETE FROM journal_archive WHERE name = ?", (entry.name,)).rowcount != 1:
            raise NotFound(f"journal segment {entry.name} is not in the archive catalog")
        row = self._execute("SELECT min(first_seq) FROM journal_segments", ()).fetchone()
        first = row[0] if row else None
        if first is not None and first != entry.last_seq + 1:
            raise StoreError(
                f"archived records {entry.first_seq}..{entry.last_seq} do not end just before the live "
                f"journal's first record ({first}); restore the later archived segments first"
            )

    # ------------------------------------------------------------ checkpoints

    def checkpoints(self) -> list[CheckpointInfo]:
        """Stored checkpoints, newest first."""
        rows = self._execute("SELECT seq, created, size, crc FROM checkpoints ORDER BY seq DESC")
        return [CheckpointInfo(*r) for r in rows]

    def load_checkpoint(self, seq: int) -> bytes:
        """The stored bytes of the checkpoint as of ``seq``."""
        row = self._execute("SELECT data FROM checkpoints WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise NotFound(f"no checkpoint at seq {seq}")
        return bytes(row[0])

    def prune_checkpoints(self, keep: int) -> list[int]:
        """Delete all but the newest ``keep`` checkpoints; return the seqs deleted."""
        if keep < 1:
            raise StoreError("keep at least one checkpoint")
        doomed = [c.seq for c in self.checkpoints()[keep:]]
        for seq in doomed:
            self._execute("DELETE FROM checkpoints WHERE seq = ?", (seq,))
        return doomed

    # ----------------------------------------------------------------- trades

    def add_trades(self, trades: Sequence[Trade]) -> None:
        """Insert trades; ones already stored (same trade id) are left alone."""
        if trades:
            with self._dialect.transaction(self._conn):
                self._dialect.insert_trades(self._conn, trades)

    def trades(self, *, since: int | None = None, symbol: str | None = None) -> Iterator[Trade]:
        """Trades by id, optionally from ts ``since`` (ns) on and for one symbol."""
        query = f"SELECT {TRADE_COLUMNS} FROM trades WHERE ts >= ?"
        args: list[Any] = [since if since is not None else -(2**63)]
        if symbol is not None:
            query += " AND symbol = ?"
            args.append(symbol)
        with contextlib.closing(self._execute(query + " ORDER BY trade_id", args)) as cur:
            while rows := cur.fetchmany(self._dialect.chunk):
                for r in rows:
                    yield Trade(*r)

    def candles(
        self, symbol: str, interval_ns: int, *, since: int, until: int | None = None, after_id: int = 0
    ) -> TradeCandles:
        """``symbol``'s trades with ts in ``[since, until)`` and ``trade_id > after_id``, aggregated into
        candles of ``interval_ns`` aligned to the epoch by the database (intervals without trades left out).

        The database does the work, in one query (:attr:`Dialect.candles`): the drivers release the GIL while it
        runs, and only the candles (at most one per interval) come back to Python.
        """
        last = until - 1 if until is not None else 2**63 - 1  # ts <= last: no bound is no bound at all
        args = (interval_ns, interval_ns, interval_ns, symbol, since, last, after_id)
        with contextlib.closing(self._execute(self._dialect.candles, args)) as cur:
            rows = list(cur)
        return TradeCandles(
            buckets=[TradeBucket(*r[:7]) for r in rows],
            last_id=max((r[7] for r in rows), default=0),
            last_ts=max((r[8] for r in rows), default=None),
        )

    def user_trades(self, user: int, *, before: int | None = None, limit: int = 100) -> list[Trade]:
        """The newest ``limit`` trades ``user`` took part in (maker or taker), newest first, ids below ``before``."""
        # one index-ordered read per role (trades_maker, trades_taker), merged: no scan of the whole table
        side = f"SELECT {TRADE_COLUMNS} FROM trades WHERE {{}} = ? AND trade_id < ? ORDER BY trade_id DESC LIMIT ?"
        query = (f"SELECT * FROM ({side.format('maker_user')}) AS m UNION ALL "
                 f"SELECT * FROM ({side.format('taker_user')}) AS t WHERE maker_user <> ? "
                 "ORDER BY trade_id DESC LIMIT ?")
        below = before if before is not None else 2**63 - 1
        args = [user, below, limit, user, below, limit, user, limit]
        with contextlib.closing(self._execute(query, args)) as cur:
            return [Trade(*r) for r in cur]

    def close(self) -> None:
        """Close the main connection."""
        self._conn.close()


class SQLSink(Generic[C]):
    """The journal sink methods both backends share, on the main connection ``_main``."""

    _dialect: Dialect[C]
    _main: C

    def save_checkpoint(self, seq: int, data: bytes, *, keep: int) -> None:
        """Store a checkpoint as of ``seq``; keep only the newest ``keep``."""
        sql = self._dialect.sql
        with self._dialect.transaction(self._main):
            self._main.execute(
                sql(
                    "INSERT INTO checkpoints (seq, created, size, crc, data) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (seq) DO UPDATE SET created = excluded.created, size = excluded.size, "
                    "crc = excluded.crc, data = excluded.data"
                ),
                (seq, time.time_ns(), len(data), zlib.crc32(data), data),
            )
            self._main.execute(
                sql("DELETE FROM checkpoints WHERE seq NOT IN (SELECT seq FROM checkpoints ORDER BY seq DESC LIMIT ?)"),
                (max(keep, 1),),
            )
