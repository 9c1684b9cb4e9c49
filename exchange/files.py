"""File-system primitives the journal, the archive and the server share: durable syncs and exclusive locks."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["exclusive_lock", "fsync_path"]


def fsync_path(path: Path) -> None:
    """``fsync`` a file or a directory (a directory: so a rename or unlink in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_lock(path: Path, busy: Callable[[], Exception], mode: int = 0o600) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) without waiting.

    Raises:
        the exception ``busy()`` returns: another process holds the lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy() from None
        yield
    finally:
        os.close(fd)
