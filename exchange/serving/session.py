"""One client connection: its explicit state, identity, limits and outbox."""

from __future__ import annotations

import asyncio
import enum
import itertools
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from websockets.protocol import State

from exchange.serving.limits import GatewayLimits, OutputBudget, TokenBucket

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

__all__ = ["ClientSession", "IllegalTransition", "SessionState"]

_ids: Final = itertools.count(1)
_TEXT_SHORT: Final = tuple(bytes((0x81, n)) for n in range(126))
"""Headers of unmasked, final text frames of 0..125 bytes (a server never masks)."""
_TEXT_MEDIUM: Final = struct.Struct("!BBH").pack
_TEXT_LONG: Final = struct.Struct("!BBQ").pack


class SessionState(enum.Enum):
    """Where a connection is in its life. Only the transitions below are legal."""

    CONNECTED = "connected"
    AUTHENTICATED = "authenticated"
    CLOSING = "closing"


_LEGAL: Final = {
    (SessionState.CONNECTED, SessionState.AUTHENTICATED),
    (SessionState.CONNECTED, SessionState.CLOSING),
    (SessionState.AUTHENTICATED, SessionState.CLOSING),
}


class IllegalTransition(RuntimeError):
    """A session was asked to move to a state it cannot reach from where it is."""


class ClientSession:
    """A connected client. Holds no engine state: only who it is and what it may do."""

    def __init__(
        self, conn: ServerConnection, address: str, now: float, now_ns: int, limits: GatewayLimits
    ) -> None:
        self.id = next(_ids)
        self.conn = conn
        self.address = address
        self.ip = address
        self.connected_ts = now_ns
        self.state = SessionState.CONNECTED
        self.username: str | None = None
        self.user_id = 0
        self.role: str | None = None
        self.limits = limits
        self.messages = TokenBucket(limits.messages_per_s, 2 * limits.messages_per_s, now)
        self.orders = TokenBucket(limits.orders_per_s, 2 * limits.orders_per_s, now)
        self.order_count = 0
        self.message_count = 0
        self.refused = 0  # frames refused as rate_limited since refused_since
        self.refused_since = now
        self._mark = (now, 0, 0)
        self.outbox: list[bytes] = []
        self.max_buffer = min(limits.max_buffer, limits.max_buffer_public)  # until login
        self.buffered = 0  # the outbound buffer's size when last sampled, counted in ``output``
        self.output = OutputBudget(0)
        self.on_dirty: Callable[[ClientSession], None] = _flush_now
        self.on_close: Callable[[ClientSession], None] = _nothing

    def rates(self, now: float) -> tuple[float, float]:
        """Orders/s and messages/s since the previous call (or since connecting)."""
        then, orders, messages = self._mark
        elapsed = max(now - then, 1e-3)
        result = ((self.order_count - orders) / elapsed, (self.message_count - messages) / elapsed)
        self._mark = (now, self.order_count, self.message_count)
        return result

    def move(self, state: SessionState) -> None:
        """Change state, refusing illegal transitions."""
        if (self.state, state) not in _LEGAL:
            raise IllegalTransition(f"session {self.id}: {self.state.value} -> {state.value}")
        self.state = state

    def login(self, username: str, user_id: int, role: str) -> None:
        """Become ``username``. A session logs in once; a second login is refused earlier."""
        self.move(SessionState.AUTHENTICATED)
        self.max_buffer = self.limits.max_buffer
        self.username = username
        self.user_id = user_id
        self.role = role

    @property
    def closing(self) -> bool:
        """Whether the session is closing (or closed)."""
        return self.state is SessionState.CLOSING

    @property
    def open(self) -> bool:
        """Whether frames can still be sent."""
        return self.state is not SessionState.CLOSING and self.conn.protocol.state is State.OPEN

    def send(self, frame: bytes) -> bool:
        """Queue one text frame; it goes out with the others at the end of this loop turn.

        Returns:
            Whether the frame was queued.
        """
        if not self.open:
            return False
        if not self.outbox:
            self.on_dirty(self)
        self.outbox.append(frame)
        return True

    def congested(self) -> bool:
        """Whether unread output is piling up (a quarter of the buffer limit)."""
        transport = self.conn.transport
        return transport is not None and transport.get_write_buffer_size() > self.max_buffer // 4

    def flush(self) -> None:
        """Write every queued frame in one TLS record batch; drop the client if it does not read.

        Frames are coalesced into a single transport write (64 KiB pieces for
        more, see ``_CHUNK``): one encryption pass and one system call for
        everything this connection gets in a loop turn. Then the outbound
        buffer is sampled (no system call): past ``max_buffer`` the client is
        a slow consumer and is closed with 1013.
        """
        outbox = self.outbox
        if not outbox:
            return
        self.outbox = []
        if not self.open:
            return
        transport = self.conn.transport
        if transport is None:
            return
        protocol = self.conn.protocol
        if protocol.extensions or protocol.expect_continuation_frame or protocol.debug:
            for frame in outbox:
                protocol.send_text(frame)
            parts = protocol.data_to_send()
        else:
            # No extension rewrites frames: write the headers ourselves (what send_text
            # would serialize, without a Frame object per message), after anything
            # the protocol queued itself (pongs), so the order on the wire is kept.
            parts = protocol.data_to_send()
            short = _TEXT_SHORT
            for frame in outbox:
                n = len(frame)
                if n < 126:
                    parts += (short[n], frame)
                elif n < 65536:
                    parts += (_TEXT_MEDIUM(0x81, 126, n), frame)
                else:
                    parts += (_TEXT_LONG(0x81, 127, n), frame)
        data = b"".join(parts)
        if len(data) <= _CHUNK:
            transport.write(data)
        else:
            for start in range(0, len(data), _CHUNK):
                transport.write(data[start:start + _CHUNK])
        self.sample()

    def sample(self) -> int:
        """Read the outbound buffer's size, count it in ``output``, close a slow consumer; the size."""
        transport = self.conn.transport
        size = transport.get_write_buffer_size() if transport is not None else 0
        if size > self.max_buffer:
            self.close(1013, "slow consumer: outbound buffer full")
            return size
        delta, self.buffered = size - self.buffered, size
        self.output.change(delta)
        return size

    def close(self, code: int, reason: str) -> None:
        """Close with ``code``: the close frame is queued behind what the client has not read yet.

        Nothing waits for the client: output queued in this loop turn is written
        first (dropped for a slow consumer, code 1013), then the close frame, and
        ``on_close`` runs at once. A client that reads everything within the
        connection's ``close_timeout`` gets the close frame and the closing
        handshake; otherwise the TCP connection is aborted then (its buffers freed).
        """
        if self.closing:
            return
        if code == 1013:
            self.outbox = []  # a client that does not read would not read this either
        else:
            self.flush()  # what was queued for this client goes out before the close frame
            if self.closing:  # the flush found it a slow consumer
                return
        self.move(SessionState.CLOSING)
        self.output.change(-self.buffered)
        self.buffered = 0
        conn = self.conn
        if conn.protocol.state is State.OPEN and conn.transport is not None:
            conn.protocol.send_close(code, reason)
            conn.transport.write(b"".join(conn.protocol.data_to_send()))
            loop = asyncio.get_running_loop()
            loop.call_later(conn.close_timeout or _CLOSE_TIMEOUT_S, _abort_unclosed, conn)
        self.on_close(self)


_CLOSE_TIMEOUT_S: Final = 5.0
_CHUNK: Final = 64 * 1024
"""Largest single write to a TLS transport.

The TLS transport counts in ``get_write_buffer_size`` only what it holds
itself, not what it passed on to the TCP transport below, and it passes
everything on until that one pauses it (past its 64 KiB high-water mark, in
the call that crosses it). Written in one piece, a 3 MiB burst to a client
that does not read would be invisible; in 64 KiB pieces, all but about
128 KiB of it stays in the TLS transport, counted.
"""


def _abort_unclosed(conn: ServerConnection) -> None:
    """The client did not finish the closing handshake in time: drop the TCP connection and its buffers."""
    if conn.protocol.state is not State.CLOSED and conn.transport is not None:
        conn.transport.abort()


def _nothing(session: ClientSession) -> None:
    """The default ``on_close``."""


def _flush_now(session: ClientSession) -> None:
    """Without a gateway to batch for it, a session flushes on the next loop turn."""
    asyncio.get_running_loop().call_soon(session.flush)
