"""What a running server tells the apps on its machine, through files in ``$EXCH_HOME``.

``server.json`` (:class:`ServerInfo`) names the URL, the TLS CA and the pid; the
first start saves the admin's password in ``admin-password`` (0600). This module
imports only the standard library, so ``exch trade``, the console and the CLI
read these files without loading the server.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "ADMIN_PASSWORD_FILE",
    "INFO_FILE",
    "ServerInfo",
    "read_admin_password",
    "read_server_info",
    "remove_server_info",
    "write_server_info",
]

INFO_FILE: Final = "server.json"
"""The running server's :class:`ServerInfo`, in the home."""
ADMIN_PASSWORD_FILE: Final = "admin-password"
"""The admin's first password, in the home (0600)."""


@dataclass
class ServerInfo:
    """What a running server writes to ``$EXCH_HOME/server.json`` for ``status``, apps and CLI."""

    pid: int
    url: str
    host: str
    port: int
    tls: bool
    started_ts: int
    ca: str | None


def read_admin_password(home: Path) -> str | None:
    """The password in ``HOME/admin-password`` (None: no file, or empty)."""
    try:
        return (home / ADMIN_PASSWORD_FILE).read_text().strip() or None
    except OSError:
        return None


def read_server_info(home: Path) -> ServerInfo | None:
    """The info file of the server using ``home``, if one was written."""
    try:
        data = json.loads((home / INFO_FILE).read_text())
        return ServerInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_server_info(home: Path, info: ServerInfo) -> None:
    """Replace ``home``'s info file atomically (a reader sees the old or the new one)."""
    tmp = home / (INFO_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(info)))
    tmp.replace(home / INFO_FILE)


def remove_server_info(home: Path) -> None:
    """The server stopped: no info file is left behind."""
    (home / INFO_FILE).unlink(missing_ok=True)
