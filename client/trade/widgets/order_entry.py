"""Order entry: side, type, price, quantity, time in force, post-only; checked before sending.

Keyboard first, and said on the screen: the screen's keys ``b``/``s`` send a
buy/sell of what is typed here, ``e`` edits the price and ``q`` the quantity
(the text is selected, so typing replaces it), Tab goes price → qty → price,
Escape back to the ladder, Enter in a field sends with the side shown; ``t``
toggles limit/market, ``i`` the time in force, ``p`` post-only. The price starts
at the symbol's last trade (or the mid) and follows a symbol switch; choosing a
ladder level fills in its price. The line under the fields says what happened:
the ack, the server's reason for a refusal, or what to fix before anything is
sent — cleared as soon as a field is edited.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

from client import format as fmt
from client.trade.model import TradeModel
from client.trade.validate import OrderTicket, TicketError, check_ticket
from client.trade.widgets.number_input import NumberInput
from exchange.types import TIFS, OrderType, Side, TimeInForce

__all__ = ["OrderEntry"]



class OrderEntry(Vertical):
    """The order ticket (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "next_field", "Next field", show=False, id="entry.next"),
        Binding("shift+tab", "next_field", "Previous field", show=False, id="entry.previous"),
        Binding("escape", "leave", "Ladder", show=False, id="entry.leave"),
    ]

    side: reactive[Side] = reactive("buy")
    order_type: reactive[OrderType] = reactive("limit")
    tif: reactive[TimeInForce] = reactive("gtc")
    post_only: reactive[bool] = reactive(False)

    def __init__(self, model: TradeModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.message = ""
        """The text under the fields (the outcome of the last action)."""
        self.border_title = "Order"
        self._limit_price = ""
        """The price typed before switching to a market order (back when switching to limit)."""

    def compose(self) -> ComposeResult:
        yield Static(id="entry-kind")
        with Horizontal(id="entry-fields"):
            yield Label("e Price", classes="entry-label")
            yield NumberInput("0123456789.,", placeholder="price", id="price")
            yield Label("q Qty", classes="entry-label")
            yield NumberInput("0123456789,_", placeholder="shares", id="qty")
        yield Static(id="entry-msg")

    def on_mount(self) -> None:
        self._show_kind()
        self.say("e/q: price/qty · Tab · b/s: buy/sell")

    @property
    def price_input(self) -> Input:
        """The price field."""
        return self.query_one("#price", Input)

    @property
    def qty_input(self) -> Input:
        """The quantity field."""
        return self.query_one("#qty", Input)

    # ------------------------------------------------------------------ keys

    def edit(self, field: Literal["price", "qty"]) -> None:
        """Focus a field with its text selected (typing replaces it); a market order has no price."""
        target = self.qty_input if field == "price" and self.order_type == "market" else self.query_one(
            f"#{field}", Input)
        self.screen.set_focus(target)  # now, not later: the keys typed right after this one go to the field
        target.select_all()

    def action_next_field(self) -> None:
        """Tab: price ↔ quantity (a market order has only the quantity)."""
        self.edit("price" if self.qty_input.has_focus else "qty")

    def action_leave(self) -> None:
        """Escape: back to the ladder."""
        self.screen.set_focus(self.screen.query_one("#ladder"))

    def selected_after_send(self) -> None:
        """After a send: the focused field's text is selected, so the next typing replaces it."""
        for field in (self.price_input, self.qty_input):
            if field.has_focus:
                field.select_all()

    @on(Input.Changed)
    def _edited(self) -> None:
        """A field changed: an error about the old value is stale now."""
        if self.has_class("-error"):
            self.say("")

    # ------------------------------------------------------------------ state

    def watch_side(self) -> None:
        self._show_kind()

    def watch_order_type(self, old: str, new: str) -> None:
        try:
            price = self.price_input
        except NoMatches:  # not composed yet
            return
        if new == "market":
            self._limit_price, price.value, price.placeholder = price.value, "", "market"
            if self.tif == "gtc":
                self.tif = "ioc"  # what a market order's remainder does: it expires
        else:
            price.value, price.placeholder = self._limit_price or price.value, "price"
            if self.tif == "ioc":
                self.tif = "gtc"
        price.disabled = new == "market"
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
        if self.order_type == "market":  # no TIF to choose but all-or-nothing; never rests
            text.append("FOK" if self.tif == "fok" else "IOC", style="bold")
        else:
            text.append(self.tif.upper(), style="bold")
            text.append(" p:", style="dim")
            text.append("post-only" if self.post_only else "-", style="bold yellow" if self.post_only else "")
        rules = self.model.rules
        if rules is not None and rules.status == "halted":
            text.append(f"  {rules.symbol} HALTED", style="bold reverse red")
        elif rules is not None:
            text.append(f"  tick {fmt.price(rules.tick)} lot {rules.lot}", style="dim")
        kind.update(text)

    def toggle_type(self) -> None:
        """Limit ↔ market."""
        self.order_type = "market" if self.order_type == "limit" else "limit"
        if self.order_type == "market":
            self.post_only = False

    def cycle_tif(self) -> None:
        """GTC → IOC → FOK → GTC (a market order: IOC ↔ FOK)."""
        tifs = TIFS[1:] if self.order_type == "market" else TIFS
        self.tif = tifs[(tifs.index(self.tif) + 1) % len(tifs)] if self.tif in tifs else tifs[0]
        if self.tif != "gtc":
            self.post_only = False

    def toggle_post_only(self) -> None:
        """Post-only on/off (it forces a limit GTC order)."""
        self.post_only = not self.post_only
        if self.post_only:
            self.order_type, self.tif = "limit", "gtc"

    def set_price(self, price: int) -> None:
        """Fill in a price (from the ladder)."""
        if self.order_type == "market":
            self.order_type = "limit"
        self.price_input.value = fmt.price(price)

    def set_qty(self, qty: int) -> None:
        """Fill in a quantity."""
        self.qty_input.value = str(qty)

    def symbol_changed(self) -> None:
        """The selected symbol changed: its tick and lot, its price (last trade or mid), one lot if needed.

        Never a price carried over from another symbol: without a reference price the field is emptied.
        """
        reference = self.model.reference_price()
        text = fmt.price(reference) if reference is not None else ""
        if self.order_type == "market":
            self._limit_price = text
        else:
            self.price_input.value = text
        rules = self.model.rules
        try:
            qty = fmt.parse_qty(self.qty_input.value)
        except ValueError:
            qty = 0
        if rules is not None and (qty <= 0 or qty % rules.lot):
            self.qty_input.value = str(rules.lot)
        self._show_kind()

    def refresh_kind(self) -> None:
        """Show the symbol's rules and status again (they changed)."""
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
                price_text=self.price_input.value, qty_text=self.qty_input.value,
                type=self.order_type, tif=self.tif, post_only=self.post_only,
                tick=rules.tick if rules else None, lot=rules.lot if rules else None,
                halted=rules is not None and rules.status == "halted",
            )
        except TicketError as exc:
            self.say(f"✗ {exc}", error=True)
            if exc.field in ("price", "qty"):  # the cursor after the text: fix it, or select it all to retype
                field = self.query_one(f"#{exc.field}", Input)
                field.focus()
                field.call_after_refresh(field.action_end)
            raise

    def say(self, message: str, *, error: bool = False) -> None:
        """Show the outcome of the last action under the fields."""
        self.message = message
        self.query_one("#entry-msg", Static).update(Text(message, style="bold red" if error else "green"))
        self.set_class(error, "-error")
