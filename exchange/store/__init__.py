"""Storage: the ``Store`` protocol and its SQLite and PostgreSQL implementations."""

from __future__ import annotations

from pathlib import Path

from exchange.paths import home_dir
from exchange.store.base import (
    DEFAULT_BCRYPT_ROUNDS,
    ArchivedSegment,
    CheckpointInfo,
    JournalSink,
    NotFound,
    Record,
    Role,
    Segment,
    SegmentUnreadable,
    Store,
    StoreError,
    SymbolInfo,
    Trade,
    User,
    UserExists,
    checksum,
)

__all__ = [
    "ArchivedSegment",
    "CheckpointInfo",
    "JournalSink",
    "NotFound",
    "Record",
    "Role",
    "Segment",
    "SegmentUnreadable",
    "Store",
    "StoreError",
    "SymbolInfo",
    "Trade",
    "User",
    "UserExists",
    "checksum",
    "open_store",
]


def open_store(
    db: str | None = None,
    *,
    home: str | Path | None = None,
    bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS,
) -> Store:
    """Open the store named by ``db`` (a ``postgresql://`` URL), else SQLite under ``home``.

    Raises:
        StoreError: the store cannot be opened (the message says why).
    """
    if db and db.startswith(("postgresql://", "postgres://")):
        from exchange.store.postgres import PostgresStore

        return PostgresStore(db, bcrypt_rounds=bcrypt_rounds)
    if db and not db.startswith("sqlite:"):
        raise StoreError(f"--db must be a postgresql:// URL or sqlite:PATH, not {db!r}")
    from exchange.store.sqlite import SQLiteStore

    root = Path(db.removeprefix("sqlite:")).expanduser() if db else home_dir(home)
    return SQLiteStore(root, bcrypt_rounds=bcrypt_rounds)
