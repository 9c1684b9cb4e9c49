"""Replace an open order: a new price, open quantity and/or stop price, checked against tick and lot."""

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
from client.trade.validate import checked_price, checked_qty
from client.trade.widgets.number_input import NumberInput
from exchange.protocol import OrderInfo, SymbolInfo

__all__ = ["ReplaceScreen", "ReplaceValues"]

ReplaceValues = tuple[int | None, int | None, int | None]
"""``(new price or None, new open qty or None, new stop price or None)``."""


class ReplaceScreen(ModalScreen[ReplaceValues | None]):
    """Edit price, open quantity and (a stop waiting for its trigger) stop price; Enter sends, Escape leaves it.

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
            where = f" @ {fmt.price(o.price)}" if o.price is not None else " at market"
            stop = f" when {fmt.price(o.stop_price)} trades" if self.waiting else ""
            yield Static(Text.assemble(
                (o.side.upper(), "bold green" if o.side == "buy" else "bold red"),
                f" {o.symbol} {fmt.qty(o.remaining)} open of {fmt.qty(o.qty)}{where}{stop}",
            ))
            if self.waiting and o.stop_price is not None:
                with Horizontal(classes="replace-row"):
                    yield Label("Stop", classes="entry-label")
                    yield NumberInput("0123456789.,", value=fmt.price(o.stop_price), id="replace-stop")
            if o.price is not None:
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

    @property
    def waiting(self) -> bool:
        """Whether the order is a stop still waiting for its trigger (its stop price can move)."""
        return self.order.stop_price is not None and not self.order.triggered

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def check(self) -> ReplaceValues:
        """The changed values, checked.

        Raises:
            ValueError: what to fix.
        """
        tick = self.rules.tick if self.rules else None
        lot = self.rules.lot if self.rules else None
        price = self._price("#replace-price", "price", tick)
        stop = self._price("#replace-stop", "stop", tick)
        qty = checked_qty("qty", self.query_one("#replace-qty", Input).value, lot)
        new_price = None if price == self.order.price else price
        new_qty = None if qty == self.order.remaining else qty
        new_stop = None if stop == self.order.stop_price else stop
        if new_price is None and new_qty is None and new_stop is None:
            raise ValueError("nothing changed")
        return new_price, new_qty, new_stop

    def _price(self, selector: str, field: str, tick: int | None) -> int | None:
        """The price typed in ``selector`` (None when the order has no such field), checked like a ticket's."""
        found = self.query(selector)
        return checked_price(field, found.first(Input).value, tick) if found else None

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
