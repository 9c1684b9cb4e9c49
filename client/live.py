"""A connection that stays up: connect, log in, set up, and reconnect with backoff.

Both Textual apps (``exch console``, ``exch trade``) and the bots keep their
link to the exchange with a :class:`LiveConnection`: it connects, logs in
(password first, then the reconnect token), runs the caller's ``setup``
(subscriptions, a :class:`~client.book.BookKeeper`, initial queries) on every
new session, and when the connection drops it retries with exponential backoff
(capped, with jitter). Its :attr:`state` and the server's ``shutdown`` notice
are reported through ``on_state`` so an app can show them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from client.errors import CertificateError, ClientError, ExchError, SessionClosed
from client.session import Session

__all__ = ["Backoff", "LinkState", "LiveConnection"]


class LinkState(enum.Enum):
    """What the link is doing now."""

    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"  # waiting to retry
    FAILED = "failed"  # will not retry (bad credentials, untrusted certificate)
    CLOSED = "closed"


class Backoff:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s, … up to ``cap``."""

    def __init__(self, *, first: float = 0.5, cap: float = 15.0, rng: random.Random | None = None) -> None:
        self.first = first
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """Seconds to wait before the next attempt."""
        delay = min(self.cap, self.first * 2.0**self.attempt)
        self.attempt += 1
        jitter: float = 0.8 + 0.4 * self._rng.random()
        return delay * jitter

    def reset(self) -> None:
        """After a success."""
        self.attempt = 0


class LiveConnection:
    """Keeps one logged-in :class:`Session` to the exchange alive.

    Args:
        url: ``wss://HOST:PORT/ws``.
        username, password: credentials (``username`` None: no login, public data only).
        cafile, home: TLS trust (see :meth:`Session.connect`).
        setup: run on every new session after login (subscribe, load state).
        on_state: told ``(state, detail)`` on every change (detail: an error or notice text).
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        cafile: Path | None = None,
        home: Path | None = None,
        setup: Callable[[Session], Awaitable[None]] | None = None,
        on_state: Callable[[LinkState, str], None] | None = None,
        backoff: Backoff | None = None,
        queue_size: int = 0,
    ) -> None:
        self.url = url
        self.username = username
        self.password = password
        self.cafile = cafile
        self.home = home
        self.setup = setup
        self.on_state = on_state
        self.backoff = backoff or Backoff()
        self.queue_size = queue_size
        self.session: Session | None = None
        self.state = LinkState.CLOSED
        self.detail = ""
        self.token: str | None = None
        self.connects = 0
        self.last_up = 0.0
        self._stop = asyncio.Event()

    def _set(self, state: LinkState, detail: str = "") -> None:
        self.state, self.detail = state, detail
        if self.on_state is not None:
            self.on_state(state, detail)

    async def _open(self) -> Session:
        session = await Session.connect(
            self.url, cafile=self.cafile, home=self.home, insecure_ok=self.url.startswith("ws://"),
            queue_size=self.queue_size,
        )
        try:
            if self.username is not None:
                reply = None
                if self.token is not None:
                    with contextlib.suppress(ExchError):
                        reply = await session.login_token(self.token)
                if reply is None:
                    if self.password is None:
                        raise ExchError("auth_failed", "no password to log in with")
                    reply = await session.login(self.username, self.password)
                self.token = reply.token
            if self.setup is not None:
                await self.setup(session)
        except BaseException:
            await session.close()
            raise
        return session

    async def connect_once(self) -> Session:
        """Connect and log in once (no retry): for a login screen that wants the error.

        Raises:
            ClientError: as :meth:`Session.connect` / :meth:`Session.login` raise.
        """
        self._set(LinkState.CONNECTING)
        try:
            self.session = await self._open()
        except ClientError as exc:
            self._set(LinkState.FAILED, str(exc))
            raise
        self.connects += 1
        self.last_up = time.monotonic()
        self.backoff.reset()
        self._set(LinkState.UP)
        return self.session

    async def run(self) -> None:
        """Stay connected until :meth:`close`; returns then, or when retrying is pointless."""
        self._stop.clear()
        while not self._stop.is_set():
            if self.session is None or self.session.closed:
                self._set(LinkState.CONNECTING)
                try:
                    self.session = await self._open()
                except (CertificateError, ExchError) as exc:
                    if isinstance(exc, ExchError) and exc.code not in ("auth_failed",):
                        raise
                    self._set(LinkState.FAILED, str(exc))
                    return
                except ClientError as exc:
                    await self._pause(str(exc))
                    continue
                self.connects += 1
                self.last_up = time.monotonic()
                self.backoff.reset()
                self._set(LinkState.UP)
            closed = await self._wait_closed(self.session)
            if self._stop.is_set():
                break
            notice = closed.shutdown.reason if closed.shutdown is not None else (closed.reason or "connection lost")
            await self._pause(f"disconnected: {notice}")
        self._set(LinkState.CLOSED)

    async def _wait_closed(self, session: Session) -> SessionClosed:
        stop = asyncio.ensure_future(self._stop.wait())
        closed = asyncio.ensure_future(session.wait_closed())
        try:
            await asyncio.wait({stop, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if closed.done():
            return closed.result()
        closed.cancel()
        return SessionClosed(1000, "closed by the app")

    async def _pause(self, why: str) -> None:
        delay = self.backoff.next()
        self._set(LinkState.DOWN, f"{why}; retrying in {delay:.1f} s")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=delay)

    async def close(self) -> None:
        """Stop retrying and close the session."""
        self._stop.set()
        if self.session is not None:
            await self.session.close()
        self._set(LinkState.CLOSED)
