"""The console's commands in the command palette (Ctrl+P): the admin actions, per symbol too."""

from __future__ import annotations

from functools import partial
from typing import Protocol, cast

from client.widgets.commands import Command, CommandList

__all__ = ["AdminCommands", "CommandHost"]


class CommandHost(Protocol):
    """What the provider needs from the app."""

    def action_add_user(self) -> None: ...
    def action_gift(self) -> None: ...
    def action_disable_user(self) -> None: ...
    def action_enable_user(self) -> None: ...
    def action_change_password(self) -> None: ...
    def open_symbol_form(self, action: str, symbol: str = "") -> None: ...
    def symbol_names(self) -> list[str]: ...


class AdminCommands(CommandList):
    """Add user, gift, disable, enable, change password, and halt/resume for each listed symbol."""

    discovered = 7  # the admin actions, not each symbol's

    def commands(self) -> list[Command]:
        host = cast(CommandHost, self.app)
        commands: list[Command] = [
            ("Add user", host.action_add_user, "Create a trader or admin with cash and shares"),
            ("Gift cash or shares", host.action_gift, "Deposit cash and/or shares to a user"),
            ("Disable user", host.action_disable_user, "Close a user's sessions and refuse their logins"),
            ("Enable user", host.action_enable_user, "Let a disabled user log in again"),
            ("Change password", host.action_change_password,
             "Set a user's password; closes their sessions and revokes their tokens"),
            ("Halt a symbol", partial(host.open_symbol_form, "halt"), "Refuse new orders on a symbol"),
            ("Resume a symbol", partial(host.open_symbol_form, "resume"), "Accept orders on a symbol again"),
        ]
        for symbol in host.symbol_names():
            commands.append((f"Halt {symbol}", partial(host.open_symbol_form, "halt", symbol), f"Halt {symbol}"))
            commands.append((f"Resume {symbol}", partial(host.open_symbol_form, "resume", symbol),
                             f"Resume trading in {symbol}"))
        return commands
