"""``--help`` as a person reads it: an on/off flag shows no ``<bool>`` value type.

Typer's rich help prints a value type after every option, flags included
(``--keep <bool>``), which reads as if the flag took a value. :func:`quiet_flags`
makes the help of every ``exch`` command show a type only for options that take
a value. Called once when the CLI is imported.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

__all__ = ["quiet_flags"]


def quiet_flags() -> None:
    """Show no value type for flag options in the help (idempotent)."""
    shown = TyperOption.display_type_rich
    if getattr(shown, "_exch_quiet", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._exch_quiet = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
