"""Fixtures of the gateway's end-to-end tests: real servers, real TLS, real sockets.

- ``exchange``: a server started in-process (on its own thread and event loop)
  on 127.0.0.1 with an ephemeral port, its home in ``tmp_path``, the local CA
  it generated trusted by every client. ``make_exchange(limits=…)`` starts
  more, with other settings.
- ``Exchange.trader(cash=…, shares=…)``: a new user funded by the admin over
  the wire, logged in on a fresh :class:`client.Session`.
- ``proc_server``: ``python -m exchange serve`` as a subprocess (for signals,
  ``kill -9`` and the CLI), waited for through ``server.json`` and ``/healthz``.
- ``contract`` (autouse): every frame any :class:`client.Session` receives is
  validated against the published JSON Schema; a test fails at teardown if one
  broke it.

Everything is xdist-safe: ports are ephemeral, homes are per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from client import Session
from exchange.info import ServerInfo
from exchange.server import ServerConfig, run_server
from tests.contract.frames import FrameChecker

ROUNDS = 4
"""bcrypt cost in these tests."""
START_TIMEOUT = 30.0
_names = itertools.count(1)


def unique(prefix: str = "u") -> str:
    """A user name no other test in this process uses."""
    return f"{prefix}{os.getpid()}x{next(_names)}"


def ca_context(home: Path) -> ssl.SSLContext:
    """An SSL context trusting only the CA the server generated in ``home``."""
    return ssl.create_default_context(cafile=str(home / "tls" / "ca.pem"))


def http_get(home: Path, port: int, path: str, *, timeout: float = 5.0) -> tuple[int, str, str]:
    """GET ``path`` over HTTPS with the home's CA: ``(status, content type, body)``."""
    url = f"https://127.0.0.1:{port}{path}"
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ca_context(home))
    )
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


# --------------------------------------------------------------------------- in-process server


class ServerThread:
    """``run_server`` on a thread of its own with its own event loop."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.info: ServerInfo | None = None
        self.rc: int | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="exch-test-server", daemon=True)

    def _run(self) -> None:
        async def main() -> int:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            return await run_server(self.config, ready=self._on_ready, stop=self._stop)

        try:
            self.rc = asyncio.run(main())
        except BaseException as exc:  # reported by start()/stop()
            self.error = exc
        finally:
            self._ready.set()

    def _on_ready(self, info: ServerInfo) -> None:
        self.info = info
        self._ready.set()

    def start(self) -> ServerInfo:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("the server did not start")
        if self.info is None:
            raise RuntimeError(f"the server failed to start: {self.error!r}") from self.error
        return self.info

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> int | None:
        """Set the server's stop event (a clean shutdown) and wait for the thread."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the server did not stop")
        return self.rc


@dataclass
class Exchange:
    """A running server and helpers to talk to it from the test's event loop."""

    home: Path
    server: ServerThread
    info: ServerInfo
    admin_password: str
    sessions: list[Session] = field(default_factory=list)
    _admin: Session | None = None

    @property
    def url(self) -> str:
        return self.info.url

    @property
    def port(self) -> int:
        return self.info.port

    async def connect(self, **kwargs: Any) -> Session:
        """A new session trusting the home's CA (closed at teardown)."""
        kwargs.setdefault("proxy", None)
        session = await Session.connect(self.url, home=self.home, **kwargs)
        self.sessions.append(session)
        return session

    async def admin(self) -> Session:
        """A logged-in admin session (one, shared by the helpers)."""
        if self._admin is None or self._admin.closed:
            self._admin = await self.connect()
            await self._admin.login("admin", self.admin_password)
        return self._admin

    async def add_user(
        self,
        name: str | None = None,
        *,
        cash: int = 0,
        shares: dict[str, int] | None = None,
        role: str = "trader",
        password: str | None = None,
    ) -> tuple[str, str]:
        """Create a user through the admin's ``user_add``: ``(name, password)``."""
        name = name or unique()
        password = password or f"pw-{name}"
        admin = await self.admin()
        await admin.user_add(name, password, role=role, cash=cash, positions=shares or {})  # type: ignore[arg-type]
        return name, password

    async def trader(
        self, *, cash: int = 0, shares: dict[str, int] | None = None, name: str | None = None, **connect: Any
    ) -> Session:
        """A new funded trader, logged in on a fresh session."""
        name, password = await self.add_user(name, cash=cash, shares=shares)
        session = await self.connect(**connect)
        await session.login(name, password)
        return session

    async def close_sessions(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)
        self.sessions.clear()


@pytest.fixture(autouse=True)
def contract(monkeypatch: pytest.MonkeyPatch) -> Iterator[FrameChecker]:
    """Validate every frame a ``Session`` receives against ``GET /api/schema.json``'s schema."""
    checker = FrameChecker()
    dispatch = Session._dispatch

    def checked(self: Session, frame: str | bytes) -> None:
        checker.check(frame)
        dispatch(self, frame)

    monkeypatch.setattr(Session, "_dispatch", checked)
    yield checker
    assert not checker.problems, f"{len(checker.problems)} frames broke the contract: {checker.problems[:5]}"


