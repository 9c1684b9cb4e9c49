"""Asks for what the console could not find: the server's URL, the admin's password, the CA."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from client.errors import ClientError
from console.config import ConsoleConfig

__all__ = ["LoginHost", "LoginScreen"]


class LoginHost(Protocol):
    """What the login screen needs from the app."""

    async def try_login(self, config: ConsoleConfig) -> None:
        """Connect and log in once with ``config``; raise the ClientError on failure."""


class LoginScreen(Screen[ConsoleConfig]):
    """Connect as an admin; dismissed with the working settings."""

    BINDINGS = [Binding("escape", "app.quit", "Quit", id="login.quit")]

    def __init__(self, config: ConsoleConfig) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        c = self.config
        with Vertical(classes="login-form") as form:
            form.border_title = "Connect to an exch server"
            yield Static(
                "No running server was found in the exch home, or no admin password. "
                "On the server machine the admin password is in $EXCH_HOME/admin-password.",
                classes="form-help",
            )
            yield self._row("Server URL", Input(value=c.url or "", placeholder="wss://host:8443/ws", id="url"))
            yield self._row("Admin user", Input(value=c.user, id="user"))
            yield self._row("Password", Input(value=c.password or "", password=True, id="password"))
            yield self._row("CA file", Input(value=str(c.cafile or ""), placeholder="the server's tls/ca.pem "
                                             "(empty: system roots)", id="cafile"))
            with Horizontal(classes="form-buttons"):
                yield Button("Connect", variant="primary", id="connect", compact=True)
            yield Static("", id="answer", classes="form-answer")
        yield Footer()

    @staticmethod
    def _row(label: str, field: Input) -> Horizontal:
        field.compact = True
        return Horizontal(Label(label), field, classes="form-field")

    def on_mount(self) -> None:
        first_empty = next((i for i in self.query(Input) if not i.value), None)
        if first_empty is not None:
            first_empty.focus()

    def _value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    @on(Button.Pressed, "#connect")
    @on(Input.Submitted)
    def connect(self) -> None:
        """Try the settings in a worker."""
        url, user = self._value("url"), self._value("user") or "admin"
        password = self.query_one("#password", Input).value
        cafile_text = self._value("cafile")
        cafile = Path(cafile_text).expanduser() if cafile_text else None
        if not url:
            self._say("Give the server's URL, e.g. wss://exchange.example.com:8443/ws.", False)
            return
        if not password:
            self._say("Give the admin password.", False)
            return
        if cafile is not None and not cafile.is_file():
            self._say(f"No CA file at {cafile}.", False)
            return
        self._say(f"Connecting to {url}…", None)
        self.run_worker(self._try(self.config.with_login(url, user, password, cafile)), exclusive=True)

    async def _try(self, config: ConsoleConfig) -> None:
        try:
            await cast(LoginHost, self.app).try_login(config)
        except ClientError as exc:
            self._say(f"Could not connect: {exc}", False)
        else:
            self.dismiss(config)

    def _say(self, text: str, ok: bool | None) -> None:
        answer = self.query_one("#answer", Static)
        answer.update(text)
        answer.set_class(ok is False, "-error")
