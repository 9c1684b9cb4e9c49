"""Every exception the client library raises, in one place.

The tree, as httpx draws its own::

    ClientError                 base of everything below
    ├── ConnectError            the server cannot be reached, or refused the WebSocket upgrade
    │   └── CertificateError    the server's TLS certificate is not trusted
    ├── ExchError               the server answered a request with ``error`` (``code``, ``field``)
    ├── SessionClosed           the connection is closed (close code, reason, ``shutdown`` notice)
    ├── ProtocolError           the server sent a frame this client cannot decode as a reply
    └── RequestTimeout          no reply in time (also a :class:`TimeoutError`)

``ExchError.code`` is one of the protocol's error codes (``docs/protocol.md``
lists them with when each happens), e.g. ``insufficient_funds`` or
``rate_limited``. Nothing changed on the server when one is raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.protocol import ErrorMessage, ShutdownMessage

__all__ = [
    "CertificateError",
    "ClientError",
    "ConnectError",
    "ExchError",
    "ProtocolError",
    "RequestTimeout",
    "SessionClosed",
]


class ClientError(Exception):
    """Base class of every exception raised by :mod:`client`."""


class ConnectError(ClientError):
    """The server could not be reached or refused the WebSocket connection.

    Args:
        message: what failed, in plain words (URL included).
    """


class CertificateError(ConnectError):
    """The server's TLS certificate is not trusted by this client.

    The message says how to trust it: pass the server's CA file
    (``--cafile PATH`` on the command line, ``cafile=`` in
    :meth:`client.Session.connect`); an exch server keeps its CA at
    ``$EXCH_HOME/tls/ca.pem`` on the machine it runs on.
    """


class ExchError(ClientError):
    """The server refused a request with an ``error`` reply; nothing changed there.

    Args:
        code: the protocol error code, e.g. ``"insufficient_funds"``.
        message: the server's explanation.
        field: the offending request field, when the server names one.
        client_order_id: the order's client id, when the request carried one.
    """

    def __init__(
        self, code: str, message: str, field: str | None = None, client_order_id: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}" + (f" (field {field!r})" if field else ""))
        self.code = code
        self.message = message
        self.field = field
        self.client_order_id = client_order_id

    @classmethod
    def from_message(cls, msg: ErrorMessage) -> ExchError:
        """Build the exception from an ``error`` reply.

        Args:
            msg: the decoded ``error`` message.

        Returns:
            An :class:`ExchError` carrying its code, message, field and client order id.
        """
        return cls(msg.code, msg.message, msg.field, msg.client_order_id)


class SessionClosed(ClientError):
    """The connection is closed; pending and further requests fail with this.

    Args:
        code: the WebSocket close code (1000 normal, 1001 server shutdown, 1006
            connection lost without a close frame, 1008 policy, 1009 frame too
            big, 1013 slow consumer / try again later).
        reason: the close reason the server gave (may be empty).
        shutdown: the server's ``shutdown`` notice, if one arrived before the close.
    """

    def __init__(self, code: int, reason: str = "", shutdown: ShutdownMessage | None = None) -> None:
        text = f"session closed (code {code}" + (f": {reason}" if reason else "") + ")"
        if shutdown is not None:
            text += f"; server shutdown: {shutdown.reason}"
        super().__init__(text)
        self.code = code
        self.reason = reason
        self.shutdown = shutdown


class ProtocolError(ClientError):
    """The server sent a frame that is not a valid protocol v1 message."""


class RequestTimeout(ClientError, TimeoutError):
    """No reply to a request within its timeout (an :class:`asyncio.TimeoutError`).

    The request may still have been carried out: check with ``orders``.
    """
