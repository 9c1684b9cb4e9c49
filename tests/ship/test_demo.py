"""``exch demo --no-console`` as a real process: it starts, the market moves, and SIGINT stops all it started."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from client import Session
from exchange.cli.demo import DEMO_USERS
from exchange.protocol import TickerMessage
from tests.ship.conftest import exch_env, pid_alive, run_exch

START_TIMEOUT = 60.0


def _wait_for(path: Path, key: str, proc: subprocess.Popen[str], timeout: float = START_TIMEOUT) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exch demo exited with {proc.returncode}: {proc.communicate()[0]}")
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            if key in data:
                return data
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"no {key} in {path} within {timeout} s")


async def _watch_market(url: str, home: Path) -> tuple[int, int]:
    """Log in as the demo's human user and watch ACME until trades happen: ``(first seq, later seq)``."""
    user, password = DEMO_USERS[0]
    async with Session.connect(url, home=home, proxy=None) as session:
        await session.login(user, password)
        balance = await session.balance()
        assert balance.cash > 0 and all(p.qty > 0 for p in balance.positions.values())
        tickers: list[TickerMessage] = []
        session.on_message(lambda m: tickers.append(m) if isinstance(m, TickerMessage) else None, TickerMessage)
        await session.subscribe("ticker", "ACME")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if len(tickers) >= 2 and tickers[-1].volume > tickers[0].volume and tickers[-1].seq > tickers[0].seq:
                return tickers[0].seq, tickers[-1].seq
        raise AssertionError(f"the market did not move: {tickers[-1:] or 'no ticker'}")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "terminal-closed"])
def test_demo_starts_moves_and_stops_everything_on_a_stop_signal(tmp_path: Path, stop: signal.Signals) -> None:
    home = tmp_path / "demo-home"
    env = exch_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange", "demo", "--home", str(home), "--no-console", "--port", "0",
         "--bcrypt-rounds", "4", "--bots", "5", "--rate", "60", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, stdin=subprocess.DEVNULL,
    )
    try:
        started = _wait_for(home / "demo.json", "bots_pid", proc)
        up = time.monotonic()
        server = json.loads((home / "server.json").read_text())
        assert started["server_pid"] == server["pid"]
        assert pid_alive(started["server_pid"]) and pid_alive(started["bots_pid"])
        first, later = asyncio.run(_watch_market(server["url"], home))
        assert later > first
        health = run_exch("health", "--home", str(home), env=env)
        assert health.returncode == 0, health.stderr
        assert json.loads(health.stdout)["status"] == "ok"
        # whatever the umask, every file the demo's processes made in the running home is the owner's only
        loose = {str(p.relative_to(home)): oct(p.stat().st_mode & 0o777) for p in home.rglob("*")
                 if p.stat().st_mode & 0o077}
        assert loose == {}

        time.sleep(max(0.0, 4.0 - (time.monotonic() - up)))  # a status line or two
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.returncode != 0:  # a demo that died (or was killed) must not leave its server and robots running
            _kill_leftovers(home)
    assert proc.returncode == 0, out
    assert "exch demo: a live market on" in out and "password: demo" in out
    assert "seq" in out and "trades/s" in out  # the live status line (no console here)
    assert "demo stopped" in out
    # everything it started has stopped
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (pid_alive(started["server_pid"]) or pid_alive(started["bots_pid"])):
        time.sleep(0.1)
    assert not pid_alive(started["server_pid"]) and not pid_alive(started["bots_pid"])
    status = run_exch("status", "--home", str(home), env=env)
    assert status.returncode == 3 and "not running" in status.stdout
    assert not (home / "server.json").exists()
    # the robots canceled their orders on the way out
    assert "bots stopped, their orders canceled" in (home / "bots.log").read_text()


