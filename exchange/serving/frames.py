"""The ``error`` frame every server of exch answers bad requests with."""

from __future__ import annotations

from exchange.protocol.messages import ErrorMessage, encode_message
from exchange.protocol.requests import RequestId

__all__ = ["error_frame"]


def error_frame(
    rid: RequestId, code: str, message: str, *, field: str | None = None, client_order_id: str | None = None
) -> bytes:
    """An ``error`` reply."""
    return encode_message(
        ErrorMessage(id=rid, code=code, message=message, field=field, client_order_id=client_order_id)
    )
