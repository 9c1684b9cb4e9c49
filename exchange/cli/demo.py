"""``exch demo``: a living market in one command.

1. a fresh demo home (``~/.local/share/exch-demo`` or ``--home``; an earlier
   demo there is wiped, any other directory is refused);
2. ``exch serve --detach`` on it (port 8443, or any free port if that is taken);
3. the demo users ``demo``/``demo`` and ``demo2``/``demo2`` with cash and shares,
   for ``exch trade`` in another terminal;
4. ``exch bots`` as a child process (log ``HOME/bots.log``);
5. the operator console (``exch console``) when this install has it, else a live
   status line (``--no-console`` always takes the status line: CI and tests);
6. on exit (console closed, Ctrl-C, SIGTERM or ``--duration``) it stops the
   robots (their orders are canceled) and the server, and nothing it started is
   left running.

What it started is recorded in ``HOME/demo.json`` (also the marker that the
directory is a demo home).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from exchange.cli.common import admin_session, cli_errors, fail, run, server_running

__all__ = ["DEMO_HOME", "DEMO_USERS", "demo"]

DEMO_HOME = Path("~/.local/share/exch-demo")
MARKER = "demo.json"
BOTS_LOG = "bots.log"
DEMO_USERS: tuple[tuple[str, str], ...] = (("demo", "demo"), ("demo2", "demo2"))
"""Human logins for ``exch trade``: (user, password)."""
DEMO_CASH = 10_000_000
"""Cents each demo user gets ($100,000)."""
DEMO_SHARES = 500
"""Shares of every symbol each demo user gets."""


def demo(
    home: Path | None = typer.Option(None, "--home", help=f"Demo data directory (default {DEMO_HOME}); "
                                     "EXCH_HOME is not used, so a real exchange is never touched.",
                                     show_default=False),
    port: int = typer.Option(8443, min=0, max=65535, help="Port of the demo server (any free one if taken)."),
    bots: int = typer.Option(6, "--bots", min=1, max=200, help="How many trading robots."),
    rate: float = typer.Option(25.0, min=0.1, help="Robot order requests per second, all together."),
    seed: int = typer.Option(1, help="Seed of the robots' decisions."),
    console: bool = typer.Option(True, "--console/--no-console",
                                 help="Open the operator console (--no-console: a status line; for CI)."),
    duration: float = typer.Option(0.0, min=0.0, help="Stop everything after this many seconds (0: at Ctrl-C)."),
    keep: bool = typer.Option(False, "--keep", help="Keep the market of an earlier demo instead of a fresh one."),
    bcrypt_rounds: int = typer.Option(10, min=4, max=16, help="bcrypt cost of the demo's passwords."),
) -> None:
    """A live demo market: server, demo users, trading robots and the operator console; Ctrl-C stops it all."""
    with cli_errors():
        for sig in _STOP_SIGNALS[1:]:  # SIGTERM, and SIGHUP (its terminal closed), clean up like Ctrl-C
            signal.signal(sig, _interrupt)
        root = (home or DEMO_HOME).expanduser()
        _prepare_home(root, keep=keep)
        started = Started(root)
        try:
            url = started.server(port, bcrypt_rounds)
            symbols = run(_create_users(root))
            started.bots(bots, rate, seed)
            _banner(root, url, symbols, bots, rate)
            # ---- the operator console if this install has one, else the live status line ----
            console_command = _console_command() if console else None
            if console_command is not None:
                if sys.stdout.isatty():
                    typer.echo("opening the operator console in 3 s (q in it quits and stops the demo) …")
                    time.sleep(3)  # time to read the banner: the console takes the whole screen
                console_command(root)
            else:
                run(_status_line(root, duration or None))
        except KeyboardInterrupt:
            _say("")
        except BrokenPipeError:  # whatever read the output is gone (`exch demo | tee`, its terminal closed)
            _output_gone()
        finally:
            started.stop_all()


# --------------------------------------------------------------------------- the home


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Each stops the whole demo: server and robots are never left behind, not even when the terminal closes."""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _prepare_home(root: Path, *, keep: bool) -> None:
    """Make ``root`` a fresh demo home (or keep an earlier demo's with ``keep``)."""
    from exchange.home import LOCK_FILE

    is_demo = (root / MARKER).is_file()
    if root.exists() and any(p.name != LOCK_FILE for p in root.iterdir()) and not is_demo:
        fail(f"{root} is not a demo home (no {MARKER}); pass another --home")
    if root.exists() and server_running(root):
        fail(f"an exch server is already running on {root}: stop it with exch stop --home {root}")
    if is_demo and not keep:
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    _record(root, created_ts=time.time_ns())


