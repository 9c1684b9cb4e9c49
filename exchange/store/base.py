"""The storage interface: one small protocol, two implementations.

``Store`` is everything the exchange keeps outside the engine's memory: users
(bcrypt hashes, role, disabled flag, created time, token generation), listed symbols, the
journal (a catalog of segments and their records), checkpoints of the engine's
state, trades, and a few ``meta`` values. :class:`~exchange.store.sqlite.SQLiteStore`
(the default, files under ``$EXCH_HOME``) and
:class:`~exchange.store.postgres.PostgresStore` implement it and pass one test
suite.

A store object is used from one thread. The journal writer thread gets its own
:class:`JournalSink` from :meth:`Store.open_sink`, with its own connections.

Errors::

    StoreError              anything the store refuses or cannot do
    ├── UserExists          add_user with a name already taken
    ├── NotFound            a named user, segment or checkpoint does not exist
    └── SegmentUnreadable   a segment's storage is damaged beyond reading
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol, runtime_checkable

import msgspec

from exchange import auth

__all__ = [
    "DEFAULT_BCRYPT_ROUNDS",
    "RECORD_HEADER",
    "ROLES",
    "ArchivedSegment",
    "CheckpointInfo",
    "CheckpointStore",
    "JournalSink",
    "JournalStore",
    "NotFound",
    "Record",
    "Role",
    "Segment",
    "SegmentFiles",
    "SegmentUnreadable",
    "Store",
    "StoreError",
    "SymbolInfo",
    "SymbolStore",
    "Trade",
    "TradeBucket",
    "TradeCandles",
    "TradeStore",
    "User",
    "UserExists",
    "UserStore",
    "checksum",
    "hash_password",
    "segment_files",
]

Role = Literal["trader", "admin"]
ROLES: Final = ("trader", "admin")
DEFAULT_BCRYPT_ROUNDS: Final = 12

Record = tuple[int, int, int, bytes]
"""One journal record as stored: ``(seq, ts, crc, payload)``.

``payload`` is the command as msgpack (``encode_command``), ``ts`` its
timestamp in ns, ``crc`` the :func:`checksum` of the other three.
"""

RECORD_HEADER: Final = struct.Struct("<qq")
"""The checksummed header of a record: seq and ts, little-endian int64."""


def checksum(seq: int, ts: int, payload: bytes) -> int:
    """CRC-32 of ``seq`` and ``ts`` (little-endian int64 each) followed by ``payload``."""
    return zlib.crc32(payload, zlib.crc32(RECORD_HEADER.pack(seq, ts)))


class StoreError(Exception):
    """The store refused or could not do something; the message says what."""


class UserExists(StoreError):
    """A user with this name already exists."""


class NotFound(StoreError):
    """The named user, segment or checkpoint does not exist."""


class SegmentUnreadable(StoreError):
    """A segment's storage cannot be read past some point (damaged file)."""


@dataclass(frozen=True, slots=True)
class User:
    """A user account. ``id`` is the integer the engine's commands carry."""

    id: int
    name: str
    role: Role
    disabled: bool
    created: int  # ns since the epoch
    generation: int = 0
    """Goes up whenever the user is disabled, enabled or gets a new password.

    Reconnect tokens carry the generation they were issued at and work only
    while it is still the user's: moving it revokes every earlier token."""


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """A listed symbol with its price step (tick) and quantity step (lot)."""

    symbol: str
    tick: int
    lot: int
    created: int


@dataclass(frozen=True, slots=True)
class Segment:
    """A catalog row: segment ``name`` holds records ``first_seq..last_seq``.

    ``last_seq`` is the last *committed* record (``first_seq - 1`` while
    empty); only records up to it were ever acknowledged.
    """

    name: str
    first_seq: int
    last_seq: int
    created: int

    @property
    def count(self) -> int:
        """Committed records in the segment."""
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True, slots=True)
class ArchivedSegment:
    """A segment moved out of the live journal into an archive file (``exch journal archive``).

    The row the catalog keeps for it (table ``journal_archive``): which records,
    where the file was written, its size and SHA-256, and where it lived.
    """

    name: str
    first_seq: int
    last_seq: int
    created: int  # ns, when the live segment was created
    archived: int  # ns, when it was moved out
    file: str
    """The archive file's absolute path when it was written."""
    size: int
    sha256: str
    """Hex SHA-256 of the archive file's bytes."""
    source: str
    """Where the segment lived (``segment_location``), for messages and leftover clean-up."""

    @property
    def count(self) -> int:
        """Records in the segment."""
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """A stored checkpoint: the engine's state as of journal record ``seq``."""

    seq: int
    created: int
    size: int
    crc: int


