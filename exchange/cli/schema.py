"""``exch schema``: print (or write) the protocol's machine-readable contract."""

from __future__ import annotations

from pathlib import Path

import typer

from exchange.protocol.schema import asyncapi_bytes, json_schema_bytes

__all__ = ["schema"]


def schema(
    asyncapi: bool = typer.Option(False, "--asyncapi", help="The AsyncAPI 3 document instead of the JSON Schema."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file instead of standard output."),
) -> None:
    """Print the JSON Schema of every request and message (what GET /api/schema.json serves)."""
    body = asyncapi_bytes() if asyncapi else json_schema_bytes()
    if out is None:
        typer.echo(body.decode(), nl=False)
        return
    try:
        out.write_bytes(body)
    except OSError as exc:
        typer.echo(f"exch schema: cannot write {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
