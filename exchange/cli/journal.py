"""``exch journal info`` and ``exch replay [--verify]``: look at and check the journal."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Literal

import typer

from exchange.cli.common import DbOption, HomeOption, cli_errors, open_existing_store

__all__ = ["app", "replay"]

app = typer.Typer(no_args_is_help=True, help="Inspect the durable journal.")


_SEGMENT_COLUMNS: tuple[tuple[str, Literal["left", "right"]], ...] = (
    ("location", "left"), ("first seq", "right"), ("last seq", "right"),
    ("records", "right"), ("size", "right"), ("created (UTC)", "left"),
)  # fmt: skip


def _when(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@app.command("info")
def info(home: Path | None = HomeOption, db: str | None = DbOption) -> None:
    """List the journal's segments (seq ranges, sizes) and the stored checkpoints."""
    from rich.console import Console
    from rich.table import Table


    with cli_errors():
        store = open_existing_store(db, home)
        try:
            console = Console(width=None if sys.stdout.isatty() else 200)
            segments = store.segments()
            table = Table(title=f"journal segments — {store.description}")
            for column, justify in _SEGMENT_COLUMNS:
                table.add_column(column, justify=justify)
            total = 0
            for seg in segments:
                size = store.segment_size(seg)
                total += size
                table.add_row(store.segment_location(seg), f"{seg.first_seq:,}", f"{seg.last_seq:,}",
                              f"{seg.count:,}", _size(size), _when(seg.created))  # fmt: skip
            console.print(table)
            last = segments[-1].last_seq if segments else 0
            console.print(f"{len(segments)} segments, {last:,} committed records, {_size(total)}")
            checkpoints = Table(title="checkpoints (newest first)")
            for column in ("seq", "records after it", "size", "created (UTC)"):
                checkpoints.add_column(column, justify="left" if column.startswith("created") else "right")
            for cp in store.checkpoints():
                checkpoints.add_row(f"{cp.seq:,}", f"{last - cp.seq:,}", _size(cp.size), _when(cp.created))
            console.print(checkpoints)
        finally:
            store.close()


def replay(
    verify: bool = typer.Option(
        False, "--verify", help="Compare with the newest checkpoint; exit 1 if they differ."
    ),
    home: Path | None = HomeOption,
    db: str | None = DbOption,
) -> None:
    """Rebuild the state from the journal's first record (read-only); --verify checks it."""
    from exchange.journal.verify import verify as run_verify

    with cli_errors():
        store = open_existing_store(db, home)
        try:
            verdict = run_verify(store, progress=True, report=lambda line: typer.echo(line, err=True))
        finally:
            store.close()
        rate = verdict.replayed / verdict.seconds if verdict.seconds > 0 else 0.0
        typer.echo(f"replayed {verdict.replayed:,} records in {verdict.seconds:.2f} s ({rate:,.0f}/s); "
                   f"engine at seq {verdict.last_seq:,}")  # fmt: skip
        if verify:
            typer.echo(verdict.message)
            if not verdict.ok:
                raise typer.Exit(1)
