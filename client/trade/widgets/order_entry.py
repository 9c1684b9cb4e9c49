"""Order entry: side, type, price, quantity, time in force, post-only; checked before sending.

Keyboard first, and said on the screen: the screen's keys ``b``/``s`` send a
buy/sell of what is typed here, ``e`` edits the price and ``q`` the quantity
(the text is selected, so typing replaces it), Tab goes from field to field,
Escape back to the ladder, Enter in a field sends with the side shown; ``t``
cycles limit → market → stop → stop-limit, ``i`` the time in force (GTC, IOC,
FOK, GTD), ``p`` post-only. The second row holds what the kind of order needs:
``g Stop`` (the trigger of a stop or stop-limit order; ``g`` on a limit order
makes it a stop-limit), ``d Show`` (an iceberg: the part of the size the book
shows; empty shows all) and, for GTD, ``u Until`` (``15:30``, or a date and
time; ``u`` makes the order GTD). The price starts
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
from client.trade.validate import LIMIT_TYPES, RESTING_TIFS, STOP_TYPES, OrderTicket, TicketError, check_ticket
from client.trade.widgets.number_input import NumberInput
from exchange.types import TIFS, OrderType, Side, TimeInForce

__all__ = ["FIELDS", "Field", "OrderEntry"]

Field = Literal["price", "qty", "stop", "show", "until"]
"""The order entry's input fields (their widget ids)."""
FIELDS: tuple[Field, ...] = ("price", "qty", "stop", "show", "until")
"""The fields in Tab order (those the kind of order does not use are skipped)."""
TYPES: tuple[OrderType, ...] = ("limit", "market", "stop", "stop_limit")
"""The order types in the order ``t`` cycles through."""
MARKET_TIFS: tuple[TimeInForce, ...] = ("ioc", "fok")
"""What a market or stop order's remainder may do: it never rests."""
LIMIT_TIFS: tuple[TimeInForce, ...] = (*TIFS, "gtd")
"""A limit or stop-limit order's times in force."""



