"""The trading screen: ladder, order entry, open orders, fills, tape, wallet, link status.

Repainting runs on a timer at a steady rate (``repaint_hz``, 15 by default):
each tick asks every widget to :meth:`sync` with the model, and each repaints
only if what it shows changed. Messages only mark the model; they never repaint.
Network work (orders, cancels, refreshes, switching symbols) runs in workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Input

from client import format as fmt
from client.errors import ClientError, ExchError
from client.live import LinkState
from client.trade.model import TradeModel
from client.trade.screens.confirm import ConfirmOrder
from client.trade.screens.history import HistoryScreen
from client.trade.screens.replace import ReplaceScreen, ReplaceValues
from client.trade.screens.symbols import SymbolSwitcher
from client.trade.validate import OrderTicket, TicketError, collar_breach, describe_ticket
from client.trade.widgets import (
    BalanceBar,
    FillsPanel,
    Ladder,
    OpenOrders,
    OrderEntry,
    SymbolHeader,
    TradeTape,
)
from client.trade.widgets.order_entry import Field
from client.widgets.linkbar import LinkBar
from exchange.types import Side

if TYPE_CHECKING:
    from client.trade.app import TradeApp
    from client.trade.link import TradeLink

__all__ = ["REFRESH_EVERY", "TradeScreen"]

REFRESH_EVERY = 0.25
"""Least seconds between two reloads of orders and balance after fills."""


class TradeScreen(Screen[None]):
    """Everything a trader needs on one screen (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "buy", "Buy", priority=True, id="trade.buy"),
        Binding("s", "sell", "Sell", priority=True, id="trade.sell"),
        Binding("e", "edit('price')", "Price", priority=True, id="trade.price"),
        Binding("q", "edit('qty')", "Qty", priority=True, id="trade.qty"),
        Binding("c", "cancel", "Cancel", priority=True, id="trade.cancel"),
        Binding("x", "cancel_all", "Cancel all", show=False, priority=True, id="trade.cancel_all"),
        Binding("r", "replace", "Replace", priority=True, id="trade.replace"),
        Binding("slash", "switch_symbol", "Symbol", priority=True, id="trade.symbol"),
        Binding("h", "history", "P&L", priority=True, id="trade.history"),
        Binding("g", "edit('stop')", "Stop", show=False, priority=True, id="trade.stop"),
        Binding("d", "edit('show')", "Show", show=False, priority=True, id="trade.show"),
        Binding("u", "edit('until')", "Until", show=False, priority=True, id="trade.until"),
        Binding("t", "toggle_type", "Type", show=False, priority=True, id="trade.type"),
        Binding("i", "cycle_tif", "TIF", show=False, priority=True, id="trade.tif"),
        Binding("p", "toggle_post_only", "Post-only", show=False, priority=True, id="trade.post_only"),
        Binding("l", "focus('#ladder')", "Ladder", show=False, priority=True, id="trade.ladder"),
        Binding("o", "focus('#orders')", "Orders", show=False, priority=True, id="trade.orders"),
        Binding("f5", "refresh_wallet", "Reload", show=False, id="trade.reload"),
    ]

    def __init__(self, model: TradeModel, *, repaint_hz: float = 15.0) -> None:
        super().__init__()
        self.model = model
        self.repaint_hz = repaint_hz
        self.repaints = 0
        self._link_seen: tuple[str, str] | None = None
        self._data_seen = 0.0
        self._shutdown_seen: str | None = None
        self._notice_seen: str | None = None
        self._resyncs_seen = 0
        self._connects_seen = model.connects
        self._status_seen = len(model.status_news)
        self._triggered_seen = len(model.triggered)
        self._last_refresh = 0.0
        self._refreshing = False

    @property
    def trade_app(self) -> TradeApp:
        """The app, typed."""
        return cast("TradeApp", self.app)

    @property
    def link(self) -> TradeLink | None:
        """The live link (None when the app runs offline, e.g. in snapshot tests)."""
        return self.trade_app.link

    def compose(self) -> ComposeResult:
        model = self.model
        yield SymbolHeader(model, id="header")
        yield LinkBar(self.link.url if self.link else "offline", id="linkbar")
        with Horizontal(id="body"):
            yield Ladder(model, id="ladder")
            with Vertical(id="side"):
                yield OrderEntry(model, id="entry")
                yield OpenOrders(model, id="orders")
                with Vertical(id="feeds"):
                    yield FillsPanel(model, id="fills")
                    yield TradeTape(model, id="tape")
        yield BalanceBar(model, id="balance")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.repaint()
        self.set_interval(1.0 / self.repaint_hz, self.repaint)
        self.query_one(Ladder).focus()
        self.query_one(OrderEntry).symbol_changed()

    # ------------------------------------------------------------------ repaint

    def repaint(self) -> None:
        """Bring every widget up to date with the model (the steady-rate tick).

        A tick that falls while the app is closing (the widgets being removed)
        paints nothing.
        """
        try:
            self._repaint()
        except NoMatches:
            return

    def _repaint(self) -> None:
        self.repaints += 1
        model = self.model
        self._show_link(model)
        ladder = self.query_one(Ladder)
        title = f"{model.symbol} depth (L3)" if model.symbol else "depth"
        if ladder.border_title != title:
            ladder.border_title = title
        ladder.sync()
        self.query_one(SymbolHeader).sync()
        self.query_one(OpenOrders).sync()
        self.query_one(FillsPanel).sync()
        self.query_one(TradeTape).sync()
        self.query_one(BalanceBar).sync()
        if model.refresh_wanted and self.link is not None and not self._refreshing and (
                time.monotonic() - self._last_refresh >= REFRESH_EVERY):
            self._refresh()

    def _show_link(self, model: TradeModel) -> None:
        bar = self.query_one(LinkBar)
        if model.link != self._link_seen:
            self._link_seen = model.link
            bar.set_link(LinkState(model.link[0]), model.link[1])
        if model.last_data != self._data_seen or (model.link[0] == "up" and model.synced):
            self._data_seen = model.last_data  # a quiet book on a live, synced session is current
            bar.touch()
        if model.shutdown and model.shutdown != self._shutdown_seen:
            self._shutdown_seen = model.shutdown
            bar.set_notice(f"server shutdown: {model.shutdown}")
            self.notify(f"The server is shutting down: {model.shutdown}. Reconnecting when it is back.",
                        title="Shutdown", severity="warning", timeout=8)
        if model.notice and model.notice != self._notice_seen:
            self._notice_seen = model.notice
            bar.set_notice(model.notice)
            self.notify(model.notice, title="Server notice", severity="error")
        if model.resyncs > self._resyncs_seen:
            self._resyncs_seen = model.resyncs
            self.notify(f"{model.symbol}: sequence gap ({model.gap}); resynchronising from a fresh snapshot",
                        title="Book resync", severity="warning")
        for symbol, status in model.status_news[self._status_seen:]:
            halted = status == "halted"
            if symbol == model.symbol:
                self.query_one(OrderEntry).refresh_kind()
            self.notify(f"{symbol} {'halted: new orders are refused, cancels work' if halted else 'resumed: trading'}",
                        title="Symbol status", severity="warning" if halted else "information")
        self._status_seen = len(model.status_news)
        for t in model.triggered[self._triggered_seen:]:
            self.notify(f"#{t.order_id} {t.side} {t.symbol}: a trade went through {fmt.price(t.stop_price)}; "
                        f"it entered the market: {t.status.replace('_', ' ')}", title="Stop triggered")
        self._triggered_seen = len(model.triggered)
        if model.connects > self._connects_seen:
            if self._connects_seen:
                self.notify("Reconnected: book resynchronised, orders and balance reloaded.", title="Link")
                model.shutdown = self._shutdown_seen = None  # that notice is history now
                bar.set_notice("")
            self._connects_seen = model.connects

    @work(group="refresh")
    async def _refresh(self) -> None:
        link = self.link
        if link is None:
            return
        self._refreshing = True
        self._last_refresh = time.monotonic()
        try:
            await link.refresh()
        except ClientError as exc:
            self.model.refresh_wanted = True
            self.log.warning(f"refresh failed: {exc}")
        finally:
            self._refreshing = False

    # ------------------------------------------------------------------ order entry

    def action_buy(self) -> None:
        """Send a buy of what the order entry holds."""
        self._after_typing(self.send, "buy")

    def action_sell(self) -> None:
        """Send a sell of what the order entry holds."""
        self._after_typing(self.send, "sell")

    def _after_typing(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback`` once the focused widget has taken the keys typed before this one.

        The letter keys are priority bindings (they work inside the number fields), so
        they run before the field has processed the digits typed just ahead of them;
        queueing the call behind those keys keeps the order the trader typed.
        """
        focused = self.focused
        if focused is None:
            callback(*args)
        else:
            focused.call_later(callback, *args)

    def action_edit(self, field: Field) -> None:
        """Go to a field of the order entry (price, qty, stop, show, until), its text selected."""
        self.query_one(OrderEntry).edit(field)

    def send(self, side: Side | None = None) -> None:
        """Check the ticket and send it (in a worker); far from the market, only once confirmed."""
        entry = self.query_one(OrderEntry)
        try:
            ticket = entry.ticket(side)
        except TicketError:
            return
        if not self._online():
            return
        reference = self.model.reference_price()
        breach = collar_breach(ticket, reference, self.trade_app.settings.collar)
        if breach is None:
            self._send_checked(ticket)
            return
        what = "last trade" if self.model.last_trade is not None else "market"
        why = f"{abs(breach):.0%} {'above' if breach > 0 else 'below'} the {what} {fmt.price(reference)}"
        entry.say(f"? {self._describe(ticket)}: {why}: y sends, n does not")

        def answered(send: bool | None) -> None:
            if send:
                self._send_checked(ticket)
            else:
                entry.say(f"not sent: {self._describe(ticket)}")
                entry.edit("price")

        self.app.push_screen(ConfirmOrder(self._describe(ticket), why), answered)

    def _send_checked(self, ticket: OrderTicket) -> None:
        entry = self.query_one(OrderEntry)
        entry.say(f"… sending {self._describe(ticket)}")
        entry.selected_after_send()
        self._place(ticket)

    @staticmethod
    def _describe(t: OrderTicket) -> str:
        return describe_ticket(t)

    @work(group="orders")
    async def _place(self, ticket: OrderTicket) -> None:
        entry = self.query_one(OrderEntry)
        link = self.link
        assert link is not None
        try:
            ack = await link.order(ticket)
        except ClientError as exc:
            self._failed(exc, refused="refused", title="Order refused")
            return
        status = ack.status.replace("_", " ")
        rest = f", {fmt.qty(ack.remaining)} resting" if ack.remaining and ack.status != "open" else ""
        entry.say(f"✓ #{ack.order_id} {self._describe(ticket)}: {status}{rest}")

    def _online(self) -> bool:
        """True with a link; else say so in the order entry."""
        if self.link is None:
            self.query_one(OrderEntry).say("✗ offline: not connected to an exchange", error=True)
            return False
        return True

    def _failed(self, exc: ClientError, doing: str = "", *, refused: str = "", title: str = "") -> None:
        """Say why a request failed in the order entry (``doing``: what it was, e.g. ``"cancel #7: "``).

        With a ``title``, a refusal by the server reads ``✗ {refused}: {code}: {message}``
        and is notified under ``{title}: {code}``.
        """
        if title and isinstance(exc, ExchError):
            self.query_one(OrderEntry).say(f"✗ {refused}: {exc.code}: {exc.message}", error=True)
            self.notify(exc.message, title=f"{title}: {exc.code}", severity="error")
        else:
            self.query_one(OrderEntry).say(f"✗ {doing}{exc}", error=True)

    @on(Ladder.PriceSelected)
    def _price_selected(self, event: Ladder.PriceSelected) -> None:
        self.query_one(OrderEntry).set_price(event.price)
        self.query_one("#qty", Input).focus()

    @on(Input.Submitted, "#entry Input")
    def _entry_submitted(self) -> None:
        self.send(None)

    def action_toggle_type(self) -> None:
        """Limit → market → stop → stop-limit."""
        self.query_one(OrderEntry).toggle_type()

    def action_cycle_tif(self) -> None:
        """GTC → IOC → FOK → GTD."""
        self.query_one(OrderEntry).cycle_tif()

    def action_toggle_post_only(self) -> None:
        """Post-only on/off."""
        self.query_one(OrderEntry).toggle_post_only()

    # ------------------------------------------------------------------ orders

    def action_cancel(self) -> None:
        """Cancel the order under the open-orders cursor."""
        order_id = self.query_one(OpenOrders).selected_order_id
        entry = self.query_one(OrderEntry)
        if order_id is None:
            entry.say("✗ no open order to cancel", error=True)
            return
        if self._online():
            self._cancel(order_id)

    @work(group="orders")
    async def _cancel(self, order_id: int) -> None:
        entry = self.query_one(OrderEntry)
        assert self.link is not None
        try:
            remaining = await self.link.cancel(order_id)
        except ClientError as exc:
            self._failed(exc, f"cancel #{order_id}: ")
            return
        entry.say(f"✓ canceled #{order_id} ({fmt.qty(remaining)} open)")

    def action_cancel_all(self) -> None:
        """Cancel every open order (every symbol)."""
        if self._online():
            self._cancel_all()

    @work(group="orders")
    async def _cancel_all(self) -> None:
        entry = self.query_one(OrderEntry)
        assert self.link is not None
        try:
            count = await self.link.cancel_all()
        except ClientError as exc:
            self._failed(exc, "cancel all: ")
            return
        entry.say(f"✓ canceled all: {count} order{'s' if count != 1 else ''}")

    def action_replace(self) -> None:
        """Change the price, quantity or stop price of the order under the open-orders cursor."""
        order_id = self.query_one(OpenOrders).selected_order_id
        order = self.model.orders.get(order_id) if order_id is not None else None
        if order is None:
            self.query_one(OrderEntry).say("✗ no open order to replace", error=True)
            return

        def done(values: ReplaceValues | None) -> None:
            if values is not None and self.link is not None:
                self._replace(order.order_id, values)

        self.app.push_screen(ReplaceScreen(order, self.model.symbols.get(order.symbol)), done)

    @work(group="orders")
    async def _replace(self, order_id: int, values: ReplaceValues) -> None:
        entry = self.query_one(OrderEntry)
        assert self.link is not None
        price, qty, stop = values
        try:
            ack = await self.link.replace(order_id, price=price, qty=qty, stop_price=stop)
        except ClientError as exc:
            self._failed(exc, f"replace #{order_id}: ", refused="replace refused", title="Replace refused")
            return
        entry.say(f"✓ replaced #{order_id}: {ack.status.replace('_', ' ')}, {fmt.qty(ack.remaining)} open")

    def action_history(self) -> None:
        """Show positions and P&L, finished orders and fills."""
        self.app.push_screen(HistoryScreen(self.model))

    def action_refresh_wallet(self) -> None:
        """Reload orders and balance now."""
        self.model.refresh_wanted = True
        self._last_refresh = 0.0

    # ------------------------------------------------------------------ symbols

    def action_switch_symbol(self) -> None:
        """Open the symbol switcher."""
        def done(symbol: str | None) -> None:
            if symbol:
                self.switch_to(symbol)

        self.app.push_screen(SymbolSwitcher(self.model.symbols, self.model.symbol), done)

    def switch_to(self, symbol: str) -> None:
        """Show ``symbol`` (tracked in a worker)."""
        if self.link is None:
            self.model.select(symbol, None)
            return
        self._switch(symbol)

    @work(exclusive=True, group="switch")
    async def _switch(self, symbol: str) -> None:
        entry = self.query_one(OrderEntry)
        assert self.link is not None
        try:
            await self.link.switch(symbol)
        except ClientError as exc:
            self._failed(exc, f"cannot show {symbol}: ")
            return
        self.query_one(Ladder).cursor = None
        entry.symbol_changed()
        entry.say(f"showing {symbol}")
