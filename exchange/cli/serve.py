"""``exch serve``, ``exch status`` and ``exch stop``."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import typer

from exchange.cli.common import (
    CertfileOption,
    DbOption,
    HomeOption,
    HostOption,
    InsecureOption,
    KeyfileOption,
    MaxConnectionsOption,
    MaxOutputOption,
    MaxPerAddressOption,
    MessagesPerSOption,
    ProxyHeaderOption,
    TlsNameOption,
    TrustedProxyOption,
    check_listener,
    cli_errors,
    fail,
    listener_limits,
    resolve_home,
    run,
    server_running,
)
from exchange.files import private_umask
from exchange.paths import journal_dir

__all__ = ["serve", "status", "stop"]

PID_FILE = "exch.pid"
LOG_FILE = "exch.log"


def serve(
    home: Path | None = HomeOption,
    host: str = HostOption,
    port: int = typer.Option(8443, min=0, max=65535, help="TCP port (0: any free port)."),
    symbols: str | None = typer.Option(None, help="Comma-separated symbols to list if missing, e.g. ACME,BOLT."),
    db: str | None = DbOption,
    certfile: Path | None = CertfileOption,
    keyfile: Path | None = KeyfileOption,
    insecure: bool = InsecureOption,
    tls_name: list[str] = TlsNameOption,
    trusted_proxy: list[str] = TrustedProxyOption,
    proxy_header: str | None = ProxyHeaderOption,
    fsync: bool = typer.Option(False, "--fsync", help="synchronous=FULL: survive power loss, not just crashes."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background (pid and log in the home)."),
    messages_per_s: float = MessagesPerSOption,
    orders_per_s: float = typer.Option(500, help="Order requests per second per connection (0: no limit)."),
    max_connections: int = MaxConnectionsOption,
    max_per_address: int = MaxPerAddressOption,
    max_output_mib: int = MaxOutputOption,
    bcrypt_rounds: int = typer.Option(12, min=4, max=16, help="bcrypt cost of new password hashes."),
    bus: str | None = typer.Option(None, help="Publish market data to redis://HOST:PORT/DB?prefix=NAME (DB and prefix "
                                   "optional) for exch marketdata processes."),
    archive_to: Path | None = typer.Option(
        None, "--archive-to", metavar="DIR", help="At start and hourly, move journal segments no kept checkpoint "
        "needs into DIR (as exch journal archive --to DIR; default: keep the whole journal live)."),
    web: bool = typer.Option(True, "--web/--no-web", help="Serve the browser trading client at https://HOST:PORT/."),
) -> None:
    """Run the exchange: TLS WebSocket gateway, engine, journal (foreground unless --detach)."""
    with cli_errors():
        root = resolve_home(home)
        header = check_listener(certfile, keyfile, trusted_proxy, proxy_header)
        if archive_to is not None:
            archive_to = archive_to.expanduser().resolve()
            journal = journal_dir(root).resolve()
            if archive_to == journal or journal in archive_to.parents:
                fail(f"--archive-to must be outside the live journal ({journal})")
            if archive_to.exists() and not archive_to.is_dir():
                fail(f"--archive-to: {archive_to} is not a directory")
        if detach:
            _detach(root, port)
            return
        from exchange.server import ServerConfig, run_server

        config = ServerConfig(
            home=root, host=host, port=port,
            symbols=[s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else (),
            db=db, certfile=certfile, keyfile=keyfile, insecure=insecure, tls_names=tls_name, fsync=fsync,
            bcrypt_rounds=bcrypt_rounds, bus=bus, trusted_proxies=trusted_proxy, proxy_header=header,
            archive_to=archive_to, web=web,
            limits=listener_limits(messages_per_s=messages_per_s, orders_per_s=orders_per_s,
                                   max_connections=max_connections, max_per_address=max_per_address,
                                   max_output_mib=max_output_mib),
        )
        code = run(run_server(config))
        raise typer.Exit(code)


def _detach(root: Path, port: int) -> None:
    if server_running(root):
        fail(f"an exch server is already running on {root} (exch status)")
    private_umask()  # the pid and log files, like the whole home, are the owner's only
    root.mkdir(parents=True, exist_ok=True)
    args = [a for a in sys.argv[1:] if a not in ("--detach", "-d")]
    log_path = root / LOG_FILE
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "exchange", *args, "--home", str(root)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    (root / PID_FILE).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"the server exited with code {proc.returncode}; see {log_path}")
        health = _health(root)
        if health is not None and health.get("status") == "ok":
            from exchange.info import read_server_info

            info = read_server_info(root)
            typer.echo(f"exch serving {info.url if info else '?'} in the background (pid {proc.pid}, log {log_path})")
            return
        time.sleep(0.2)
    fail(f"the server did not answer /healthz within 60 s; see {log_path}")


def _health(root: Path) -> dict[str, Any] | None:
    """GET /healthz of the server on ``root`` (None if it does not answer)."""
    from exchange.info import read_server_info
    from exchange.tls import client_context

    info = read_server_info(root)
    if info is None:
        return None
    scheme = "https" if info.tls else "http"
    host = "127.0.0.1" if info.host in ("0.0.0.0", "") else ("::1" if info.host == "::" else info.host)
    shown = f"[{host}]" if ":" in host else host
    context: ssl.SSLContext | None = client_context(home=root) if info.tls else None
    try:
        with urllib.request.urlopen(f"{scheme}://{shown}:{info.port}/healthz", timeout=2, context=context) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data
    except urllib.error.HTTPError as exc:
        try:
            data = json.loads(exc.read())
            return data
        except ValueError:
            return {"status": "unavailable"}
    except (OSError, ValueError):
        return None


def status(home: Path | None = HomeOption) -> None:
    """Say whether the exchange runs, where, since when, with how many clients (without --home: the demo's too)."""
    with cli_errors():
        from exchange.cli.finding import home_given, running_demo

        root = resolve_home(home)
        if server_running(root):
            raise typer.Exit(_report(root))
        typer.echo(f"exch is not running (home {root})")
        demo = None if home_given(home) else running_demo(root)
        if demo is None:
            raise typer.Exit(3)
        typer.echo(f"the demo is running (home {demo}; pass --home {demo} to other commands):")
        raise typer.Exit(_report(demo))


def _report(root: Path) -> int:
    """Print the running server of ``root`` in one line; the exit code (0 running, 1 not answering)."""
    from exchange.info import read_server_info

    info = read_server_info(root)
    health = _health(root)
    if info is None or health is None:
        typer.echo(f"exch is starting or not answering (home {root})")
        return 1
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.started_ts / 1e9))
    typer.echo(
        f"exch is running: {info.url}, pid {info.pid}, since {since} "
        f"(up {health.get('uptime_s', 0):.0f} s), {health.get('clients', 0)} clients, "
        f"engine seq {health.get('seq', 0)}, status {health.get('status')}"
    )
    return 0


def stop(
    home: Path | None = HomeOption,
    timeout: float = typer.Option(60.0, help="Seconds to wait for a clean stop."),
) -> None:
    """Stop the background exchange cleanly (SIGTERM) and wait for it to exit."""
    with cli_errors():
        from exchange.info import read_server_info

        root = resolve_home(home)
        info = read_server_info(root)
        pid = info.pid if info else _pid_from_file(root)
        if not server_running(root) or pid is None:
            fail(f"no exch server is running on {root}")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not server_running(root):
                (root / PID_FILE).unlink(missing_ok=True)
                typer.echo(f"exch stopped (pid {pid})")
                return
            time.sleep(0.1)
        fail(f"the server (pid {pid}) did not stop within {timeout:.0f} s")


def _pid_from_file(root: Path) -> int | None:
    try:
        return int((root / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
