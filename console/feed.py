"""The console's link to the server: the live session, its subscriptions and polls.

:class:`Feed` keeps one admin :class:`~client.live.LiveConnection` up (it
reconnects with backoff by itself), subscribes on every new session to
``stats`` and to ``trades`` of every listed symbol, and polls what is not
pushed: ``sessions`` and ``user_list`` over the protocol (the failed-login count
comes with ``stats``).
Each poll waits for its answer before the next is armed, so a slow server
never piles requests up. Everything it learns goes into the
:class:`~console.model.ConsoleModel`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from client.errors import ClientError
from client.live import LinkState, LiveConnection
from client.session import Session
from console.config import ConsoleConfig
from console.model import ConsoleModel
from exchange.info import read_admin_password, read_server_info

__all__ = ["Feed"]

class Feed:
    """Keeps the console's admin session and fills the model.

    Args:
        config: where and as whom (must be :attr:`~console.config.ConsoleConfig.complete`).
        model: what to fill.
        on_state: told every link change ``(state, detail)``.
        on_data: called on every pushed message (the link bar's data age).
        poll_s: seconds between ``sessions`` / ``user_list`` polls.
    """

    def __init__(
        self,
        config: ConsoleConfig,
        model: ConsoleModel,
        *,
        on_state: Callable[[LinkState, str], None] | None = None,
        on_data: Callable[[], None] | None = None,
        poll_s: float = 2.0,
    ) -> None:
        if config.url is None:
            raise ValueError("no server URL")
        self.config = config
        self.model = model
        self.on_state = on_state
        self.on_data = on_data
        self.poll_s = poll_s
        self.subscribed: set[str] = set()
        self.live = LiveConnection(
            config.url, username=config.user, password=config.password, cafile=config.cafile,
            home=config.home, setup=self._setup, on_state=self._state, queue_size=0,
        )
        self._down_noted = False

    @property
    def session(self) -> Session | None:
        """The logged-in session while the link is up."""
        s = self.live.session
        return s if self.live.state is LinkState.UP and s is not None and not s.closed else None

    def _state(self, state: LinkState, detail: str) -> None:
        if state is LinkState.CONNECTING:
            self._reread_password()
        elif state is LinkState.UP:
            self.model.note("link", f"connected as {self.config.user}")
            self._down_noted = False
        elif state is LinkState.DOWN:
            if not self._down_noted:  # once per outage, not per retry; a shutdown is noted already
                if self.model.shutdown is None:
                    self.model.note("link", (detail or "disconnected").split("; retrying")[0])
                self._down_noted = True
            self._follow_home()
        elif state is LinkState.FAILED:
            self.model.note("error", f"cannot connect: {detail}")
        if self.on_state is not None:
            self.on_state(state, detail)

    def _follow_home(self) -> None:
        """Before a retry: a server restarted on the same home may listen on another port."""
        if not self.config.url_from_home or self.config.home is None:
            return
        info = read_server_info(self.config.home)
        if info is not None and info.url != self.live.url:
            self.live.url = info.url
            self.model.note("link", f"the server now listens on {info.url}")

    def _reread_password(self) -> None:
        """Before a (re)connect: ``exch user passwd admin`` may have put a new password in the home."""
        if not self.config.password_from_home or self.config.home is None:
            return
        password = read_admin_password(self.config.home)
        if password is not None and password != self.live.password:
            self.live.password = password
            self.config = replace(self.config, password=password)

    @property
    def url(self) -> str:
        """The URL the link uses now."""
        return self.live.url

    def _on_message(self, msg: Any) -> None:
        self.model.apply(msg)
        if self.on_data is not None:
            self.on_data()

    async def _setup(self, session: Session) -> None:
        session.on_message(self._on_message)
        await session.subscribe("stats")
        listed = await session.symbols()
        names = [s.symbol for s in listed.symbols]
        self.subscribed = set()
        if names:
            await session.subscribe("trades", names)
            self.subscribed = set(names)
        for s in listed.symbols:
            self.model.listed(s.symbol, s.status)

    def use_password(self, password: str) -> None:
        """Log in with ``password`` from the next reconnect on (this login's password was changed)."""
        self.config = replace(self.config, password=password, password_from_home=False)
        self.live.password = password

    async def run(self) -> None:
        """Connect, stay connected and poll, until cancelled or :meth:`close`."""
        polls = asyncio.ensure_future(self._poll_forever())
        try:
            await self.live.run()
        finally:
            polls.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polls

    async def connect_once(self) -> None:
        """One attempt, raising the error (the login screen shows it)."""
        await self.live.connect_once()

    async def close(self) -> None:
        """Stop the link."""
        await self.live.close()

    async def _poll_forever(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.poll_s)

    async def poll(self) -> None:
        """One round of polls (nothing while the link is down)."""
        session = self.session
        if session is None:
            return
        try:
            self.model.set_sessions((await session.sessions()).sessions)
            self.model.set_users((await session.user_list()).users)
            new = set(self.model.symbols) - self.subscribed
            if new:
                await session.subscribe("trades", sorted(new))
                self.subscribed |= new
        except ClientError:
            return  # the link reports the failure; the next round tries again
