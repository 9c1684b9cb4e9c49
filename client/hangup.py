"""A Textual app whose terminal goes away quits the way its quit key does.

When the terminal closes (the ssh session drops, the terminal window or tmux
pane is killed) the process gets SIGHUP. Python's default action ends it on the
spot, skipping the app's own shutdown; and where a parent installed a handler of
its own (``exch demo`` turns SIGHUP into Ctrl-C, to stop its server and robots),
Textual's input thread is left polling a terminal that only answers "end of
file" — one core at 100 % forever, and nothing ends the app. So both apps, while
they run, take SIGHUP themselves and run their ``quit`` action: the link is
closed, the terminal let go, and the caller goes on (the demo stops its server
and robots).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any

from textual.app import App

__all__ = ["quit_on_hangup"]


def quit_on_hangup(app: App[Any]) -> Callable[[], None]:
    """From now on SIGHUP runs ``app``'s ``quit`` action; returns the undo (call it on unmount).

    The undo puts back the SIGHUP handler there was before (the demo's, or the default).
    Where there is no terminal to lose (a headless app: tests) or signals cannot be taken (not the
    main thread, no SIGHUP on this platform) this does nothing.
    """
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None or app.is_headless:
        return lambda: None
    try:
        loop = asyncio.get_running_loop()
        before = signal.getsignal(hangup)
        loop.add_signal_handler(hangup, lambda: app.call_later(app.run_action, "quit"))
    except (RuntimeError, ValueError, NotImplementedError):  # no loop, not the main thread, no support
        return lambda: None

    def undo() -> None:
        with contextlib.suppress(RuntimeError, ValueError):
            loop.remove_signal_handler(hangup)
            signal.signal(hangup, before if before is not None else signal.SIG_DFL)

    return undo
