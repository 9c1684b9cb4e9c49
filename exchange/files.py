"""File-system primitives the journal, the archive and the server share: durable syncs, locks, private modes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

__all__ = [
    "PRIVATE_UMASK", "exclusive_lock", "fsync_path", "make_private", "private_umask", "tighten", "write_atomic",
]

PRIVATE_UMASK: Final = 0o077
"""The umask of every exch process that writes a home: new files 0600, new directories 0700."""


def fsync_path(path: Path) -> None:
    """``fsync`` a file or a directory (a directory: so a rename or unlink in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` (``mode``) via a synced temporary file in the same directory and a
    rename: a reader sees the old content or the new, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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


def private_umask() -> None:
    """Set this process's umask to :data:`PRIVATE_UMASK`, so that whatever it creates (SQLite's
    ``-wal``/``-shm`` files and journal segments included) is readable by its owner only."""
    os.umask(PRIVATE_UMASK)


def tighten(path: Path, mode: int) -> bool:
    """Remove permission bits beyond ``mode`` from an existing file or directory; True if it changed."""
    current = stat.S_IMODE(path.lstat().st_mode)
    if not current & ~mode:
        return False
    path.chmod(current & mode)
    return True


def make_private(root: Path) -> list[Path]:
    """Create ``root`` (0700) if missing; take group and other permissions away from it and from every
    directory and file under it (an existing home written by an older version, or under a looser umask).

    Symbolic links are neither followed nor changed. Returns the paths whose mode changed.
    """
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    changed = [root] if tighten(root, 0o700) else []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in (*dirnames, *filenames):
            path = here / name
            if not path.is_symlink() and tighten(path, 0o700 if name in dirnames else 0o600):
                changed.append(path)
    return changed
