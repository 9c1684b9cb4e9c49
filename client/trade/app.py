"""``exch trade``: the trader's terminal, a Textual app on the :mod:`client` library.

Start at the login screen; a successful login opens the trading screen and a
worker keeps the link up (reconnecting with backoff, resynchronising the book
and reloading orders and wallet on every new session). ``offline=True`` skips
the login and shows a model filled by the caller (snapshot tests, demos).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from client.trade.commands import TradeCommands
from client.trade.link import TradeLink
from client.trade.model import TradeModel
from client.trade.screens.login import LoginScreen
from client.trade.screens.main import TradeScreen
from client.trade.settings import TradeSettings

__all__ = ["TradeApp"]


class TradeApp(App[int]):
    """The trading client.

    Args:
        settings: from the command line (URL, user, CA file, first symbol).
        model: the state to show (default: an empty one for ``settings.symbol``).
        offline: show the trading screen at once, with no connection.
        repaint_hz: how many times a second the screen catches up with the model.
    """

    CSS_PATH = "trade.tcss"
    TITLE = "exch trade"
    COMMANDS = App.COMMANDS | {TradeCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (160, "-xwide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        settings: TradeSettings,
        *,
        model: TradeModel | None = None,
        offline: bool = False,
        repaint_hz: float = 15.0,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.model = model or TradeModel((settings.symbol or "").upper())
        self.offline = offline
        self.repaint_hz = repaint_hz
        self.link: TradeLink | None = None

    def on_mount(self) -> None:
        if self.offline:
            self.push_screen(TradeScreen(self.model, repaint_hz=self.repaint_hz))
        else:
            self.push_screen(LoginScreen(self.settings))

    async def connect(self, url: str, username: str, password: str) -> None:
        """Log in and open the trading screen; the link then stays up on its own.

        Raises:
            ClientError: the login failed (the login screen explains it).
        """
        link = TradeLink(
            self.model, url=url, username=username, password=password, cafile=self.settings.cafile,
            home=self.settings.home,
        )
        try:
            await link.live.connect_once()
        except BaseException:
            await link.close()
            raise
        self.link = link
        self.run_worker(self._keep_up(link), name="link", group="link", exit_on_error=False)
        self.switch_screen(TradeScreen(self.model, repaint_hz=self.repaint_hz))

    async def _keep_up(self, link: TradeLink) -> None:
        try:
            await link.live.run()
        except Exception as exc:  # e.g. setup refused after a reconnect
            self.model.set_link("failed", str(exc))

    async def action_quit(self) -> None:
        """Close the link, then exit."""
        if self.link is not None:
            await self.link.close()
        self.exit(0)

    async def on_unmount(self) -> None:
        if self.link is not None:
            await self.link.close()
