"""``exch trades``: query and export the trade database."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

import typer

from exchange.cli.common import DbOption, HomeOption, cli_errors, existing_store, fail
from exchange.money import price

__all__ = ["parse_since", "trades"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
COLUMNS = ("trade_id", "time", "symbol", "price", "qty", "side", "maker_user", "maker_order_id",
           "taker_user", "taker_order_id", "seq")  # fmt: skip


def parse_since(text: str, *, now: float | None = None) -> int:
    """Nanoseconds since the epoch from ``30m``/``2h``/``7d`` ago or an ISO date/time (UTC if naive).

    Raises:
        ValueError: neither form.
    """
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if m:
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
        return int(((time.time() if now is None else now) - seconds) * 1e9)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since takes a duration like 30m, 2h, 7d or an ISO date/time, not {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1e9)


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns // 1000 / 1e6, dt.UTC).isoformat(timespec="microseconds")


def trades(
    since: str | None = typer.Option(
        None, "--since", help="From this time on: 30m, 2h, 7d, or an ISO date/time."
    ),
    symbol: str | None = typer.Option(None, "--symbol", help="Only this symbol."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on standard output (all rows)."),
    limit: int = typer.Option(
        100, "--limit", min=0, help="Rows shown in the table (0: all); --csv shows all."
    ),
    home: Path | None = HomeOption,
    db: str | None = DbOption,
) -> None:
    """List trades from the trade database (prices in dollars, newest last)."""

    with cli_errors():
        try:
            start = parse_since(since) if since is not None else None
        except ValueError as exc:
            fail(str(exc))
        with existing_store(db, home) as store:
            rows = store.trades(since=start, symbol=symbol.upper() if symbol else None)
            names = {u.id: u.name for u in store.users()}
            if as_csv:
                out = csv.writer(sys.stdout, lineterminator="\n")
                try:
                    out.writerow(COLUMNS)
                    for t in rows:
                        out.writerow((t.trade_id, _iso(t.ts), t.symbol, price(t.price), t.qty, t.side,
                                      names.get(t.maker_user, t.maker_user), t.maker_order_id,
                                      names.get(t.taker_user, t.taker_user), t.taker_order_id, t.seq))
                    sys.stdout.flush()
                except BrokenPipeError:  # `exch trades --csv | head`: the reader has had enough
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
                return
            from rich.console import Console
            from rich.table import Table

            everything = list(rows)
            shown = everything[-limit:] if limit else everything
            table = Table(title=f"trades ({len(shown):,} of {len(everything):,})")
            for column in COLUMNS:
                table.add_column(column, justify="left" if column in ("time", "symbol", "side") else "right")
            for t in shown:
                table.add_row(str(t.trade_id), _iso(t.ts), t.symbol, price(t.price), f"{t.qty:,}", t.side,
                              str(names.get(t.maker_user, t.maker_user)), str(t.maker_order_id),
                              str(names.get(t.taker_user, t.taker_user)),
                              str(t.taker_order_id), str(t.seq))  # fmt: skip
            Console(width=None if sys.stdout.isatty() else 200).print(table)