class Trade(msgspec.Struct, frozen=True, gc=False):
    """One trade, from an engine ``Match`` event; ``side`` is the maker's side.

    A struct rather than a frozen dataclass: one is built per trade on the
    order path, and a struct builds ten times faster.
    """

    trade_id: int
    seq: int
    ts: int
    symbol: str
    price: int
    qty: int
    side: str
    maker_user: int
    maker_order_id: int
    taker_user: int
    taker_order_id: int


class TradeBucket(msgspec.Struct, frozen=True, gc=False):
    """One interval's trades of a symbol, aggregated by the database (a candle).

    ``ts`` is the interval's start (``trade.ts`` floored to a multiple of the
    interval); ``open`` and ``close`` are the prices of its lowest and highest
    ``trade_id`` (trade order, whatever the timestamps say).
    """

    ts: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int


class TradeCandles(msgspec.Struct, frozen=True, gc=False):
    """What :meth:`TradeStore.candles` returns: the non-empty buckets, oldest first, and the newest trade
    aggregated (``last_id``, ``last_ts``: the highest ``trade_id`` and ``ts`` seen, 0 and None if none)."""

    buckets: list[TradeBucket]
    last_id: int = 0
    last_ts: int | None = None


def hash_password(password: str, rounds: int) -> str:
    """The bcrypt hash of ``password`` at cost ``rounds``, as stored (text)."""
    return auth.hash_password(password, rounds=rounds).decode()


class JournalSink(Protocol):
    """The journal writer thread's handle on the store (its own connections)."""

    def create_segment(self, first_seq: int) -> Segment:
        """Add an empty segment starting at ``first_seq`` to the catalog (committed)."""

    def write(self, segment: Segment, records: Sequence[Record], trades: Sequence[Trade]) -> Segment:
        """Durably append consecutive ``records`` to ``segment``, then commit its new
        ``last_seq`` and ``trades``; return the updated catalog row."""

    def save_checkpoint(self, seq: int, data: bytes, *, keep: int) -> None:
        """Store a checkpoint as of ``seq`` and prune all but the newest ``keep``."""

    def close(self) -> None:
        """Release the sink's connections."""


class UserStore(Protocol):
    """Users: passwords (bcrypt), roles, disabling; what logins and user admin need."""

    def add_user(self, name: str, password: str, *, role: Role = "trader") -> User:
        """Create a user with a bcrypt-hashed password; the store assigns its id."""

    def get_user(self, name: str) -> User | None:
        """The user called ``name``, if any."""

    def user_by_id(self, user_id: int) -> User | None:
        """The user with this id, if any."""

    def users(self) -> list[User]:
        """All users by id."""

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is right and the user is enabled, else None."""

    def credentials(self, name: str) -> tuple[User, str] | None:
        """The user called ``name`` and its stored bcrypt hash, read together, if any."""

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password; moves the user's ``generation`` (revokes its tokens)."""

    def set_disabled(self, name: str, disabled: bool) -> User:
        """Disable or enable a user; moves its ``generation`` (revokes its tokens); returns it."""


class SymbolStore(Protocol):
    """The symbol catalog (the journal stays the truth) and the few ``meta`` values."""

    def add_symbol(self, symbol: str, *, tick: int = 1, lot: int = 1) -> SymbolInfo:
        """List a symbol."""

    def symbols(self) -> list[SymbolInfo]:
        """All listed symbols by name."""

    def get_meta(self, key: str) -> str | None:
        """A stored configuration value."""

    def set_meta(self, key: str, value: str) -> None:
        """Store a configuration value."""


