"""``exch version`` and ``exch --version``: the version and which engine build is installed."""

from __future__ import annotations

import platform

import typer

from exchange import __version__
from exchange.engine.buildinfo import engine_build

__all__ = ["print_version", "version", "version_line"]


def version_line() -> str:
    """``exch X.Y.Z, engine: compiled (mypyc), Python 3.11.7``: what a bug report needs first."""
    return f"exch {__version__}, engine: {engine_build().description}, Python {platform.python_version()}"


def version() -> None:
    """Print the version, the engine build (compiled or pure Python, and why) and Python's version."""
    typer.echo(version_line())


def print_version(value: bool) -> None:
    """The eager ``--version`` option: print :func:`version_line` and exit."""
    if value:
        typer.echo(version_line())
        raise typer.Exit()