def _config(home: Path, **overrides: Any) -> ServerConfig:
    settings: dict[str, Any] = {
        "home": home,
        "host": "127.0.0.1",
        "port": 0,
        "bcrypt_rounds": ROUNDS,
        "quiet": True,
    }
    settings.update(overrides)
    return ServerConfig(**settings)


MakeExchange = Callable[..., Exchange]


@pytest.fixture
async def make_exchange(tmp_path: Path) -> AsyncIterator[MakeExchange]:
    """``make_exchange(**ServerConfig overrides)`` starts a server in ``tmp_path/<n>``."""
    started: list[Exchange] = []
    counter = itertools.count(1)

    def make(home: Path | None = None, **overrides: Any) -> Exchange:
        home = home or tmp_path / f"home{next(counter)}"
        server = ServerThread(_config(home, **overrides))
        info = server.start()
        password = (home / "admin-password").read_text().strip()
        ex = Exchange(home=home, server=server, info=info, admin_password=password)
        started.append(ex)
        return ex

    yield make
    for ex in started:
        await ex.close_sessions()
        if ex._admin is not None:
            await ex._admin.close()
    for ex in started:
        await asyncio.to_thread(ex.server.stop)


@pytest.fixture
def exchange(make_exchange: MakeExchange) -> Exchange:
    """A server with the default settings (ACME, BOLT, CHIP listed)."""
    return make_exchange()


# --------------------------------------------------------------------------- pushed messages


class Pushes:
    """Records every message pushed to a session (fills, done, market data, …) in order."""

    def __init__(self, session: Session) -> None:
        self.items: list[Any] = []
        self._event = asyncio.Event()
        session.on_message(self._on)

    def _on(self, msg: Any) -> None:
        self.items.append(msg)
        self._event.set()

    def of(self, kind: type, **fields: Any) -> list[Any]:
        """The recorded messages of ``kind`` whose attributes equal ``fields``."""
        return [m for m in self.items if isinstance(m, kind) and all(getattr(m, k) == v for k, v in fields.items())]

    async def wait(self, kind: type, count: int = 1, timeout: float = 10.0, **fields: Any) -> list[Any]:
        """Wait until ``count`` messages of ``kind`` matching ``fields`` arrived; return them."""
        async with asyncio.timeout(timeout):
            while len(found := self.of(kind, **fields)) < count:
                self._event.clear()
                await self._event.wait()
        return found

    async def wait_until(self, predicate: Callable[[list[Any]], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate(all messages so far)`` holds."""
        async with asyncio.timeout(timeout):
            while not predicate(self.items):
                self._event.clear()
                await self._event.wait()


# --------------------------------------------------------------------------- subprocess server


def exch_cmd(*args: str) -> list[str]:
    """The argv of ``exch ARGS`` (``python -m exchange`` is the same Typer app)."""
    return [sys.executable, "-m", "exchange", *args]


def run_exch(
    *args: str, home: Path, input: str | None = None, timeout: float = 90.0
) -> subprocess.CompletedProcess[str]:
    """Run ``exch ARGS --home HOME`` to completion."""
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("EXCH_HOME", None)
    env.pop("EXCH_ADMIN_PASSWORD", None)
    return subprocess.run(
        exch_cmd(*args, "--home", str(home)),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def read_info(home: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((home / "server.json").read_text())
        return data
    except (OSError, ValueError):
        return None


@dataclass
class ProcServer:
    """``exch serve`` running as a child process."""

    home: Path
    proc: subprocess.Popen[bytes]
    info: dict[str, Any]
    log: Path

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def admin_password(self) -> str:
        return (self.home / "admin-password").read_text().strip()

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_healthy(
    home: Path, pid: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = START_TIMEOUT
) -> dict[str, Any]:
    """Wait until ``home/server.json`` names ``pid`` and its ``/healthz`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        info = read_info(home)
        if info is not None and info.get("pid") == pid:
            with contextlib.suppress(OSError):
                status, _, _ = http_get(home, int(info["port"]), "/healthz", timeout=2)
                if status == 200:
                    return info
        time.sleep(0.05)
    raise RuntimeError(f"no healthy server with pid {pid} in {home}")


StartProc = Callable[..., ProcServer]


@pytest.fixture
def proc_server(tmp_path: Path) -> Iterator[StartProc]:
    """``proc_server(home, *extra_args)`` starts ``exch serve`` on ``home`` and waits for it."""
    started: list[ProcServer] = []

    def start(home: Path | None = None, *extra: str) -> ProcServer:
        home = home or tmp_path / "home"
        home.mkdir(parents=True, exist_ok=True)
        log = home.parent / f"{home.name}-serve-{len(started)}.log"
        env = {**os.environ}
        env.pop("EXCH_HOME", None)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                exch_cmd("serve", "--home", str(home), "--port", "0", "--bcrypt-rounds", str(ROUNDS), *extra),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        server = ProcServer(home=home, proc=proc, info={}, log=log)
        started.append(server)
        try:
            server.info = wait_healthy(home, proc.pid, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; log:\n{log.read_text(errors='replace')}") from None
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(30)
