"""Finding the server a command talks to, and saying where it looked when there is none.

A newcomer runs ``exch demo`` (its server lives in the demo's home) and then
``exch trade --user demo`` or ``exch status`` without ``--home``: those look in
the default home, find nothing, and must say so — where they looked, and that
the demo's server runs elsewhere (with the flag that reaches it).
"""

from __future__ import annotations

import os
from pathlib import Path

from exchange.cli.common import server_running

__all__ = ["demo_home", "home_given", "no_server", "running_demo"]


def demo_home() -> Path:
    """Where ``exch demo`` keeps its data by default."""
    from exchange.cli.demo import DEMO_HOME

    return DEMO_HOME.expanduser()


def running_demo(besides: Path) -> Path | None:
    """The default demo home when its server runs and it is not ``besides``; else None."""
    demo = demo_home()
    if demo.resolve() == besides.expanduser().resolve() or not demo.is_dir():
        return None
    return demo if server_running(demo) else None


def home_given(home: Path | None) -> bool:
    """Whether the user chose a home (``--home`` or ``$EXCH_HOME``) rather than the default."""
    return home is not None or bool(os.environ.get("EXCH_HOME"))


def no_server(root: Path, command: str = "") -> str:
    """``no exch server is running on HOME`` and, when the demo's server runs, how to reach it.

    Args:
        root: the home that was looked in.
        command: the command to suggest with ``--home DEMO`` (e.g. ``exch trade --user demo``).
    """
    text = f"no exch server is running on {root}"
    demo = running_demo(root)
    if demo is not None:
        text += f"; the demo's server runs on {demo}: {command or 'exch …'} --home {demo}"
    return text
