"""The console app: layout, keys, the feed worker and the steady repaint."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Footer

from client.errors import ConnectError
from client.live import LinkState
from client.widgets.linkbar import LinkBar
from client.widgets.sparkline import SparkChart
from client.widgets.tape import Tape
from console.commands import AdminCommands
from console.config import ConsoleConfig
from console.feed import Feed
from console.format import clock, megabytes, rate, tape_line
from console.model import ConsoleModel, TapeEvent
from console.screens.admin import (
    AddUserForm,
    AdminForm,
    Call,
    DisableUserForm,
    EnableUserForm,
    GiftForm,
    PasswordForm,
    SymbolForm,
)
from console.screens.login import LoginScreen
from console.widgets.server import ServerNumbers, server_pairs
from console.widgets.sessions import SessionsTable
from console.widgets.symbols import SymbolTable

__all__ = ["ConsoleApp"]


TAPE_TITLES = {
    False: "Tape: trades and events, newest first",
    True: "Tape: events only (e: trades too), newest first",
}


PALETTE_HINT_MIN_WIDTH = 91
"""Columns from which the footer also shows ``^p palette``: below, the keys take the whole line
(at 80 columns the hint would hide the last keys; Ctrl+P works all the same)."""


def _panel(id: str, title: str, kind: type[Widget] = Container) -> Widget:
    """A bordered panel of the main screen, ``title`` on its border."""
    panel = kind(id=id, classes="panel")
    panel.border_title = title
    return panel


class ConsoleApp(App[None]):
    """The operator console.

    Args:
        config: where to connect (incomplete: the login screen asks first).
        model: the model to show (tests pass a filled one).
        connect: False shows the model without any server (snapshot tests).
        render_interval: seconds between repaints of the model.
    """

    CSS_PATH = "console.tcss"
    TITLE = "exch console"
    COMMANDS = App.COMMANDS | {AdminCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_user", "Add user", id="console.add_user"),
        Binding("g", "gift", "Gift", id="console.gift"),
        Binding("d", "disable_user", "Disable", id="console.disable_user"),
        Binding("n", "enable_user", "Enable", id="console.enable_user"),
        Binding("p", "change_password", "Password", id="console.change_password"),
        Binding("h", "halt", "Halt", id="console.halt"),
        Binding("r", "resume", "Resume", id="console.resume"),
        Binding("e", "toggle_events", "Events", id="console.events"),
        Binding("tab", "focus_next", "Next panel", id="console.focus_next", show=False),
        Binding("q", "quit", "Quit", id="console.quit"),
    ]

    def __init__(
        self,
        config: ConsoleConfig | None = None,
        *,
        model: ConsoleModel | None = None,
        connect: bool = True,
        render_interval: float = 0.25,
    ) -> None:
        super().__init__()
        self.config = config or ConsoleConfig(url=None)
        self.model = model or ConsoleModel()
        self.connect = connect
        self.render_interval = render_interval
        self.feed: Feed | None = None
        self._rendered = -1
        self._sessions_rendered = -1
        self._link = LinkState.CONNECTING if connect else LinkState.UP
        self.events_only = False
        """The tape shows events only (no trades): toggled by ``e``."""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield LinkBar(self.config.url or "", id="link")
        with Vertical(id="main"):
            with _panel("symbols-panel", "Symbols"):
                yield SymbolTable(id="symbols")
            with Horizontal(id="middle"):
                with _panel("server-panel", "Server"):
                    yield ServerNumbers(id="numbers")
                with _panel("charts-panel", "Last minute", Vertical):
                    yield SparkChart("RSS", fmt=megabytes, zero_based=False, id="rss-chart")
                    yield SparkChart("Orders/s", fmt=rate, id="orders-chart")
                    yield SparkChart("Trades/s", fmt=rate, id="trades-chart", classes="wide-only")
                    yield SparkChart("Msgs out/s", fmt=rate, id="out-chart", classes="wide-only")
            with Horizontal(id="bottom"):
                with _panel("sessions-panel", "Sessions"):
                    yield SessionsTable(id="sessions")
                with _panel("tape-panel", TAPE_TITLES[False]):
                    yield Tape(self._tape_line, empty="no trades or events yet", id="tape")
        yield Footer(compact=True)

    def _tape_line(self, event: TapeEvent) -> Any:
        return tape_line(event.ts, event.kind, event.text, self.model.tz)

    def on_resize(self, event: events.Resize) -> None:
        """Keep every key of the footer visible on a narrow terminal (the palette hint goes first)."""
        with contextlib.suppress(IndexError, NoMatches):
            footer = self.screen_stack[0].query_one(Footer)
            footer.show_command_palette = event.size.width >= PALETTE_HINT_MIN_WIDTH

    def on_mount(self) -> None:
        link = self.query_one(LinkBar)
        if not self.connect:
            link.set_link(LinkState.UP)
            link.touch()
        self.set_interval(self.render_interval, self.render_model)
        self.render_model()
        if not self.connect:
            return
        if self.config.complete:
            self.start_feed(self.config)
        else:
            self.push_screen(LoginScreen(self.config), self._logged_in)

    # ------------------------------------------------------------------ the feed

    def _make_feed(self, config: ConsoleConfig) -> Feed:
        self.config = config
        self.query_one(LinkBar).url = config.url or ""
        return Feed(config, self.model, on_state=self._on_link, on_data=self.query_one(LinkBar).touch)

    def start_feed(self, config: ConsoleConfig) -> None:
        """Connect (and reconnect) in a worker."""
        if self.feed is None or self.feed.config != config:
            self.feed = self._make_feed(config)
        self.run_worker(self._run_feed(self.feed), name="feed", group="feed", exclusive=True)

    async def _run_feed(self, feed: Feed) -> None:
        try:
            await feed.run()
        finally:
            with contextlib.suppress(Exception):
                await feed.close()

    async def try_login(self, config: ConsoleConfig) -> None:
        """One connection attempt for the login screen (raises its error)."""
        feed = self._make_feed(config)
        await feed.connect_once()
        self.feed = feed

    def _logged_in(self, config: ConsoleConfig | None) -> None:
        if config is not None:
            self.start_feed(config)

    def _on_link(self, state: LinkState, detail: str) -> None:
        self._link = state
        bar = self.query_one(LinkBar)
        if self.feed is not None:
            bar.url = self.feed.url
        bar.set_link(state, detail)
        if state is LinkState.UP and self.model.shutdown is not None:
            self.model.shutdown = None
            bar.set_notice("")

    async def admin_call(self, call: Call) -> Any:
        """Run one admin request on the live session (for the admin forms)."""
        session = self.feed.session if self.feed is not None else None
        if session is None:
            raise ConnectError("the console is not connected to the server; wait for the link to come back")
        return await call(session)

    def password_changed(self, username: str, password: str) -> None:
        """A form changed ``username``'s password: if it is the console's own login, reconnect with the new one.

        The server kept this console's session (it asked), but its reconnect token is revoked:
        without this, the next reconnect would log in with the old password and fail.
        ``HOME/admin-password`` is left alone (the console may run on another machine).
        """
        if self.feed is not None and self.feed.config.user == username:
            self.feed.use_password(password)
            self.config = self.feed.config

    # ------------------------------------------------------------------ repaint

    def render_model(self) -> None:
        """Repaint what changed in the model (called at a steady rate).

        The widgets live on the bottom screen, whatever form is on top; a tick
        that falls while the app is closing (its widgets being removed) paints
        nothing.
        """
        try:
            main = self.screen_stack[0]
            link = main.query_one(LinkBar)
            symbols = main.query_one(SymbolTable)
        except (IndexError, NoMatches):
            return
        main.query_one("#main").set_class(self.connect and (link.stale or self._link is not LinkState.UP),
                                          "-stale")
        model = self.model
        if model.version == self._rendered:
            return
        self._rendered = model.version
        with self.batch_update():
            symbols.show(model.symbols)
            main.query_one(ServerNumbers).show(server_pairs(model))
            main.query_one("#rss-chart", SparkChart).set_data(model.rss)
            main.query_one("#orders-chart", SparkChart).set_data(model.orders_rate)
            main.query_one("#trades-chart", SparkChart).set_data(model.trades_rate)
            main.query_one("#out-chart", SparkChart).set_data(model.out_rate)
            if model.sessions_version != self._sessions_rendered:
                self._sessions_rendered = model.sessions_version
                main.query_one(SessionsTable).show(model.sessions, model.tz)
            added_all, added_events = model.take_tape_added()
            if self.events_only:
                main.query_one(Tape).show(model.events, version=("events", model.events_version), added=added_events)
            else:
                main.query_one(Tape).show(model.tape, version=("all", model.tape_version), added=added_all)
            if model.shutdown is not None:
                when = clock(model.shutdown.ts, model.tz)
                link.set_notice(f"shutdown at {when}: {model.shutdown.reason}")

    # ------------------------------------------------------------------ actions

    def action_toggle_events(self) -> None:
        """Show only events on the tape (failed logins, admin actions, halts), or everything again."""
        self.events_only = not self.events_only
        panel = self.screen_stack[0].query_one("#tape-panel")
        panel.border_title = TAPE_TITLES[self.events_only]
        self._rendered = -1  # repaint now, from the top
        self.render_model()
        panel.query_one(Tape).scroll_home(animate=False)

    def symbol_names(self) -> list[str]:
        """The listed symbols, sorted."""
        return sorted(self.model.symbols)

    def _forms_context(self) -> dict[str, Any]:
        known = self.model.users or {}
        users = list(known) or sorted({s.user for s in self.model.sessions if s.user})
        disabled = [name for name, info in known.items() if info.disabled]
        return {"users": users, "disabled": disabled, "symbols": self.symbol_names()}

    def action_add_user(self) -> None:
        """Open the add-user form."""
        self.push_screen(AddUserForm(**self._forms_context()))

    def action_gift(self) -> None:
        """Open the gift (deposit) form."""
        self.push_screen(GiftForm(**self._forms_context()))

    def action_disable_user(self) -> None:
        """Open the disable-user form."""
        self.push_screen(DisableUserForm(**self._forms_context()))

    def action_enable_user(self) -> None:
        """Open the form that lets a disabled user log in again."""
        self.push_screen(EnableUserForm(**self._forms_context()))

    def action_change_password(self) -> None:
        """Open the form that sets a user's password."""
        self.push_screen(PasswordForm(**self._forms_context()))

    def action_halt(self) -> None:
        """Open the halt form for the selected symbol."""
        self.open_symbol_form("halt", self.query_one(SymbolTable).selected_symbol or "")

    def action_resume(self) -> None:
        """Open the resume form for the selected symbol."""
        self.open_symbol_form("resume", self.query_one(SymbolTable).selected_symbol or "")

    def open_symbol_form(self, action: str, symbol: str = "") -> None:
        """Open the halt or resume form."""
        self.push_screen(SymbolForm(action, symbol=symbol, **self._forms_context()))

    @on(AdminForm.Answered)
    def _answered(self, event: AdminForm.Answered) -> None:
        self.model.note("admin" if event.ok else "error", f"you: {event.text}")
