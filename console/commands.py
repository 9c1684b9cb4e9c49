"""The console's commands in the command palette (Ctrl+P): the admin actions, per symbol too."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["AdminCommands", "CommandHost"]


class CommandHost(Protocol):
    """What the provider needs from the app."""

    def action_add_user(self) -> None: ...
    def action_gift(self) -> None: ...
    def action_disable_user(self) -> None: ...
    def open_symbol_form(self, action: str, symbol: str = "") -> None: ...
    def symbol_names(self) -> list[str]: ...


class AdminCommands(Provider):
    """Add user, gift, disable, and halt/resume for each listed symbol."""

    def _commands(self) -> list[tuple[str, Callable[[], None], str]]:
        host = cast(CommandHost, self.app)
        commands: list[tuple[str, Callable[[], None], str]] = [
            ("Add user", host.action_add_user, "Create a trader or admin with cash and shares"),
            ("Gift cash or shares", host.action_gift, "Deposit cash and/or shares to a user"),
            ("Disable user", host.action_disable_user, "Close a user's sessions and refuse their logins"),
            ("Halt a symbol", partial(host.open_symbol_form, "halt"), "Refuse new orders on a symbol"),
            ("Resume a symbol", partial(host.open_symbol_form, "resume"), "Accept orders on a symbol again"),
        ]
        for symbol in host.symbol_names():
            commands.append((f"Halt {symbol}", partial(host.open_symbol_form, "halt", symbol), f"Halt {symbol}"))
            commands.append((f"Resume {symbol}", partial(host.open_symbol_form, "resume", symbol),
                             f"Resume trading in {symbol}"))
        return commands

    async def discover(self) -> Hits:
        for name, action, help_text in self._commands()[:5]:
            yield DiscoveryHit(name, action, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), action, text=name, help=help_text)
