"""The fat-finger check: an order priced far from the market is sent only when the trader says so."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

__all__ = ["ConfirmOrder"]


class ConfirmOrder(ModalScreen[bool]):
    """``y`` sends; ``n``, Escape or Enter (on the focused *Don't send*) does not; dismissed with the answer.

    Args:
        order: the order in words (``sell 10 CHIP @ 45.01``).
        why: how far its price is from what (``80.0% above the last trade 25.00``).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Send", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "Don't send", id="confirm.no"),
    ]

    def __init__(self, order: str, why: str) -> None:
        super().__init__()
        self.order = order
        self.why = why

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="modal-box") as box:
            box.border_title = "Price far from the market"
            yield Static(Text.assemble((self.order, "bold"), f"\nis priced {self.why}.\nSend it anyway?"))
            with Horizontal(classes="buttons"):
                yield Button("Send (y)", variant="warning", compact=True, id="confirm-yes")
                yield Button("Don't send (n)", variant="primary", compact=True, id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, send: bool) -> None:
        """Close with the answer."""
        self.dismiss(send)
