"""``exch trade``: the trading client (a terminal app) for one trader."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from exchange.cli.common import HomeOption, cli_errors, fail, server_running

if TYPE_CHECKING:
    from client.trade import TradeSettings

__all__ = ["trade", "trade_settings"]


def trade(
    home: Path | None = HomeOption,
    url: str | None = typer.Option(None, help="Server URL, wss://HOST:PORT/ws (default: the local server's)."),
    user: str | None = typer.Option(None, help="Username to log in as (the password is asked for)."),
    cafile: Path | None = typer.Option(None, help="The server's CA certificate (its $EXCH_HOME/tls/ca.pem) "
                                      "when the server runs on another machine."),
    symbol: str | None = typer.Option(None, help="Symbol to show first (default: the first listed)."),
    collar: float = typer.Option(10.0, min=0.0, metavar="PERCENT",
                                 help="Ask before sending a limit order priced more than this far from the last "
                                 "trade (or mid), in percent (0: never ask)."),
) -> None:
    """Trade: log in, watch the level-3 book, place and cancel orders (password: typed, or $EXCH_PASSWORD)."""
    with cli_errors():
        if cafile is not None and not cafile.is_file():
            fail(f"--cafile {cafile}: no such file")
        if url is not None and not url.lower().startswith(("wss://", "ws://")):
            fail(f"--url {url}: not a wss:// URL (e.g. wss://127.0.0.1:8443/ws)")
        from client.trade import TradeApp

        settings = trade_settings(home, url=url, user=user, cafile=cafile, symbol=symbol, collar=collar)
        app = TradeApp(settings)
        app.run()
        raise typer.Exit(app.return_code or 0)


def trade_settings(
    home: Path | None,
    *,
    url: str | None = None,
    user: str | None = None,
    cafile: Path | None = None,
    symbol: str | None = None,
    collar: float = 10.0,
) -> TradeSettings:
    """The app's settings from the command line; without a server on the home, a notice of where it looked."""
    from client.trade import TradeSettings
    from exchange.cli.finding import no_server

    settings = TradeSettings.make(
        home, url=url, user=user, cafile=cafile, symbol=symbol.upper() if symbol else None,
        password=os.environ.get("EXCH_PASSWORD") or None, collar=collar / 100,
    )
    if url is None and not server_running(settings.home):
        settings.notice = no_server(settings.home, "exch trade" + (f" --user {user}" if user else ""))
    return settings
