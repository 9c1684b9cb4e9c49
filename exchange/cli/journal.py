"""``exch journal info|archive|restore`` and ``exch replay [--verify] [--archive DIR]``."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Literal

import typer

from exchange.cli.common import DbOption, HomeOption, cli_errors, existing_store

__all__ = ["app", "replay"]

app = typer.Typer(no_args_is_help=True, help="Inspect, archive and restore the durable journal.")


_SEGMENT_COLUMNS: tuple[tuple[str, Literal["left", "right"]], ...] = (
    ("location", "left"), ("first seq", "right"), ("last seq", "right"),
    ("records", "right"), ("size", "right"), ("created (UTC)", "left"),
)  # fmt: skip


def _when(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _count(n: int, noun: str) -> str:
    """``1 segment``, ``2 segments``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


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


    with cli_errors(), existing_store(db, home) as store:
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
        console.print(f"{_count(len(segments), 'segment')}, {last:,} committed records, {_size(total)}")
        archived = store.archived_segments()
        if archived:
            table = Table(title="archived segments (exch journal archive)")
            for column, justify in (("file", "left"), ("first seq", "right"), ("last seq", "right"),
                                    ("records", "right"), ("size", "right"), ("archived (UTC)", "left")):
                table.add_column(column, justify=justify)
            for entry in archived:
                table.add_row(entry.file, f"{entry.first_seq:,}", f"{entry.last_seq:,}", f"{entry.count:,}",
                              _size(entry.size), _when(entry.archived))  # fmt: skip
            console.print(table)
            dirs = ", ".join(dict.fromkeys(str(Path(e.file).parent) for e in archived))
            console.print(
                f"archived: records {archived[0].first_seq:,}..{archived[-1].last_seq:,} in "
                f"{_count(len(archived), 'segment')}, {_size(sum(e.size for e in archived))}, in {dirs}"
            )
        checkpoints = Table(title="checkpoints (newest first)")
        for column in ("seq", "records after it", "size", "created (UTC)"):
            checkpoints.add_column(column, justify="left" if column.startswith("created") else "right")
        for cp in store.checkpoints():
            checkpoints.add_row(f"{cp.seq:,}", f"{last - cp.seq:,}", _size(cp.size), _when(cp.created))
        console.print(checkpoints)


@app.command("archive")
def archive(
    to: Path = typer.Option(
        ..., "--to", help="Directory for the archived segment files (created if missing).", show_default=False
    ),
    keep_checkpoints: int | None = typer.Option(
        None, "--keep-checkpoints", min=1, show_default=False,
        help="Delete all but the newest N checkpoints first, so more can go (default: keep them all).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be archived; change nothing."),
    home: Path | None = HomeOption,
    db: str | None = DbOption,
) -> None:
    """Move segments no kept checkpoint needs out of the live journal into --to (safe while serving)."""
    from exchange.journal.archive import archive as run_archive

    with cli_errors():
        with existing_store(db, home) as store:
            result = run_archive(store, to, keep_checkpoints=keep_checkpoints, dry_run=dry_run,
                                 report=lambda line: typer.echo(line, err=True))  # fmt: skip
            live = store.segments()
        verb = "would archive" if dry_run else "archived"
        if result.pruned:
            seqs = ", ".join(str(seq) for seq in result.pruned)
            typer.echo(f"{'would delete' if dry_run else 'deleted'} checkpoints at seq {seqs} (--keep-checkpoints)")
        for moved in result.moved:
            seg = moved.segment
            kept = " (copy from an interrupted run)" if moved.reused else ""
            typer.echo(f"{verb} {moved.source}: records {seg.first_seq}..{seg.last_seq} ({seg.count:,} records, "
                       f"{_size(moved.freed)}) -> {moved.file}{kept}")  # fmt: skip
        if not result.moved:
            typer.echo(f"nothing to archive: {result.plan.reason or 'every eligible segment was archived meanwhile'}")
            return
        first, last = result.moved[0].segment.first_seq, result.moved[-1].segment.last_seq
        start = live[0].first_seq if live and not dry_run else last + 1
        typer.echo(f"{verb} {len(result.moved)} segments to {to}: records {first:,}..{last:,} "
                   f"({result.records:,} records), {_size(result.freed)} {'to free' if dry_run else 'freed'}; "
                   f"the live journal starts at seq {start:,} "
                   f"(oldest kept checkpoint: seq {result.plan.boundary:,})")  # fmt: skip


@app.command("restore")
def restore(
    archive_dir: list[Path] = typer.Option(
        ..., "--from", help="Directory holding the archived segment files (repeatable).", show_default=False
    ),
    home: Path | None = HomeOption,
    db: str | None = DbOption,
) -> None:
    """Put archived segments back into the live journal (all checked before anything changes)."""
    from exchange.journal.archive import restore as run_restore

    with cli_errors():
        with existing_store(db, home) as store:
            done = run_restore(store, archive_dir, report=lambda line: typer.echo(line, err=True))
            live = store.segments()
        if not done:
            typer.echo("nothing to restore: the catalog lists no archived segments")
            return
        for header, location in done:
            seg = header.segment
            typer.echo(f"restored {header.path}: records {seg.first_seq}..{seg.last_seq} -> {location}")
        typer.echo(f"restored {len(done)} segments; the live journal holds records "
                   f"{live[0].first_seq:,}..{live[-1].last_seq:,} again "
                   "(the archive files are left in place)")  # fmt: skip


def replay(
    verify: bool = typer.Option(
        False, "--verify", help="Compare with the newest checkpoint; exit 1 if they differ."
    ),
    archive_dir: list[Path] = typer.Option(
        [], "--archive", show_default=False,
        help="Directory of archived segments (exch journal archive --to) to read first (repeatable).",
    ),
    home: Path | None = HomeOption,
    db: str | None = DbOption,
) -> None:
    """Rebuild the state from the journal's first record (read-only); --verify checks it."""
    from exchange.journal.verify import verify as run_verify

    with cli_errors():
        with existing_store(db, home) as store:
            verdict = run_verify(store, progress=True, report=lambda line: typer.echo(line, err=True),
                                 archive=archive_dir)  # fmt: skip
        rate = verdict.replayed / verdict.seconds if verdict.seconds > 0 else 0.0
        typer.echo(f"replayed {verdict.replayed:,} records in {verdict.seconds:.2f} s ({rate:,.0f}/s); "
                   f"engine at seq {verdict.last_seq:,}")  # fmt: skip
        if verify:
            typer.echo(verdict.message)
            if not verdict.ok:
                raise typer.Exit(1)
