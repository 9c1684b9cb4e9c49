"""What every ``exch`` command shares: options, one-line errors, the admin link."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from exchange.paths import home_dir
from exchange.serving.limits import GatewayLimits, MiB

if TYPE_CHECKING:
    from exchange.store.base import Store

__all__ = [
    "DbOption",
    "HomeOption",
    "admin_session",
    "cli_errors",
    "fail",
    "listener_limits",
    "resolve_home",
    "run",
    "server_running",
]

T = TypeVar("T")

HomeOption = typer.Option(
    None, "--home", envvar="EXCH_HOME", help="Data directory (default ~/.local/share/exch).", show_default=False
)
DbOption = typer.Option(
    None, "--db", envvar="EXCH_DB", help="Store URL: postgresql://… (default: SQLite in the home).",
    show_default=False,
)


# The options of every listener (exch serve, exch marketdata), defined once.
HostOption = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for every interface).")
CertfileOption = typer.Option(None, help="PEM certificate (chain) to serve instead of the local CA's.")
KeyfileOption = typer.Option(None, help="PEM private key of --certfile.")
InsecureOption = typer.Option(False, "--insecure", help="Serve plain ws:// without TLS (local work only).")
TlsNameOption = typer.Option(
    [], "--tls-name", help="Extra name or IP the generated certificate is valid for, e.g. exch.example.com "
    "(repeatable).")
MessagesPerSOption = typer.Option(1000, help="Requests per second per connection (0: no limit).")
_DEFAULTS = GatewayLimits()
MaxConnectionsOption = typer.Option(_DEFAULTS.max_connections, min=1, help="Connections accepted at once (more: "
                                    "HTTP 503).")
MaxPerAddressOption = typer.Option(
    _DEFAULTS.max_per_address, min=0, help="Connections accepted at once from one client address, the one a "
    "--trusted-proxy names (more: HTTP 429; 0: no cap).")
MaxOutputOption = typer.Option(
    _DEFAULTS.max_output // MiB, "--max-output-mib", min=0, help="MiB of unread output all clients together may "
    "hold; past it the clients holding the most are closed with 1013 (0: no budget).")
TrustedProxyOption = typer.Option(
    [], "--trusted-proxy", metavar="CIDR", help="Network of a reverse proxy in front (e.g. 10.0.0.0/8) whose "
    "--proxy-header names the client (repeatable; default: none, headers ignored).")
ProxyHeaderOption = typer.Option(
    None, "--proxy-header", metavar="NAME", show_default=False, help="The one header a --trusted-proxy names the "
    "client in: x-forwarded-for (default), forwarded, fly-client-ip or x-real-ip; every other header is ignored, "
    "so pick one your proxy sets itself.")


def listener_limits(*, messages_per_s: float, orders_per_s: float, max_connections: int, max_per_address: int,
                    max_output_mib: int) -> GatewayLimits:
    """The limits of a listener from the options ``exch serve`` and ``exch marketdata`` share."""
    return GatewayLimits(messages_per_s=messages_per_s, orders_per_s=orders_per_s, max_connections=max_connections,
                         max_per_address=max_per_address, max_output=max_output_mib * MiB)


def check_cert_pair(certfile: Path | None, keyfile: Path | None) -> None:
    """``--certfile`` and ``--keyfile`` come together or not at all."""
    if (certfile is None) != (keyfile is None):
        fail("--certfile and --keyfile go together")


def check_trusted_proxies(values: list[str]) -> None:
    """Every ``--trusted-proxy`` value is a network; one readable error line if not."""
    from exchange.serving.forwarded import parse_network

    for value in values:
        try:
            parse_network(value)
        except ValueError as exc:
            fail(f"--trusted-proxy: {exc}")


def check_listener(certfile: Path | None, keyfile: Path | None, trusted: list[str], header: str | None) -> str:
    """The listener options ``exch serve`` and ``exch marketdata`` share, checked; the proxy header to read."""
    check_cert_pair(certfile, keyfile)
    check_trusted_proxies(trusted)
    return check_proxy_header(header, trusted)


def check_proxy_header(header: str | None, trusted: list[str]) -> str:
    """The ``--proxy-header`` to read (lower case, the default when not given); one readable error line if bad.

    Giving it without ``--trusted-proxy`` is an error too: it would do nothing.
    """
    from exchange.serving.forwarded import DEFAULT_HEADER, parse_header

    if header is None:
        return DEFAULT_HEADER
    try:
        name = parse_header(header)
    except ValueError as exc:
        fail(f"--proxy-header: {exc}")
    if not trusted:
        fail("--proxy-header needs --trusted-proxy (without one no header is read)")
    return name


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one readable line to stderr and exit non-zero."""
    typer.echo(f"exch: error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one line and a non-zero exit, never a traceback."""
    from client.errors import ClientError
    from exchange.home import AlreadyRunning
    from exchange.journal.recovery import RecoveryError
    from exchange.journal.writer import JournalError
    from exchange.store.base import StoreError
    from exchange.tls import TLSSetupError

    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    except (ClientError, StoreError, RecoveryError, JournalError, AlreadyRunning, TLSSetupError) as exc:
        fail(str(exc) or type(exc).__name__)
    except OSError as exc:
        fail(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))


