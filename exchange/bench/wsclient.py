"""A lean WebSocket-over-TLS client for the load of ``exch bench gateway``.

The benchmark's load client shares the two cores with the server it measures,
so every microsecond it spends is one the server does not get. The
``websockets`` client costs ~15 µs per received frame (a ``Frame`` object, the
assembler, a future per ``recv``); this one parses the server's frames in
``data_received`` and hands each payload to a callback, and sends frames it
masks itself (a random key per frame, RFC 6455). It speaks real WebSocket over
real TLS: the opening handshake is checked (``Sec-WebSocket-Accept``), pings
are answered, and :meth:`LeanClient.close` runs the closing handshake.

Only what the benchmark needs: unfragmented server frames (exch and the echo
server never fragment), no extensions, no compression.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import struct
from collections import deque
from collections.abc import Callable
from typing import Final, cast
from urllib.parse import urlsplit

try:
    from websockets.speedups import apply_mask as _apply_mask  # C, shipped with websockets
except ImportError:  # pragma: no cover - websockets built without its C extension
    def _apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
        n = len(data)
        data = bytes(data)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")

__all__ = ["LeanClient", "connect_lean"]

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MEDIUM: Final = struct.Struct("!BBH").pack
_LONG: Final = struct.Struct("!BBQ").pack
_OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def _frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame."""
    n = len(payload)
    mask = os.urandom(4)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = _MEDIUM(0x80 | opcode, 0x80 | 126, n)
    else:
        head = _LONG(0x80 | opcode, 0x80 | 127, n)
    return head + mask + _apply_mask(payload, mask)


class LeanClient(asyncio.Protocol):
    """One client connection: frames in to ``on_message`` (or :meth:`recv`), frames out with :meth:`send`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.on_message: Callable[[bytes], None] | None = None
        """Called with each text/binary payload; None: payloads queue for :meth:`recv`."""
        self.close_received = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buf = b""
        self._handshake: asyncio.Future[bytes] | None = None
        self._queue: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None

    # ------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self._error = exc or ConnectionError("the connection closed")
        if not self.closed.done():
            self.closed.set_result(None)
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(self._error)
        self._wake()

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        if self._handshake is not None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._buf = buf
                return
            head, buf = buf[:end], buf[end + 4:]
            handshake, self._handshake = self._handshake, None
            handshake.set_result(head)
        pos, size = 0, len(buf)
        on_message = self.on_message
        while size - pos >= 2:
            b0, n = buf[pos], buf[pos + 1] & 0x7F
            start = pos + 2
            if n == 126:
                if size - start < 2:
                    break
                n = int.from_bytes(buf[start:start + 2], "big")
                start += 2
            elif n == 127:
                if size - start < 8:
                    break
                n = int.from_bytes(buf[start:start + 8], "big")
                start += 8
            end = start + n
            if end > size:
                break
            payload = buf[start:end]
            pos = end
            opcode = b0 & 0x0F
            if opcode in (_OP_TEXT, _OP_BINARY):
                if on_message is not None:
                    on_message(payload)
                else:
                    self._queue.append(payload)
                    self._wake()
            elif opcode == _OP_PING:
                self._write(_frame(_OP_PONG, payload))
            elif opcode == _OP_CLOSE:
                self.close_received = True
                self._write(_frame(_OP_CLOSE, payload[:2]))
                if self.transport is not None:
                    self.transport.close()
        self._buf = buf[pos:]

    # ------------------------------------------------------------ use

    def send(self, payload: bytes) -> None:
        """Send one text frame (queued on the transport; the benchmark bounds what is in flight)."""
        if self._error is not None:
            raise ConnectionError(f"the connection is closed: {self._error}")
        self._write(_frame(_OP_TEXT, payload))

    async def recv(self) -> bytes:
        """The next payload (only while ``on_message`` is None)."""
        while not self._queue:
            if self._error is not None:
                raise ConnectionError(f"the connection is closed: {self._error}")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._queue.popleft()

    async def close(self, timeout: float = 5.0) -> None:
        """Closing handshake: send close 1000, wait for the server's close (reading everything before it)."""
        if self.transport is None or self.closed.done():
            return
        if not self.close_received:
            self._write(_frame(_OP_CLOSE, (1000).to_bytes(2, "big")))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            self.transport.abort()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def connect_lean(url: str, context: ssl.SSLContext | None, *, timeout: float = 20.0) -> LeanClient:
    """Open ``url`` (``wss://host:port/path``) and run the opening handshake."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    loop = asyncio.get_running_loop()
    key = base64.b64encode(os.urandom(16))
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    _, client = await asyncio.wait_for(loop.create_connection(
        LeanClient, host, port, ssl=context if parts.scheme == "wss" else None), timeout)
    client._handshake = loop.create_future()
    assert client.transport is not None
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    client.transport.write(
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(client._handshake, timeout)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if not lines[0].startswith("HTTP/1.1 101") or headers.get("sec-websocket-accept") != accept.decode():
        client.transport.abort()
        raise ConnectionError(f"WebSocket handshake refused: {lines[0]}")
    return client
