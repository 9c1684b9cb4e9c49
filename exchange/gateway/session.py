"""One client connection: its explicit state, identity, limits and outbox."""

from __future__ import annotations

import asyncio
import enum
import itertools
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from websockets.protocol import State

from exchange.gateway.limits import GatewayLimits, TokenBucket

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
        self._mark = (now, 0, 0)
        self.outbox: list[bytes] = []
        self.on_dirty: Callable[[ClientSession], None] = _flush_now

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
        self.username = username
        self.user_id = user_id
        self.role = role

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
        return transport is not None and transport.get_write_buffer_size() > self.limits.max_buffer // 4

    def flush(self) -> None:
        """Write every queued frame in one TLS record batch; drop the client if it does not read.

        Frames are coalesced into a single transport write: one encryption pass
        and one system call for everything this connection gets in a loop turn.
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
        if transport.get_write_buffer_size() > self.limits.max_buffer:
            self.close(1013, "slow consumer: outbound buffer full")
            return
        protocol = self.conn.protocol
        if protocol.extensions or protocol.expect_continuation_frame or protocol.debug:
            for frame in outbox:
                protocol.send_text(frame)
            transport.write(b"".join(protocol.data_to_send()))
            return
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
        transport.write(b"".join(parts))

    def close(self, code: int, reason: str) -> None:
        """Start closing with ``code``; the handshake finishes in the background.

        ``Connection.close`` waits at most ``close_timeout`` for the peer, then
        aborts the TCP connection, so a client that never reads cannot hold it.
        """
        if self.state is SessionState.CLOSING:
            return
        self.flush()  # what was queued for this client goes out before the close frame
        self.move(SessionState.CLOSING)
        task = asyncio.ensure_future(self.conn.close(code, reason))
        _closing.add(task)
        task.add_done_callback(_closing.discard)


_closing: set[asyncio.Future[None]] = set()


def _flush_now(session: ClientSession) -> None:
    """Without a gateway to batch for it, a session flushes on the next loop turn."""
    asyncio.get_running_loop().call_soon(session.flush)
