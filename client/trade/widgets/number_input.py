"""An :class:`~textual.widgets.Input` for prices and quantities that leaves letters to the screen.

A plain ``Input`` claims every printable key, which hides single-letter
bindings (``b`` buy, ``s`` sell, …) while it has focus. This one only claims
the characters a number can contain, so a trader can type ``100.25``, then
``b``, without leaving the field.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

__all__ = ["NumberInput"]


class NumberInput(Input):
    """A compact input that accepts (and consumes) only ``chars``."""

    def __init__(self, chars: str = "0123456789.,_", **kwargs: Any) -> None:
        kwargs.setdefault("compact", True)
        kwargs.setdefault("restrict", "[" + "".join("\\" + c if c in ".-]^\\" else c for c in chars) + "]*")
        super().__init__(**kwargs)
        self.chars = frozenset(chars)

    def check_consume_key(self, key: str, character: str | None) -> bool:
        """Claim only the characters of a number; letters go to the screen's bindings."""
        return character is not None and character in self.chars