def test_demo_stops_everything_when_nothing_reads_its_output_any_more(tmp_path: Path) -> None:
    """``exch demo | tee log`` in a terminal that closes: tee goes first, so every later write of the demo fails.

    Before, the first failed write (a status line, or "stopping the robots") raised out of the clean-up
    and left the server and the robots running with nobody to stop them.
    """
    home = tmp_path / "demo-home"
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange", "demo", "--home", str(home), "--no-console", "--port", "0",
         "--bcrypt-rounds", "4", "--bots", "2", "--rate", "20", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=exch_env(), stdin=subprocess.DEVNULL,
    )
    try:
        started = _wait_for(home / "demo.json", "bots_pid", proc)
        assert proc.stdout is not None
        while "trades/s" not in proc.stdout.readline():  # up and trading: the status line runs
            assert proc.poll() is None, "exch demo exited"
        proc.stdout.close()  # the reader is gone: the next status line meets a broken pipe
        proc.send_signal(signal.SIGHUP)
        proc.wait(90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        survivors = [key for key in ("server_pid", "bots_pid")
                     if isinstance(pid := json.loads((home / "demo.json").read_text()).get(key), int)
                     and _stopped_within(pid, 10) is False]
        _kill_leftovers(home)
    assert survivors == []
    assert not (home / "server.json").exists()
    assert "bots stopped, their orders canceled" in (home / "bots.log").read_text()
    assert started["server_pid"] != started["bots_pid"]


def test_the_demo_with_its_console_stops_everything_when_its_terminal_closes(tmp_path: Path) -> None:
    """``exch demo`` showing the console in a terminal that closes (SIGHUP, then a terminal that reads end-of-file).

    Before, the console ran inside the demo: its output thread died on the first write to the dead
    terminal, Textual's exit then waited for it forever (while its input thread spun a core reading
    end-of-file), and the demo never got to stop its server and robots. (Seen in a killed tmux pane,
    and here about one run in six with three runs at once.)
    """
    home = tmp_path / "demo-home"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**exch_env(), "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange", "demo", "--home", str(home), "--port", "0", "--bcrypt-rounds", "4",
         "--bots", "2", "--rate", "20", "--seed", "3"],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
        preexec_fn=_take_terminal,  # its controlling terminal: closing it hangs up, as a terminal window does
    )
    os.close(slave)
    screen = bytearray()
    reader = threading.Thread(target=_drain, args=(master, screen), daemon=True)
    reader.start()
    started: dict[str, Any] = {}
    try:
        started = _wait_for(home / "demo.json", "bots_pid", proc)
        deadline = time.monotonic() + START_TIMEOUT
        while b"Sessions" not in screen and time.monotonic() < deadline:  # the console is up
            assert proc.poll() is None, bytes(screen).decode(errors="replace")[-2000:]
            time.sleep(0.2)
        assert b"Sessions" in screen
        os.close(master)  # the terminal closes: the kernel sends SIGHUP, and reads of it see end-of-file
        master = -1
        proc.wait(60)
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        survivors = [key for key in ("server_pid", "bots_pid")
                     if isinstance(started.get(key), int) and not _stopped_within(started[key], 10)]
        _kill_leftovers(home)
    assert survivors == [] and not (home / "server.json").exists()
    assert "bots stopped, their orders canceled" in (home / "bots.log").read_text()


def _take_terminal() -> None:
    """In the child, a session leader by now: make its stdin (the pty) its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _drain(fd: int, into: bytearray) -> None:
    """Read a terminal's output until it closes (so the app never blocks writing to it)."""
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            into.extend(chunk)


def _stopped_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    return not pid_alive(pid)


def _kill_leftovers(home: Path) -> None:
    """After a failed test: what the killed demo had started must not outlive the test."""
    try:
        started = json.loads((home / "demo.json").read_text())
    except (OSError, ValueError):
        return
    for key in ("bots_pid", "server_pid"):
        pid = started.get(key)
        if isinstance(pid, int) and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_demo_refuses_a_home_that_is_not_a_demo(tmp_path: Path) -> None:
    home = tmp_path / "real"
    home.mkdir()
    (home / "exch.db").write_bytes(b"")
    result = run_exch("demo", "--home", str(home), "--no-console", env=exch_env())
    assert result.returncode == 1
    assert result.stderr.strip().startswith("exch: error:") and "not a demo home" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (home / "exch.db").exists()
