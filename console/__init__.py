"""``exch console``: the operator's live view of a running exchange, in the terminal (Textual).

It connects as an admin over the protocol only (``stats``, ``trades``,
``sessions``, ``user_list`` and ``/metrics``), keeps a plain model
(:mod:`console.model`) updated from the feed, and repaints it at a steady
rate. The admin panel (modal forms) adds users, gifts cash or shares,
disables users and halts or resumes symbols. See ``docs/console.md``.
"""

from console.app import ConsoleApp
from console.config import ConsoleConfig, resolve
from console.model import ConsoleModel

__all__ = ["ConsoleApp", "ConsoleConfig", "ConsoleModel", "resolve"]