class OrderEntry(Vertical):
    """The order ticket (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "next_field", "Next field", show=False, id="entry.next"),
        Binding("shift+tab", "previous_field", "Previous field", show=False, id="entry.previous"),
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
        with Horizontal(id="entry-more"):
            yield Label("g Stop", classes="entry-label stop-part")
            yield NumberInput("0123456789.,", placeholder="trigger", id="stop", classes="stop-part")
            yield Label("d Show", classes="entry-label show-part")
            yield NumberInput("0123456789,_", placeholder="all", id="show", classes="show-part")
        with Horizontal(id="entry-until"):
            yield Label("u Until", classes="entry-label")
            yield NumberInput("0123456789-: ", placeholder="15:30 or 2026-12-24 15:30", id="until")
        yield Static(id="entry-msg")

    def on_mount(self) -> None:
        self._show_kind()
        self._show_parts()
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

    def edit(self, field: Field) -> None:
        """Focus a field with its text selected (typing replaces it).

        A market or stop order has no price (the quantity is focused); ``stop`` on a limit order makes it
        a stop-limit (on a market order, a stop); ``until`` makes the order good-till-date.
        """
        if field == "stop" and self.order_type not in STOP_TYPES:
            self.order_type = "stop_limit" if self.order_type == "limit" else "stop"
        elif field == "until" and self.tif != "gtd":
            if self.order_type not in LIMIT_TYPES:
                self.say("✗ good-till-date needs a limit or stop-limit order (t changes the type)", error=True)
                return
            self.tif = "gtd"
        elif field == "show" and not self._shows("show"):
            self.say("✗ only a GTC or GTD limit or stop-limit order can hide part of its size", error=True)
            return
        if field == "price" and self.order_type not in LIMIT_TYPES:
            field = "qty"
        target = self.query_one(f"#{field}", Input)
        self.screen.set_focus(target)  # now, not later: the keys typed right after this one go to the field
        target.select_all()

    def _shows(self, field: Field) -> bool:
        """Whether the kind of order chosen uses ``field``."""
        if field == "price":
            return self.order_type in LIMIT_TYPES
        if field == "stop":
            return self.order_type in STOP_TYPES
        if field == "show":
            return self.order_type in LIMIT_TYPES and self.tif in RESTING_TIFS
        if field == "until":
            return self.tif == "gtd"
        return True

    def action_next_field(self) -> None:
        """Tab: the next field this kind of order uses."""
        self._step_field(1)

    def action_previous_field(self) -> None:
        """Shift+Tab: the field before."""
        self._step_field(-1)

    def _step_field(self, step: int) -> None:
        used = [f for f in FIELDS if self._shows(f)]
        focused = next((f for f in used if self.query_one(f"#{f}", Input).has_focus), None)
        at = used.index(focused) if focused is not None else (-1 if step > 0 else 0)
        self.edit(used[(at + step) % len(used)])

    def action_leave(self) -> None:
        """Escape: back to the ladder."""
        self.screen.set_focus(self.screen.query_one("#ladder"))

    def selected_after_send(self) -> None:
        """After a send: the focused field's text is selected, so the next typing replaces it."""
        for field in self.query(Input):
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

    def watch_order_type(self, old: OrderType, new: OrderType) -> None:
        try:
            price = self.price_input
        except NoMatches:  # not composed yet
            return
        priced = new in LIMIT_TYPES
        if not priced and old in LIMIT_TYPES:
            self._limit_price, price.value, price.placeholder = price.value, "", new
        elif priced and old not in LIMIT_TYPES:
            price.value, price.placeholder = self._limit_price or price.value, "price"
        price.disabled = not priced
        if not priced and self.tif not in MARKET_TIFS:
            self.tif = "ioc"  # what a market order's remainder does: it expires
        elif priced and old not in LIMIT_TYPES and self.tif == "ioc":
            self.tif = "gtc"
        if new != "limit":
            self.post_only = False
        self._show_kind()
        self._show_parts()

    def watch_tif(self) -> None:
        self._show_kind()
        self._show_parts()

    def watch_post_only(self) -> None:
        self._show_kind()

    def _show_parts(self) -> None:
        """Show the fields this kind of order uses (the second row only when it has one)."""
        try:
            more = self.query_one("#entry-more", Horizontal)
        except NoMatches:  # not composed yet
            return
        for part in ("stop", "show"):
            for widget in self.query(f".{part}-part"):
                widget.display = self._shows(part)
        more.display = self._shows("stop") or self._shows("show")
        self.query_one("#entry-until", Horizontal).display = self._shows("until")

    def _show_kind(self) -> None:
        try:
            kind = self.query_one("#entry-kind", Static)
        except NoMatches:  # not composed yet
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {self.side.upper()} ", style="bold reverse green" if self.side == "buy" else "bold reverse red")
        text.append(" t:", style="dim")
        text.append(self.order_type.replace("_", "-"), style="bold")
        text.append(" i:", style="dim")
        if self.order_type not in LIMIT_TYPES:  # no TIF to choose but all-or-nothing; never rests
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
        """Limit → market → stop → stop-limit → limit."""
        self.order_type = TYPES[(TYPES.index(self.order_type) + 1) % len(TYPES)]

    def cycle_tif(self) -> None:
        """GTC → IOC → FOK → GTD → GTC (a market or stop order: IOC ↔ FOK)."""
        tifs = LIMIT_TIFS if self.order_type in LIMIT_TYPES else MARKET_TIFS
        self.tif = tifs[(tifs.index(self.tif) + 1) % len(tifs)] if self.tif in tifs else tifs[0]
        if self.tif not in RESTING_TIFS:
            self.post_only = False

    def toggle_post_only(self) -> None:
        """Post-only on/off (it forces a limit GTC or GTD order)."""
        self.post_only = not self.post_only
        if self.post_only:
            self.order_type = "limit"
            if self.tif != "gtd":
                self.tif = "gtc"

    def set_price(self, price: int) -> None:
        """Fill in a price (from the ladder)."""
        if self.order_type == "market":
            self.order_type = "limit"
        elif self.order_type == "stop":
            self.order_type = "stop_limit"
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
        if self.order_type in LIMIT_TYPES:
            self.price_input.value = text
        else:
            self._limit_price = text
        self.query_one("#stop", Input).value = ""  # a trigger of another symbol means nothing here
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
                stop_text=self.query_one("#stop", Input).value, until_text=self.query_one("#until", Input).value,
                show_text=self.query_one("#show", Input).value if self._shows("show") else "",
            )
        except TicketError as exc:
            self.say(f"✗ {exc}", error=True)
            if exc.field in FIELDS:  # the cursor after the text: fix it, or select it all to retype
                field = self.query_one(f"#{exc.field}", Input)
                field.focus()
                field.call_after_refresh(field.action_end)
            raise

    def say(self, message: str, *, error: bool = False) -> None:
        """Show the outcome of the last action under the fields."""
        self.message = message
        self.query_one("#entry-msg", Static).update(Text(message, style="bold red" if error else "green"))
        self.set_class(error, "-error")