def resolve_home(home: Path | None) -> Path:
    """The data directory from ``--home``, ``$EXCH_HOME`` or the default."""
    return home_dir(home)


@contextlib.contextmanager
def existing_store(db: str | None, home: Path | None) -> Iterator[Store]:
    """The store of an exchange that has run, closed on leaving (read-only commands never create one).

    Raises:
        ValueError: no SQLite database in the home (and no ``--db`` URL).
    """
    from exchange.paths import db_path
    from exchange.store import open_store

    root = resolve_home(home)
    if not db and not db_path(root).exists():
        raise ValueError(f"no exch data in {root} (start it with `exch serve`, or pass --home / --db)")
    store = open_store(db, home=root)
    try:
        yield store
    finally:
        store.close()


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion (uvloop when available)."""
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]


def server_running(home: Path) -> bool:
    """Whether a server process holds this home (its lock is taken)."""
    from exchange.home import AlreadyRunning, home_lock

    try:
        with home_lock(home):
            return False
    except AlreadyRunning:
        return True


def local_admin_password(home: Path) -> str:
    """The first admin's password on this machine: ``EXCH_ADMIN_PASSWORD``, else ``HOME/admin-password``.

    Raises:
        ValueError: neither is there.
    """
    from exchange.info import ADMIN_PASSWORD_FILE, read_admin_password

    secret = os.environ.get("EXCH_ADMIN_PASSWORD")
    if secret is None:
        secret = read_admin_password(home)
    if secret is None:
        raise ValueError(f"no admin password: set EXCH_ADMIN_PASSWORD or create {home / ADMIN_PASSWORD_FILE}")
    return secret


async def admin_session(
    home: Path, *, url: str | None = None, user: str = "admin", cafile: Path | None = None
) -> Any:
    """A logged-in admin :class:`client.Session` to the server running on ``home`` (or at ``url``, trusting
    ``cafile`` when given, else the home's CA), with the local admin password (:func:`local_admin_password`).

    Raises:
        ValueError: no server info or no admin password in ``home``.
    """
    from client import Session
    from exchange.info import read_server_info

    info = read_server_info(home)
    if url is None:
        if info is None:
            from exchange.cli.finding import no_server

            raise ValueError(no_server(home))
        url = info.url
    secret = local_admin_password(home)
    session = await Session.connect(url, cafile=cafile, home=home, insecure_ok=url.startswith("ws://"))
    try:
        await session.login(user, secret)
    except BaseException:
        await session.close()
        raise
    return session


def with_admin(home: Path, action: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``action(session)`` with an admin session to the local server."""

    async def go() -> T:
        session = await admin_session(home)
        try:
            return await action(session)
        finally:
            await session.close()

    return run(go())


def stdin_is_tty() -> bool:
    """Whether a person is at the keyboard."""
    return sys.stdin.isatty()
