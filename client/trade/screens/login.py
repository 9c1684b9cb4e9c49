"""The login screen: server URL, username, password, and what went wrong in plain words."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from client.errors import CertificateError, ClientError, ConnectError, ExchError, RequestTimeout, SessionClosed
from client.trade.settings import TradeSettings

if TYPE_CHECKING:
    from client.trade.app import TradeApp

__all__ = ["LoginScreen", "explain_login_error"]


def explain_login_error(exc: ClientError) -> str:
    """What a failed login means and what to do, in a sentence or two."""
    if isinstance(exc, ExchError):
        if exc.code == "auth_failed":
            return ("Wrong username or password. (After 5 failed logins of a user within a minute, "
                    "that user's logins are refused for 60 s.)")
        if exc.code == "forbidden":
            return exc.message
        return f"The server refused: {exc.code}: {exc.message}"
    if isinstance(exc, CertificateError):
        return f"Untrusted certificate: {exc}"
    if isinstance(exc, ConnectError):
        return f"{exc}. Is the server running? (exch serve; exch status shows its URL)"
    if isinstance(exc, SessionClosed):
        return f"The server closed the connection: {exc}"
    if isinstance(exc, RequestTimeout):
        return "The server did not answer in time; try again."
    return str(exc)


class LoginScreen(Screen[None]):
    """Asks where and who; :meth:`TradeApp.connect` does the rest."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.quit", "Quit", show=False, id="login.quit"),
    ]

    def __init__(self, settings: TradeSettings) -> None:
        super().__init__()
        self.settings = settings
        self.error = ""
        """The last failure shown (empty when none)."""

    @property
    def trade_app(self) -> TradeApp:
        """The app, typed."""
        return cast("TradeApp", self.app)

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="login-box"):
            yield Static("exch trade — log in", id="login-title")
            with Horizontal(classes="login-row"):
                yield Label("Server", classes="login-label")
                yield Input(value=self.settings.default_url(), compact=True, id="url")
            with Horizontal(classes="login-row"):
                yield Label("Username", classes="login-label")
                yield Input(value=self.settings.user or "", placeholder="trader name", compact=True, id="username")
            with Horizontal(classes="login-row"):
                yield Label("Password", classes="login-label")
                yield Input(password=True, compact=True, id="password")
            yield Button("Log in", variant="primary", compact=True, id="login")
            yield Static(id="login-msg")
            yield Static(Text(self._hint(), style="dim"), id="login-hint")
        yield Footer()

    def _hint(self) -> str:
        cafile = self.settings.cafile
        ca = self.settings.home / "tls" / "ca.pem"
        trust = f"trusting {cafile}" if cafile else f"trusting {ca} and the system roots"
        return f"Enter to go on · Esc to quit · TLS {trust}"

    def on_mount(self) -> None:
        self.query_one("#password" if self.settings.user else "#username", Input).focus()
        if self.settings.notice:
            self.say(self._notice(), error=True)
        if self.settings.user and self.settings.password:
            self.query_one("#password", Input).value = self.settings.password
            self.submit()

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        order = ["url", "username", "password"]
        if event.input.id == "password" or not event.input.id:
            self.submit()
            return
        following = order[order.index(event.input.id) + 1]
        self.query_one(f"#{following}", Input).focus()

    @on(Button.Pressed, "#login")
    def _pressed(self) -> None:
        self.submit()

    def _notice(self) -> str:
        notice = self.settings.notice or ""
        return notice[:1].upper() + notice[1:] + "."

    def say(self, message: str, *, error: bool = False) -> None:
        """Show a line under the form."""
        self.error = message if error else ""
        self.query_one("#login-msg", Static).update(Text(message, style="bold red" if error else "italic"))

    def submit(self) -> None:
        """Check the form and log in (in a worker)."""
        url = self.query_one("#url", Input).value.strip()
        user = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        for value, field, what in ((url, "url", "the server URL"), (user, "username", "a username"),
                                   (password, "password", "the password")):
            if not value:
                self.say(f"Enter {what}.", error=True)
                self.query_one(f"#{field}", Input).focus()
                return
        self.say(f"Connecting to {url} …")
        self.query_one("#login", Button).disabled = True
        self._login(url, user, password)

    @work(exclusive=True, group="login")
    async def _login(self, url: str, user: str, password: str) -> None:
        try:
            await self.trade_app.connect(url, user, password)
        except ClientError as exc:
            why = explain_login_error(exc)
            if isinstance(exc, ConnectError) and self.settings.notice:
                why = f"{why}\n{self._notice()}"
            self.say(why, error=True)
            self.query_one("#password", Input).focus()
        finally:
            if self.is_mounted:
                self.query_one("#login", Button).disabled = False
