"""The ``exch`` command: one Typer app, one sub-app or module per area."""

from __future__ import annotations

import typer

from exchange.cli import bench, bots, console, demo, health, marketdata, schema, serve, trade, users, version
from exchange.cli import journal as journal_cli
from exchange.cli import trades as trades_cli
from exchange.cli.help import quiet_flags
from exchange.files import private_umask

__all__ = ["app", "main"]

quiet_flags()
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="exch: a stock exchange you can download, run and put on the internet.",
)
# Listed in the order a newcomer meets them: try it, run it, use it, operate it, measure it.
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("status")(serve.status)
app.command("stop")(serve.stop)
app.command("console")(console.console)
app.command("trade")(trade.trade)
app.add_typer(users.app, name="user")
app.command("bots")(bots.bots)
app.command("marketdata")(marketdata.marketdata)
app.command("health")(health.health)
app.add_typer(journal_cli.app, name="journal")
app.command("replay")(journal_cli.replay)
app.command("trades")(trades_cli.trades)
app.add_typer(bench.app, name="bench")
app.command("schema")(schema.schema)
app.command("version")(version.version)


@app.callback()
def root(
    show_version: bool = typer.Option(
        False, "--version", is_eager=True, callback=version.print_version,
        help="Print the version and the engine build (compiled or pure Python), then exit.",
    ),
) -> None:
    """exch: a stock exchange you can download, run and put on the internet."""


def main() -> None:
    """Entry point of the ``exch`` console script.

    Every file an exch command creates (server home, robots' log, market-data info,
    archives) is its owner's only, whatever the caller's umask.
    """
    private_umask()
    app()
