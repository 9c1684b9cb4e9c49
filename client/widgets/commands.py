"""A command palette provider (Ctrl+P) over a list of commands, for the console and the trading client."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["Command", "CommandList"]

Command = tuple[str, Callable[[], object], str]
"""A command's name, what it runs and its help line."""


class CommandList(Provider):
    """Lists :meth:`commands` before anything is typed, then those matching the query, best first."""

    discovered: ClassVar[int | None] = None
    """How many of the commands to list before anything is typed (None: all)."""

    def commands(self) -> list[Command]:
        """The commands offered now."""
        raise NotImplementedError

    async def discover(self) -> Hits:
        for name, action, help_text in self.commands()[: self.discovered]:
            yield DiscoveryHit(name, action, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), action, text=name, help=help_text)
