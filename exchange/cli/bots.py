"""``exch bots``: trading robots that keep a market moving (``client/bots``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from exchange.cli.common import HomeOption, admin_session, cli_errors, fail, resolve_home, run

if TYPE_CHECKING:
    from client.bots import BotFarm

__all__ = ["bots", "run_bots"]


def bots(
    url: str | None = typer.Option(None, help="Server URL, wss://HOST:PORT/ws (default: the server of --home)."),
    home: Path | None = HomeOption,
    count: int = typer.Option(5, min=1, max=200, help="How many bots (1 maker per 10, 1 momentum, the rest noise)."),
    symbols: str | None = typer.Option(None, help="Comma-separated symbols to trade (default: every listed one)."),
    seed: int = typer.Option(1, help="Seed of every random choice the bots make."),
    rate: float = typer.Option(20.0, min=0.1, help="Order requests per second, all bots together."),
    duration: float = typer.Option(0.0, min=0.0, help="Stop after this many seconds (0: until Ctrl-C)."),
    prefix: str = typer.Option("bot", help="User names are PREFIX-maker-1, PREFIX-noise-1, …"),
    cafile: Path | None = typer.Option(None, help="CA certificate to trust (default: HOME/tls/ca.pem)."),
    status_every: float = typer.Option(5.0, min=0.0, help="Seconds between status lines (0: none)."),
) -> None:
    """Run trading robots: they log in as their own users (created and funded through the admin)."""
    with cli_errors():
        root = resolve_home(home)
        wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else []
        if cafile is not None and not cafile.is_file():
            fail(f"CA file not found: {cafile}")
        code = run(run_bots(root, url=url, count=count, symbols=wanted, seed=seed, rate=rate,
                            duration=duration or None, prefix=prefix, cafile=cafile, status_every=status_every))
        raise typer.Exit(code)


async def run_bots(
    home: Path,
    *,
    url: str | None,
    count: int,
    symbols: list[str],
    seed: int,
    rate: float,
    duration: float | None,
    prefix: str,
    cafile: Path | None,
    status_every: float,
) -> int:
    """Provision, start, run and stop a farm; SIGINT/SIGTERM stop it cleanly. Returns the exit code."""
    from client.bots import BotFarm, FarmConfig, PasswordBook, provision, roster, top_up
    from exchange.info import read_server_info

    if url is None:
        info = read_server_info(home)
        if info is None:
            raise ValueError(f"no running server found in {home} (no server.json); pass --url")
        url = info.url
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    admin = await admin_session(home, url=url, cafile=cafile)
    try:
        listed = [info.symbol for info in (await admin.symbols()).symbols]
        unknown = [s for s in symbols if s not in listed]
        if unknown:
            raise ValueError(f"unknown symbol {unknown[0]} (listed: {', '.join(listed)})")
        chosen = symbols or listed
        names = roster(count, prefix)
        passwords, created = await provision(admin, names, chosen, PasswordBook.in_home(home))
        if created:
            typer.echo(f"created {len(created)} bot users: {', '.join(created)}")
        farm = BotFarm(FarmConfig(url=url, symbols=chosen, count=count, seed=seed, rate=rate, prefix=prefix,
                                  cafile=cafile, home=home), passwords)
        try:
            await farm.start()
            deposits = await top_up(admin, farm.bots)
            if deposits:
                typer.echo(f"topped up the bots with {deposits} deposits")
        except BaseException:
            await farm.stop()
            raise
    finally:
        await admin.close()
    typer.echo(f"{count} bots trading {', '.join(chosen)} at {rate:g} orders/s on {url} (seed {seed}); "
               "Ctrl-C stops them and cancels their orders")
    reporter = asyncio.create_task(_report(farm, status_every)) if status_every else None
    try:
        await farm.run(stop, duration)
    finally:
        if reporter is not None:
            reporter.cancel()
        await farm.stop()
    typer.echo("bots stopped, their orders canceled: " + farm.status_line())
    return 0


async def _report(farm: BotFarm, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        typer.echo(farm.status_line())
