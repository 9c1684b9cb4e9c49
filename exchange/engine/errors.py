"""Every rejection code the engine (and later the gateway) can answer with.

One place lists them all, as httpx's ``_exceptions.py`` does for its tree::

    bad_request                  malformed or ill-typed request (gateway)
    unknown_op                   no such ``op`` (gateway)
    not_authenticated            the request needs a login (gateway)
    auth_failed                  wrong credentials (gateway)
    forbidden                    the login lacks the role (gateway)
    unknown_symbol               no such symbol
    halted                       the symbol is halted: no new orders or replaces
    invalid_price                price missing, not positive, off the tick, too large
    invalid_qty                  quantity not positive, off the lot, too large
    insufficient_funds           not enough available cash for the hold
    insufficient_position        not enough available shares for the hold
    unknown_order                no such open order of *this* user
    duplicate_client_order_id    client id already used by an open order of this user
    would_cross                  a post-only order would take liquidity
    would_trigger                a stop whose stop_price the last trade is already through
    unfillable                   a fill-or-kill order cannot fill completely
    too_many_orders              the per-user cap on open orders is reached
    limit_exceeded               a deposit would take the exchange's cash or shares over its maximum
    rate_limited                 too many messages or orders per second (gateway)
    server_busy                  the server cannot take more work now (gateway)

A rejection changes nothing: the engine checks every condition before it
mutates any state.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["CODE_FIELDS", "ERROR_CODES", "EngineError", "ErrorCode"]

ErrorCode = Literal[
    "bad_request",
    "unknown_op",
    "not_authenticated",
    "auth_failed",
    "forbidden",
    "unknown_symbol",
    "halted",
    "invalid_price",
    "invalid_qty",
    "insufficient_funds",
    "insufficient_position",
    "unknown_order",
    "duplicate_client_order_id",
    "would_cross",
    "would_trigger",
    "unfillable",
    "too_many_orders",
    "limit_exceeded",
    "rate_limited",
    "server_busy",
]

ERROR_CODES: Final[tuple[str, ...]] = ErrorCode.__args__  # type: ignore[attr-defined]


CODE_FIELDS: Final[dict[str, str]] = {
    "unknown_symbol": "symbol",
    "invalid_price": "price",
    "invalid_qty": "qty",
    "duplicate_client_order_id": "client_order_id",
    "would_cross": "price",
    "would_trigger": "stop_price",
}
"""The request field a refusal with this code is about, unless it names another."""


class EngineError(Exception):
    """Raised inside the engine for a rejection; turned into a ``Reject`` event.

    Args:
        code: one of :data:`ERROR_CODES`.
        message: a plain-words explanation for the user.
        field: the command field refused (default: :data:`CODE_FIELDS` of ``code``, else None).
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field if field is not None else CODE_FIELDS.get(code)
