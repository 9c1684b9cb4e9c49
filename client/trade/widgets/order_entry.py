"""Order entry: side, type, price, quantity, time in force, post-only; checked before sending.

Keyboard first: the screen's keys ``b``/``s`` send a buy/sell of what is typed
here, ``t`` toggles limit/market, ``i`` cycles the time in force, ``p``
post-only; Enter in a field sends with the side shown. Choosing a ladder level
fills in its price. The line under the fields says what happened: the ack, the
server's reason for a refusal, or what to fix before anything is sent.
"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

from client import format as fmt
from client.trade.model import TradeModel
from client.trade.validate import OrderTicket, TicketError, check_ticket
from client.trade.widgets.number_input import NumberInput

__all__ = ["OrderEntry"]

Side = Literal["buy", "sell"]
_TIFS: tuple[Literal["gtc", "ioc", "fok"], ...] = ("gtc", "ioc", "fok")


class OrderEntry(Vertical):
    """The order ticket (see the module docstring)."""

    side: reactive[Side] = reactive("buy")
    order_type: reactive[Literal["limit", "market"]] = reactive("limit")
    tif: reactive[Literal["gtc", "ioc", "fok"]] = reactive("gtc")
    post_only: reactive[bool] = reactive(False)

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.message = ""
        """The text under the fields (the outcome of the last action)."""
        self.border_title = "Order"

    def compose(self) -> ComposeResult:
        yield Static(id="entry-kind")
        with Horizontal(id="entry-fields"):
            yield Label("Price", classes="entry-label")
            yield NumberInput("0123456789.,", placeholder="0.00", id="price")
            yield Label("Qty", classes="entry-label")
            yield NumberInput("0123456789,_", placeholder="0", id="qty")
        yield Static(id="entry-msg")

    def on_mount(self) -> None:
        self._show_kind()

    # ------------------------------------------------------------------ state

    def watch_side(self) -> None:
        self._show_kind()

    def watch_order_type(self) -> None:
        self.query_one("#price", Input).disabled = self.order_type == "market"
        self._show_kind()

    def watch_tif(self) -> None:
        self._show_kind()

    def watch_post_only(self) -> None:
        self._show_kind()

    def _show_kind(self) -> None:
        try:
            kind = self.query_one("#entry-kind", Static)
        except NoMatches:  # not composed yet
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {self.side.upper()} ", style="bold reverse green" if self.side == "buy" else "bold reverse red")
        text.append(" t:", style="dim")
        text.append(self.order_type, style="bold")
        text.append(" i:", style="dim")
        text.append(self.tif.upper(), style="bold")
        text.append(" p:", style="dim")
        text.append("post-only" if self.post_only else "-", style="bold yellow" if self.post_only else "")
        rules = self.model.rules
        if rules is not None:
            text.append(f"  tick {fmt.price(rules.tick)} lot {rules.lot}", style="dim")
        kind.update(text)

    def toggle_type(self) -> None:
        """Limit ↔ market."""
        self.order_type = "market" if self.order_type == "limit" else "limit"
        if self.order_type == "market":
            self.post_only = False

    def cycle_tif(self) -> None:
        """GTC → IOC → FOK → GTC."""
        self.tif = _TIFS[(_TIFS.index(self.tif) + 1) % len(_TIFS)]
        if self.tif != "gtc":
            self.post_only = False

    def toggle_post_only(self) -> None:
        """Post-only on/off (it forces a limit GTC order)."""
        self.post_only = not self.post_only
        if self.post_only:
            self.order_type, self.tif = "limit", "gtc"

    def set_price(self, price: int) -> None:
        """Fill in a price (from the ladder)."""
        self.query_one("#price", Input).value = fmt.price(price)
        if self.order_type == "market":
            self.order_type = "limit"

    def set_qty(self, qty: int) -> None:
        """Fill in a quantity."""
        self.query_one("#qty", Input).value = str(qty)

    def symbol_changed(self) -> None:
        """The selected symbol changed: show its tick and lot."""
        self._show_kind()

    # ------------------------------------------------------------------ tickets

    def ticket(self, side: Side | None = None) -> OrderTicket:
        """The checked order for ``side`` (default: the side shown), which becomes the side shown.

        Raises:
            TicketError: what to fix (the field is focused and the reason shown).
        """
        if side is not None:
            self.side = side
        rules = self.model.rules
        try:
            return check_ticket(
                symbol=self.model.symbol, side=self.side,
                price_text=self.query_one("#price", Input).value, qty_text=self.query_one("#qty", Input).value,
                type=self.order_type, tif=self.tif, post_only=self.post_only,
                tick=rules.tick if rules else None, lot=rules.lot if rules else None,
                halted=rules is not None and rules.status == "halted",
            )
        except TicketError as exc:
            self.say(f"✗ {exc}", error=True)
            if exc.field in ("price", "qty"):
                self.query_one(f"#{exc.field}", Input).focus()
            raise

    def say(self, message: str, *, error: bool = False) -> None:
        """Show the outcome of the last action under the fields."""
        self.message = message
        self.query_one("#entry-msg", Static).update(Text(message, style="bold red" if error else "green"))
        self.set_class(error, "-error")
