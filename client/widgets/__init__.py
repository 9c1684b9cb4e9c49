"""Textual widgets shared by the operator console and the trading client."""

from client.widgets.linkbar import LinkBar

__all__ = ["LinkBar"]
