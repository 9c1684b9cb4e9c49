"""Replace an open order: a new price and/or open quantity, checked against tick and lot."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from client import format as fmt
from client.trade.validate import MAX_VALUE
from client.trade.widgets.number_input import NumberInput
from exchange.protocol import OrderInfo, SymbolInfo

__all__ = ["ReplaceScreen", "ReplaceValues"]

ReplaceValues = tuple[int | None, int | None]
"""``(new price or None, new open qty or None)``."""


class ReplaceScreen(ModalScreen[ReplaceValues | None]):
    """Edit price and open quantity; Enter sends, Escape leaves the order as it is.

    Lowering only the quantity keeps the order's place in the queue; anything else
    sends it to the back of its (new) level — said on the screen.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Back", id="replace.back"),
    ]

    def __init__(self, order: OrderInfo, rules: SymbolInfo | None) -> None:
        super().__init__()
        self.order = order
        self.rules = rules
        self.error = ""

    def compose(self) -> ComposeResult:
        o = self.order
        with Vertical(id="replace-box", classes="modal-box") as box:
            box.border_title = f"Replace #{o.order_id}"
            yield Static(Text.assemble(
                (o.side.upper(), "bold green" if o.side == "buy" else "bold red"),
                f" {o.symbol} {fmt.qty(o.remaining)} open of {fmt.qty(o.qty)} @ {fmt.price(o.price)}",
            ))
            with Horizontal(classes="replace-row"):
                yield Label("Price", classes="entry-label")
                yield NumberInput("0123456789.,", value=fmt.price(o.price), id="replace-price")
            with Horizontal(classes="replace-row"):
                yield Label("Open qty", classes="entry-label")
                yield NumberInput("0123456789,_", value=str(o.remaining), id="replace-qty")
            yield Static("A smaller quantity keeps the queue place; any other change re-queues.", classes="hint")
            yield Static(id="replace-msg")
            with Horizontal(classes="buttons"):
                yield Button("Replace", variant="primary", compact=True, id="replace-ok")
                yield Button("Back", compact=True, id="replace-cancel")

    def on_mount(self) -> None:
        self.query_one("#replace-price", Input).focus()

    def check(self) -> ReplaceValues:
        """The changed values, checked.

        Raises:
            ValueError: what to fix.
        """
        price = fmt.parse_price(self.query_one("#replace-price", Input).value)
        qty = fmt.parse_qty(self.query_one("#replace-qty", Input).value)
        tick = self.rules.tick if self.rules else 1
        lot = self.rules.lot if self.rules else 1
        if price > MAX_VALUE or qty > MAX_VALUE:
            raise ValueError("too large")
        if price % tick:
            raise ValueError(f"{fmt.price(price)} is not a multiple of the tick {fmt.price(tick)}")
        if qty % lot:
            raise ValueError(f"{fmt.qty(qty)} is not a multiple of the lot {lot}")
        new_price = None if price == self.order.price else price
        new_qty = None if qty == self.order.remaining else qty
        if new_price is None and new_qty is None:
            raise ValueError("nothing changed")
        return new_price, new_qty

    @on(Input.Submitted)
    @on(Button.Pressed, "#replace-ok")
    def _submit(self) -> None:
        try:
            values = self.check()
        except ValueError as exc:
            self.error = str(exc)
            self.query_one("#replace-msg", Static).update(Text(f"✗ {exc}", style="bold red"))
            return
        self.dismiss(values)

    @on(Button.Pressed, "#replace-cancel")
    def action_dismiss_none(self) -> None:
        """Close without replacing."""
        self.dismiss(None)
