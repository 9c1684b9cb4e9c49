"""Fixtures of the shipping tests: the gateway suite's real in-process servers, plus paths.

``exchange`` / ``make_exchange`` come from ``tests/gateway/conftest.py`` (a real
server on its own thread, TLS with the CA it generated, port 0, a home in
``tmp_path``). Commands run as real processes through ``python -m exchange``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.gateway.conftest import Exchange, exchange, make_exchange  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
"""The repository: Dockerfile, docker-compose.yml, fly.toml, README.md."""


def exch_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for an ``exch`` child: no inherited home or admin password."""
    env = {**os.environ, "COLUMNS": "200", **extra}
    for key in ("EXCH_HOME", "EXCH_ADMIN_PASSWORD", "EXCH_DB"):
        env.pop(key, None)
    if home is not None:
        env["EXCH_HOME"] = str(home)
    return env


def run_exch(*args: str, env: dict[str, str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -m exchange ARGS`` to completion."""
    return subprocess.run([sys.executable, "-m", "exchange", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"