def _record(root: Path, **fields: Any) -> None:
    path = root / MARKER
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data.update(fields)
    path.write_text(json.dumps(data) + "\n")


def _free(port: int) -> bool:
    """Whether a server can listen on ``port`` now.

    Probed the way the server binds (``SO_REUSEADDR``, asyncio's default), so the
    connections a stopped demo left in TIME_WAIT do not make its port look taken
    and move a re-run demo to a random port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------- what the demo starts


class Started:
    """The processes the demo started, so that it can stop exactly those."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server_pid: int | None = None
        self.bots_proc: subprocess.Popen[bytes] | None = None

    def server(self, port: int, bcrypt_rounds: int) -> str:
        """``exch serve --detach`` on the demo home; returns its URL."""
        from exchange.info import read_server_info

        if port and not _free(port):
            typer.echo(f"port {port} is taken: the demo server takes any free port")
            port = 0
        result = subprocess.run(
            _exch("serve", "--home", str(self.root), "--port", str(port), "--bcrypt-rounds", str(bcrypt_rounds),
                  "--detach"),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        )
        info = read_server_info(self.root)
        if info is not None:
            self.server_pid = info.pid
            _record(self.root, server_pid=info.pid, url=info.url)
        if result.returncode != 0 or info is None:
            lines = (result.stderr or result.stdout).strip().splitlines()
            fail(lines[-1] if lines else f"the demo server did not start (see {self.root / 'exch.log'})")
        return info.url

    def bots(self, count: int, rate: float, seed: int, timeout: float = 60.0) -> None:
        """``exch bots`` as a child process; returns once they trade."""
        log_path = self.root / BOTS_LOG
        start = log_path.stat().st_size if log_path.exists() else 0  # --keep appends to an older log
        with open(log_path, "ab") as log:
            self.bots_proc = subprocess.Popen(
                _exch("bots", "--home", str(self.root), "--count", str(count), "--rate", str(rate),
                      "--seed", str(seed), "--status-every", "10"),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches the demo only; it stops them in order
            )
        _record(self.root, bots_pid=self.bots_proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(log_path, "rb") as log:
                log.seek(start)
                if b"bots trading" in log.read():
                    return
            if self.bots_proc.poll() is not None:
                fail(f"the robots exited with code {self.bots_proc.returncode}; see {log_path}")
            time.sleep(0.1)
        fail(f"the robots did not start within {timeout:.0f} s; see {log_path}")

    def stop_all(self) -> None:
        """Stop the robots (SIGINT: they cancel their orders), then the server (SIGTERM); wait for both."""
        with _signals_ignored():
            proc = self.bots_proc
            if proc is not None and proc.poll() is None:
                _say("stopping the robots (canceling their orders) …")
                _end(proc, signal.SIGINT, grace=30)
            if self.server_pid is not None and server_running(self.root):
                _say("stopping the demo server …")
                _stop_server(self.root, self.server_pid)
            _say(f"demo stopped (its data stays in {self.root} until the next exch demo)")


def _end(proc: subprocess.Popen[Any], sig: signal.Signals, *, grace: float) -> None:
    """Send ``sig`` to a child and wait; after ``grace`` seconds kill it."""
    proc.send_signal(sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _stop_server(root: Path, pid: int, timeout: float = 60.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server_running(root):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        typer.echo(f"the demo server (pid {pid}) did not stop within {timeout:.0f} s and was killed", err=True)


def _say(text: str) -> None:
    """Print a line of the demo's own progress; output nobody reads any more never stops the clean-up."""
    try:
        typer.echo(text)
    except OSError:  # a broken pipe (`exch demo | tee` whose tee died), or a terminal that closed (EIO)
        _output_gone()


def _output_gone() -> None:
    """Send the rest of stdout to /dev/null (so neither later lines nor the exit's flush raise again)."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@contextlib.contextmanager
def _signals_ignored() -> Any:
    """While cleaning up, a second Ctrl-C must not leave processes behind."""
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _exch(*args: str) -> list[str]:
    return [sys.executable, "-m", "exchange", *args]


# --------------------------------------------------------------------------- users and output


async def _create_users(root: Path) -> list[str]:
    """The demo's human users, with cash and shares of every symbol; returns the symbols."""
    from client.errors import ExchError

    admin = await admin_session(root)
    try:
        symbols = [info.symbol for info in (await admin.symbols()).symbols]
        for user, password in DEMO_USERS:
            with contextlib.suppress(ExchError):  # kept from an earlier demo (--keep)
                await admin.user_add(user, password, cash=DEMO_CASH, positions={s: DEMO_SHARES for s in symbols})
        return symbols
    finally:
        await admin.close()


def _banner(root: Path, url: str, symbols: list[str], bots: int, rate: float) -> None:
    user, password = DEMO_USERS[0]
    shown = str(root).replace(str(Path.home()), "~", 1) if str(root).startswith(str(Path.home())) else str(root)
    typer.echo(f"""
exch demo: a live market on {url}   (data in {shown})
  {bots} robots trade {", ".join(symbols)} at {rate:g} orders/s   (log: {shown}/{BOTS_LOG})
  trade yourself, in another terminal:
      exch trade --home {shown} --user {user}        password: {password}
  (user {DEMO_USERS[1][0]} / password {DEMO_USERS[1][1]} is a second trader)
  Ctrl-C (q in the console) stops the robots and the server.
""")


def _console_command() -> Callable[[Path], None] | None:
    """``exch console`` in a child process, if this install has it (else None: the status line).

    A child, not in this process: when the terminal closes, the kernel hangs up the console
    (SIGHUP, default action: it ends) and this process stops the server and robots at once. In
    this process, a console meeting a dead terminal could block its own exit (Textual's output
    thread dies on the first write that fails, and stopping it then waits forever), and the
    clean-up behind it would never run.
    """
    from exchange.cli import app

    if not any(c.name == "console" for c in app.registered_commands):
        return None

    def open_console(root: Path) -> None:
        saved = _terminal_state()
        child = subprocess.Popen(_exch("console", "--home", str(root)))
        try:
            child.wait()
        finally:
            if child.poll() is None:  # the demo was stopped (SIGTERM, SIGHUP) with the console open
                _end(child, signal.SIGTERM, grace=5)
            if child.returncode != 0:
                _restore_terminal(saved)  # a console that did not quit by itself left the terminal raw

    return open_console


def _terminal_state() -> list[Any] | None:
    """The terminal's settings (None: no terminal)."""
    try:
        return termios.tcgetattr(sys.stdin.fileno())
    except (termios.error, OSError, ValueError):
        return None


def _restore_terminal(saved: list[Any] | None) -> None:
    """Put the terminal back as it was: its settings, the main screen, the cursor shown."""
    if saved is None:
        return
    with contextlib.suppress(termios.error, OSError, ValueError):
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
        os.write(sys.stdout.fileno(), b"\x1b[?1049l\x1b[?25h")


async def _status_line(root: Path, duration: float | None) -> None:
    """Print the market's state every second until Ctrl-C/SIGTERM, ``duration`` or the server's end."""
    from exchange.protocol import StatsMessage

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in _STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    session = await admin_session(root)
    latest: list[StatsMessage] = []
    session.on_message(lambda msg: latest.append(msg) if isinstance(msg, StatsMessage) else None, StatsMessage)
    session.on_close(lambda _closed: stop.set())
    await session.subscribe("stats")
    tty = sys.stdout.isatty()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            if latest:
                line = _format_stats(latest[-1])
                latest[:] = latest[-1:]
                typer.echo(("\r" + line + "\x1b[K") if tty else line, nl=not tty)
    finally:
        if tty:
            _say("")
        await session.close()
        for sig in _STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def _format_stats(stats: Any) -> str:
    from exchange.money import price

    prices = "  ".join(f"{symbol} {price(s.last)}" for symbol, s in stats.symbols.items())
    return (f"{time.strftime('%H:%M:%S')} seq {stats.journal_seq}  {stats.orders_per_s:.0f} orders/s  "
            f"{stats.trades_per_s:.0f} trades/s  {stats.clients} clients | {prices}")
