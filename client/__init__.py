"""The exch client library: one asyncio :class:`Session` per connection.

Used by the operator console, the trading client, the bots and the tests; no
other package builds TLS contexts or encodes frames itself. Message and request
types come from :mod:`exchange.protocol` (``AckMessage``, ``FillMessage``,
``OrderRequest``, ...); ``docs/protocol.md`` describes the wire protocol.

Example::

    from client import Session

    async with Session.connect("wss://127.0.0.1:8443/ws") as s:
        await s.login("alice", "secret")
        ack = await s.order("ACME", "buy", 10, price=10125)

Local order books from market data: :class:`BookKeeper` (``client.book``).
"""

from client.book import BookKeeper, SymbolBook
from client.errors import (
    CertificateError,
    ClientError,
    ConnectError,
    ExchError,
    ProtocolError,
    RequestTimeout,
    SessionClosed,
)
from client.session import DEFAULT_QUEUE_SIZE, DEFAULT_TIMEOUT, MAX_FRAME, Session

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_TIMEOUT",
    "MAX_FRAME",
    "BookKeeper",
    "CertificateError",
    "ClientError",
    "ConnectError",
    "ExchError",
    "ProtocolError",
    "RequestTimeout",
    "Session",
    "SessionClosed",
    "SymbolBook",
]
