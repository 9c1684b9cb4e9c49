"""The Dockerfile checked without a Docker engine: its command and healthcheck run as plain processes.

The machines here have no Docker engine, so the image is never built in these
tests. What can be checked is: the Dockerfile's shape (slim base, multi-stage,
non-root user, ``EXCH_HOME`` on a volume, a healthcheck, the command), that its
``CMD`` and ``HEALTHCHECK`` work when run as processes against a temporary home,
that its install step is the README's, and that ``.dockerignore`` keeps what the
install needs.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ship.conftest import ROOT, exch_env
from tests.ship.dockerfile import exec_form, healthcheck, read_dockerfile

STAGES = read_dockerfile(ROOT / "Dockerfile")
FINAL = STAGES[-1]


def _as_process(argv: list[str]) -> list[str]:
    """The image's ``exch …`` as this interpreter's ``python -m exchange …``."""
    assert argv[0] == "exch", f"the image runs the exch console script, not {argv[0]!r}"
    return [sys.executable, "-m", "exchange", *argv[1:]]


def test_dockerfile_shape() -> None:
    assert len(STAGES) >= 2, "multi-stage: build, then a runtime image without the build"
    assert all(re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", s.base) for s in STAGES), [s.base for s in STAGES]
    user = FINAL.last("USER")
    assert user not in (None, "root", "0"), "runs as a non-root user"
    env = FINAL.env()
    home = env.get("EXCH_HOME")
    assert home, "EXCH_HOME is set"
    volumes = exec_form(FINAL.last("VOLUME") or "[]")
    assert home in volumes, "EXCH_HOME is on a volume"
    assert "8443" in (FINAL.last("EXPOSE") or "")
    assert FINAL.last("STOPSIGNAL") in (None, "SIGTERM")
    options, check = healthcheck(FINAL.last("HEALTHCHECK") or "")
    assert check[:2] == ["exch", "health"]
    assert {"interval", "timeout", "start-period", "retries"} <= set(options)
    assert exec_form(FINAL.last("CMD") or "") == ["exch", "serve", "--host", "0.0.0.0"]
    assert any("/opt/" in args for args in FINAL.all("COPY")), "the runtime stage copies the built environment"


def test_image_command_and_healthcheck_run_as_processes(tmp_path: Path) -> None:
    """CMD starts a healthy server on EXCH_HOME; HEALTHCHECK passes then, fails once it is stopped."""
    home = tmp_path / "data"
    env = exch_env(home, **{k: v for k, v in FINAL.env().items() if k not in ("PATH", "EXCH_HOME")})
    _, check = healthcheck(FINAL.last("HEALTHCHECK") or "")
    # port 0 instead of the image's 8443, which may be taken on a test machine
    command = [*_as_process(exec_form(FINAL.last("CMD") or "")), "--port", "0", "--bcrypt-rounds", "4"]
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        result = None
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            result = subprocess.run(_as_process(check), env=env, capture_output=True, text=True, timeout=30)
            if result.returncode == 0:
                break
            time.sleep(0.3)
        assert result is not None and result.returncode == 0, (result, log.read_text())
        assert result.stdout == "", "--quiet prints nothing"
        assert (home / "tls" / "ca.pem").is_file() and (home / "admin-password").is_file()
        assert "created user 'admin'" in log.read_text()

        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
    after = subprocess.run(_as_process(check), env=env, capture_output=True, text=True, timeout=30)
    assert after.returncode == 1 and after.stderr.startswith("exch: error:"), after


def _install_args(command: str) -> list[str]:
    """What a ``pip install`` installs, without options that do not change what (``-e``, ``-q``, …)."""
    words = shlex.split(command)
    start = words.index("install") + 1
    keep = [w for w in words[start:] if not w.startswith("-")]
    return [w.replace("'", "").replace('"', "") for w in keep]


def _readme_install() -> str:
    """The README's first command that installs this project (its quick start)."""
    for line in (ROOT / "README.md").read_text().splitlines():
        for part in re.split(r"&&|;", line):
            if re.search(r"\bpip3? install\b", part) and re.search(r"(^|\s)(-e\s+)?['\"]?\.(\[|['\"]|\s|$)", part):
                return part.strip()
    pytest.fail("the README has no pip install of this project")


def test_dockerfile_installs_like_the_readme() -> None:
    build_runs = [args for stage in STAGES[:-1] for args in stage.all("RUN") if re.search(r"\bpip3? install\b", args)]
    assert len(build_runs) == 1, build_runs
    docker = _install_args(build_runs[0])
    readme = _install_args(_readme_install())
    assert docker == readme == ["."], (docker, readme)


def test_image_build_compiles_the_engine() -> None:
    """The build stage has a C compiler before `pip install .`, and refuses an image without the compiled engine."""
    build = STAGES[-2]
    runs = build.all("RUN")
    install = next(i for i, args in enumerate(runs) if re.search(r"\bpip3? install\b", args))
    assert any(re.search(r"apt-get install\b.*\bgcc\b", args, flags=re.S) for args in runs[:install]), runs
    assert not any("EXCH_MYPYC" in args for args in runs) and "EXCH_MYPYC" not in build.env(), "compiling is on"
    assert any(re.search(r"exch version.*grep -q \"engine: compiled\"", args) for args in runs[install + 1:]), runs


def test_dockerignore_keeps_what_the_install_needs() -> None:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.split("/")[0], p) for p in patterns)

    for needed in ("pyproject.toml", "setup.py", "README.md", "exchange/server.py", "client/session.py"):
        assert not ignored(needed), needed
    for dropped in (".git", "tests", ".venv", ".venv-ci"):
        assert ignored(dropped), dropped


def test_health_url_forms() -> None:
    from exchange.cli.health import health_url

    assert health_url("wss://exch.example:8443/ws") == "https://exch.example:8443/healthz"
    assert health_url("ws://127.0.0.1:9000/ws") == "http://127.0.0.1:9000/healthz"
    assert health_url("127.0.0.1:8444") == "https://127.0.0.1:8444/healthz"
    assert health_url("https://[::1]:8443") == "https://[::1]:8443/healthz"
    with pytest.raises(ValueError):
        health_url("ftp://x:1")
