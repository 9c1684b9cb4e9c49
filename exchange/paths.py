"""Where exch keeps its files: the data directory ``$EXCH_HOME``.

Precedence: an explicit ``--home`` argument, then the ``EXCH_HOME``
environment variable, then ``~/.local/share/exch``. Inside it the SQLite store
keeps ``exch.db`` and the ``journal/`` segment files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["DB_NAME", "DEFAULT_HOME", "JOURNAL_DIR", "db_path", "home_dir", "journal_dir"]

DEFAULT_HOME: Final = Path("~/.local/share/exch")
DB_NAME: Final = "exch.db"
JOURNAL_DIR: Final = "journal"


def home_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``home`` if given, else ``$EXCH_HOME``, else the default."""
    if home is not None and str(home) != "":
        return Path(home).expanduser()
    env = os.environ.get("EXCH_HOME")
    if env:
        return Path(env).expanduser()
    return DEFAULT_HOME.expanduser()


def db_path(home: Path) -> Path:
    """The main SQLite database inside ``home``."""
    return home / DB_NAME


def journal_dir(home: Path) -> Path:
    """The directory of journal segment files inside ``home``."""
    return home / JOURNAL_DIR