class JournalStore(Protocol):
    """The journal's segments, live and archived; what recovery, archiving and the writer need."""

    def segments(self) -> list[Segment]:
        """The journal catalog, by ``first_seq``."""

    def segment_size(self, segment: Segment) -> int:
        """Bytes the segment takes (files, or stored payloads)."""

    def segment_location(self, segment: Segment) -> str:
        """Where the segment lives, for messages (a file path, or a table and name)."""

    def read_records(self, segment: Segment, *, after: int = 0) -> Iterator[Sequence[Record]]:
        """Chunks of the segment's stored records with ``seq > after``, by seq.

        Yields every stored record, committed or not. Raises
        ``SegmentUnreadable`` where the storage is damaged.
        """

    def set_segment_end(self, segment: Segment, last_seq: int) -> None:
        """Make ``last_seq`` the segment's end: delete stored records after it and
        record it as committed (repair after a torn or uncommitted tail)."""

    def open_sink(self, *, fsync: bool = False) -> JournalSink:
        """A handle for the journal writer thread (``fsync``: durable on power loss)."""

    # archive (exchange.journal.archive writes and checks the files)
    def archived_segments(self) -> list[ArchivedSegment]:
        """Segments moved out of the live journal, by ``first_seq``."""

    def archive_segment(self, segment: Segment, entry: ArchivedSegment) -> None:
        """Drop ``segment`` (a complete segment, not the last) from the live journal and record
        ``entry``: the catalog change commits durably first, then its storage is deleted.

        Raises:
            NotFound: ``segment`` is no longer in the live catalog as given (archived meanwhile).
        """

    def drop_archived_leftovers(self) -> list[str]:
        """Delete live storage still left for segments the catalog says are archived (a crash
        between the catalog commit and the delete); return the locations deleted."""

    def restore_segment(self, entry: ArchivedSegment, chunks: Iterable[Sequence[Record]]) -> Segment:
        """Put an archived segment back into the live journal from its records (which the
        caller has checked) and drop its archive row, in one commit; return the catalog row."""


class CheckpointStore(Protocol):
    """Engine checkpoints: the newest few, by ``seq``."""

    def checkpoints(self) -> list[CheckpointInfo]:
        """Stored checkpoints, newest first."""

    def load_checkpoint(self, seq: int) -> bytes:
        """The stored bytes of the checkpoint as of ``seq``."""

    def prune_checkpoints(self, keep: int) -> list[int]:
        """Delete all but the newest ``keep`` checkpoints; return the seqs deleted."""


class TradeStore(Protocol):
    """Trades, for history, candles and ``exch trades``."""

    def add_trades(self, trades: Sequence[Trade]) -> None:
        """Insert trades; ones already stored (same trade id) are left alone."""

    def trades(self, *, since: int | None = None, symbol: str | None = None) -> Iterator[Trade]:
        """Trades by id, optionally from ts ``since`` (ns) on and for one symbol."""

    def candles(
        self, symbol: str, interval_ns: int, *, since: int, until: int | None = None, after_id: int = 0
    ) -> TradeCandles:
        """``symbol``'s trades with ts in ``[since, until)`` and ``trade_id > after_id``, aggregated into
        candles of ``interval_ns`` aligned to the epoch by the database (intervals without trades left out)."""

    def user_trades(self, user: int, *, before: int | None = None, limit: int = 100) -> list[Trade]:
        """The newest ``limit`` trades ``user`` took part in (maker or taker), newest first, ids below ``before``."""


class Store(UserStore, SymbolStore, JournalStore, CheckpointStore, TradeStore, Protocol):
    """The whole store (what ``open_store`` returns): each part above, and its description."""

    description: str
    commits_locally: bool
    """A journal commit is a local write with no flush or round trip (SQLite without fsync)."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class SegmentFiles(Protocol):
    """Capability: journal segments are files of their own (SQLite), which a helper process may read."""

    def segment_file(self, segment: Segment) -> Path:
        """The file holding ``segment``'s records.

        Raises:
            StoreError: the segment has no readable file.
        """


def segment_files(store: object) -> SegmentFiles | None:
    """``store`` as :class:`SegmentFiles` if it keeps segments in files, else None."""
    return store if isinstance(store, SegmentFiles) else None
