"""``exch bench …``: benchmarks that print one JSON object each."""

from __future__ import annotations

import json

import typer

from exchange.cli.common import cli_errors

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Measure exch; each benchmark prints one JSON object.")


@app.command("engine")
def engine(
    commands: int = typer.Option(1_000_000, "--commands", "-n", min=1_000, help="Commands in the stream."),
    users: int = typer.Option(1_000, min=2, help="Distinct users sending orders."),
    seed: int = typer.Option(1, help="Seed of the generated stream."),
) -> None:
    """The matching engine alone on the standard mix (DESIGN.md)."""
    from exchange.bench.engine import run

    typer.echo(json.dumps(run(commands, seed=seed, users=users)))


@app.command("gateway")
def gateway(
    connections: int = typer.Option(8, min=1, help="Load-client connections."),
    window: int = typer.Option(8, min=1, help="Requests in flight per connection."),
    seconds: float = typer.Option(5.0, min=1.0, help="Seconds per phase."),
    rate: int = typer.Option(5_000, min=100, help="Orders/s of the fixed-rate latency phase."),
    depth: int = typer.Option(8, min=1, help="Batch frames in flight per connection in the batch phase."),
) -> None:
    """Orders acknowledged over TLS with journaling, against a bare websockets echo server.

    Exits 1 when a phase failed (named in the JSON's ``failed``) or lost an ack.
    """
    from exchange.bench.gateway import run

    with cli_errors():
        result = run(connections=connections, window=window, seconds=seconds, rate=rate, depth=depth)
    typer.echo(json.dumps(result))
    if result["failed"]:
        raise typer.Exit(1)


@app.command("journal")
def journal(
    records: int = typer.Option(
        1_000_000, "--records", "-n", min=1_000, help="Records after the checkpoint."
    ),
    postgres_records: int = typer.Option(200_000, min=1_000, help="Records appended to PostgreSQL."),
    postgres_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/test", "--postgres", help="Server for the PostgreSQL append."
    ),
    seed: int = typer.Option(1, help="Seed of the generated stream."),
) -> None:
    """Journal append (SQLite, PostgreSQL), replay rate and restart time."""
    from exchange.bench.journal import run

    result = run(records, postgres_records=postgres_records, postgres_url=postgres_url, seed=seed)
    typer.echo(json.dumps(result))


@app.command("marketdata")
def marketdata(
    subscribers: int = typer.Option(1_000, min=1, help="Subscribers to conflated level2 + ticker."),
    l3_subscribers: int = typer.Option(100, min=0, help="How many of them also take every level3 message."),
    interval_ms: int = typer.Option(100, min=50, help="Conflation interval."),
    rate: int = typer.Option(1_000, min=10, help="Book changes per second the driver makes."),
    seconds: float = typer.Option(10.0, min=1.0, help="Seconds per phase."),
    idle: int = typer.Option(10_000, min=0, help="Idle connections for the memory phase (0: skip)."),
    procs: int = typer.Option(2, min=1, help="Load processes the subscribers are spread over."),
    redis: str | None = typer.Option(None, help="Serve through two exch marketdata processes behind this Redis."),
) -> None:
    """Fan-out of one exchange process, and memory per idle connection."""
    from exchange.bench.marketdata import run

    with cli_errors():
        result = run(subscribers=subscribers, l3_subscribers=l3_subscribers, interval_ms=interval_ms,
                     rate=rate, seconds=seconds, idle=idle, procs=procs, redis=redis)
    typer.echo(json.dumps(result))


@app.command("soak")
def soak(
    seconds: float = typer.Option(60.0, min=1.0, max=86_400.0, help="Seconds of load before the restart check."),
    traders: int = typer.Option(4, min=1, max=100, help="Traders placing, canceling and replacing orders."),
    churners: int = typer.Option(20, min=0, max=1_000, help="Loops that connect, log in or subscribe, and close."),
    slow_readers: int = typer.Option(10, min=0, max=1_000, help="level3 subscribers that never read."),
    fuzzers: int = typer.Option(2, min=0, max=100, help="Connections sending random and hostile frames."),
) -> None:
    """Trading, connection churn, slow readers and fuzzed frames at once, then a restart that must lose no ack."""
    from exchange.bench.soak import run

    with cli_errors():
        result = run(seconds=seconds, traders=traders, churners=churners, slow_readers=slow_readers,
                     fuzzers=fuzzers)
    typer.echo(json.dumps(result))
