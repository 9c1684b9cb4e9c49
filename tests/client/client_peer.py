"""A scripted peer for the client library's tests: a tiny ``websockets`` server on 127.0.0.1.

The peer is not the code under test: each test hands it a coroutine that reads
the client's frames (decoded with the real request decoder, so a frame the
gateway would refuse fails the test) and answers with canned protocol messages.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from exchange.protocol import Request, decode_request

Handler = Callable[[ServerConnection], Awaitable[None]]

TS = 1_700_000_000_000_000_000


async def recv_request(ws: ServerConnection) -> Request:
    """The next frame from the client, which must be a text frame holding a valid request."""
    frame = await ws.recv()
    assert isinstance(frame, str), "requests are text frames"
    return decode_request(frame)


async def recv_json(ws: ServerConnection) -> dict[str, Any]:
    """The next frame from the client as plain JSON."""
    frame = await ws.recv()
    assert isinstance(frame, str)
    obj: dict[str, Any] = json.loads(frame)
    return obj


async def send(ws: ServerConnection, **message: Any) -> None:
    """Send one message (``type`` and fields) as a text frame."""
    await ws.send(json.dumps(message))


def ack(rid: Any, order_id: int = 1, **fields: Any) -> dict[str, Any]:
    """A canned ``ack`` reply."""
    base = {"type": "ack", "id": rid, "order_id": order_id, "client_order_id": None, "symbol": "ACME",
            "side": "buy", "status": "open", "remaining": 10, "ts": TS}
    return {**base, **fields}


def ticker(seq: int) -> dict[str, Any]:
    """A canned pushed ``ticker`` message."""
    return {"type": "ticker", "symbol": "ACME", "seq": seq, "bid": 100, "bid_qty": 5, "ask": None,
            "ask_qty": None, "last": None, "last_qty": None, "volume": 0, "open_interest": 5}


ServeFactory = Callable[..., contextlib.AbstractAsyncContextManager[str]]


def make_scripted() -> ServeFactory:
    """``async with scripted(handler[, ssl_context=ctx]) as url``: run a peer, yield its URL."""

    @contextlib.asynccontextmanager
    async def run(handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
        errors: list[BaseException] = []

        async def guarded(ws: ServerConnection) -> None:
            try:
                await handler(ws)
            except Exception as exc:  # surfaced after the test body
                errors.append(exc)
                raise

        async with serve(guarded, "127.0.0.1", 0, ssl=ssl_context, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            yield f"{'wss' if ssl_context else 'ws'}://127.0.0.1:{port}/ws"
        real = [e for e in errors if not type(e).__name__.startswith("ConnectionClosed")]
        if real:
            raise real[0]

    return run
