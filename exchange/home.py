"""The home's bookkeeping: its lock (one writer at a time) and the first admin.

Everything here runs once, before serving; the paths inside the home are in
:mod:`exchange.paths` and :mod:`exchange.info`.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from exchange.files import exclusive_lock, fsync_path, make_private, private_umask, write_atomic
from exchange.info import ADMIN_PASSWORD_FILE

if TYPE_CHECKING:
    from exchange.store.base import Store

__all__ = ["FIRST_ADMIN", "LOCK_FILE", "AlreadyRunning", "ensure_admin", "home_lock", "save_admin_password"]

log = logging.getLogger("exch.server")

LOCK_FILE: Final = "exch.lock"
"""The home's lock file, held by the one process that writes the home."""

FIRST_ADMIN: Final = "admin"
"""The admin the first start creates: the user whose password ``HOME/admin-password`` holds."""


class AlreadyRunning(RuntimeError):
    """Another exch process holds this home's lock."""


@contextlib.contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """Hold the home's exclusive lock: one process owns the journal at a time.

    Every process that writes the home takes it, so once it holds the lock this is
    also where the home is made private: the process's umask becomes 077 (what it creates, SQLite's
    ``-wal``/``-shm`` files and new journal segments included, is 0600 in 0700
    directories) and the home, every directory under it (0700) and every file
    (0600) lose group and other permissions, which a home made by an older exch
    or under a looser umask had.

    Raises:
        AlreadyRunning: another process holds it.
    """
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    with exclusive_lock(home / LOCK_FILE, lambda: AlreadyRunning(f"another exch process is using {home}")):
        private_umask()
        for path in make_private(home):
            log.info("made %s private (owner only)", path)
        yield


def save_admin_password(home: Path, password: str) -> Path:
    """Write :data:`FIRST_ADMIN`'s password to ``HOME/admin-password`` (0600), atomically; return the path.

    The password goes to a temporary file in the home, then replaces the file: a
    reader (``exch user``, the console, ``exch bots``) sees the old password or the
    new one, never a partial file.
    """
    path = home / ADMIN_PASSWORD_FILE
    write_atomic(path, (password + "\n").encode(), mode=0o600)
    fsync_path(home)
    return path


def ensure_admin(store: Store, home: Path, say: Callable[[str], None]) -> None:
    """On first start create ``admin`` with a random password, shown once and saved 0600."""
    if any(u.role == "admin" for u in store.users()):
        return
    password = secrets.token_urlsafe(12)
    store.add_user(FIRST_ADMIN, password, role="admin")
    path = save_admin_password(home, password)
    say(f"created user '{FIRST_ADMIN}' with password {password} (saved to {path}, mode 0600)")
