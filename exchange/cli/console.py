"""``exch console``: the operator console (Textual), connected as an admin."""

from __future__ import annotations

from pathlib import Path

import typer

from exchange.cli.common import HomeOption, cli_errors, resolve_home

__all__ = ["console"]


def console(
    home: Path | None = HomeOption,
    url: str | None = typer.Option(
        None, "--url", envvar="EXCH_URL", show_default=False,
        help="Server URL wss://HOST:PORT/ws (default: the server running on the home).",
    ),
    user: str = typer.Option("admin", "--user", help="Admin user name."),
    cafile: Path | None = typer.Option(
        None, "--cafile", show_default=False,
        help="CA certificate to trust (the server's HOME/tls/ca.pem; default: the home's, and the system roots).",
    ),
) -> None:
    """Watch and operate a running exchange: symbols, server, sessions, tape; add users, gift, halt.

    On the server machine it finds the URL, CA and admin password in the home by
    itself; elsewhere give --url (and --cafile) and it asks for the password
    (or set EXCH_ADMIN_PASSWORD).
    """
    with cli_errors():
        from console.app import ConsoleApp
        from console.config import resolve

        config = resolve(resolve_home(home), url=url, user=user, cafile=cafile)
        if config.url is not None and not config.url.startswith(("wss://", "ws://")):
            raise ValueError(f"--url must look like wss://HOST:PORT/ws, not {config.url!r}")
        ConsoleApp(config).run()
