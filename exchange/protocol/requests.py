"""Client-to-server requests of protocol v1, and their strict decoding.

Every request is one JSON object with an ``op``; an optional ``id`` (any JSON
scalar) is echoed in the reply. Unknown fields are ignored. ``decode_request``
turns a frame into a typed struct or a :class:`RequestError` carrying the
precise error code and field, never anything in between.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

import msgspec

from exchange.bounds import MAX_DEPOSIT, MAX_LOT, MAX_PRICE, MAX_QTY, MAX_TICK
from exchange.types import OrderType, Side, TimeInForce

__all__ = [
    "ADMIN_OPS",
    "CANDLE_INTERVALS",
    "MAX_BATCH",
    "MAX_HISTORY",
    "TRADER_OPS",
    "BalanceRequest",
    "BatchRequest",
    "CancelAllRequest",
    "CancelRequest",
    "CandlesRequest",
    "Channel",
    "DepositRequest",
    "HaltRequest",
    "HistoryRequest",
    "Login",
    "OrderRequest",
    "OrdersRequest",
    "PingRequest",
    "ReplaceRequest",
    "Request",
    "RequestError",
    "RequestId",
    "ResumeRequest",
    "SessionsRequest",
    "SubscribeRequest",
    "SymbolAddRequest",
    "SymbolsRequest",
    "UnsubscribeRequest",
    "UserAddRequest",
    "UserDisableRequest",
    "UserEnableRequest",
    "UserListRequest",
    "UserPasswdRequest",
    "decode_batch_item",
    "decode_request",
    "request_id",
]

RequestId = str | int | float | bool | None
Channel = Literal["ticker", "level2", "level3", "trades", "stats"]
ClientOrderId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Username = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Symbol = Annotated[str, msgspec.Meta(min_length=1, max_length=12)]
Amount = Annotated[int, msgspec.Meta(ge=0, le=MAX_DEPOSIT)]
Price = Annotated[int, msgspec.Meta(le=MAX_PRICE)]
Qty = Annotated[int, msgspec.Meta(le=MAX_QTY)]
ExpireTs = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
MAX_BATCH: Final = 100
MAX_HISTORY: Final = 500
"""Most fills one ``history`` page returns."""


class _Request(msgspec.Struct, tag_field="op", omit_defaults=True, kw_only=True):
    id: RequestId = None


class Login(_Request, tag="login"):
    """Log in with ``username`` and ``password``, or with a ``token`` from an earlier login."""

    username: Username | None = None
    password: Password | None = None
    token: Annotated[str, msgspec.Meta(max_length=1024)] | None = None


class OrderRequest(_Request, tag="order"):
    """Place an order (trader): limit, market, stop or stop-limit; ``display_qty`` makes an iceberg."""

    symbol: Symbol
    side: Side
    qty: Qty
    type: OrderType = "limit"
    price: Price | None = None
    tif: TimeInForce = "gtc"
    post_only: bool = False
    client_order_id: ClientOrderId | None = None
    stop_price: Price | None = None
    expire_ts: ExpireTs | None = None
    display_qty: Qty | None = None


class CancelRequest(_Request, tag="cancel"):
    """Cancel an open order by ``order_id`` or ``client_order_id`` (owner)."""

    order_id: int | None = None
    client_order_id: ClientOrderId | None = None


class ReplaceRequest(_Request, tag="replace"):
    """Change an open order's price and/or open quantity, or an untriggered stop's ``stop_price`` (owner)."""

    order_id: int | None = None
    client_order_id: ClientOrderId | None = None
    price: Price | None = None
    qty: Qty | None = None
    stop_price: Price | None = None


class CancelAllRequest(_Request, tag="cancel_all"):
    """Cancel all of the caller's open orders, optionally on one symbol."""

    symbol: Symbol | None = None


class OrdersRequest(_Request, tag="orders"):
    """List the caller's open orders."""

    symbol: Symbol | None = None


class HistoryRequest(_Request, tag="history"):
    """The caller's recent fills (newest first, ``limit`` per page, below trade id ``before``) and finished orders."""

    before: Annotated[int, msgspec.Meta(ge=1)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_HISTORY)] = 100


class BalanceRequest(_Request, tag="balance"):
    """The caller's cash and positions with their held parts."""


class SymbolsRequest(_Request, tag="symbols"):
    """Every listed symbol."""


class SubscribeRequest(_Request, tag="subscribe"):
    """Subscribe to public channels (``stats``: admin only, no symbols)."""

    channels: Annotated[list[Channel], msgspec.Meta(min_length=1, max_length=5)]
    symbols: Annotated[list[Symbol], msgspec.Meta(max_length=256)] = []
    interval_ms: Annotated[int, msgspec.Meta(ge=50, le=60_000)] | None = None


class UnsubscribeRequest(_Request, tag="unsubscribe"):
    """Stop channels for symbols."""

    channels: Annotated[list[Channel], msgspec.Meta(min_length=1, max_length=5)]
    symbols: Annotated[list[Symbol], msgspec.Meta(max_length=256)] = []


class BatchRequest(_Request, tag="batch"):
    """Up to 100 requests in one frame (no nested batch); one reply each, in order."""

    requests: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class PingRequest(_Request, tag="ping"):
    """Liveness check; the reply carries the server's time."""


class UserAddRequest(_Request, tag="user_add"):
    """Create a user (admin)."""

    username: Username
    password: Password
    role: Literal["trader", "admin"] = "trader"
    cash: Amount = 0
    positions: dict[Symbol, Amount] = {}


class UserListRequest(_Request, tag="user_list"):
    """List users (admin)."""


class DepositRequest(_Request, tag="deposit"):
    """Gift cash and/or shares to a user (admin)."""

    username: Username
    cash: Amount = 0
    symbol: Symbol | None = None
    qty: Amount = 0


class UserDisableRequest(_Request, tag="user_disable"):
    """Disable a user: close their sessions and refuse their logins (admin)."""

    username: Username


class UserEnableRequest(_Request, tag="user_enable"):
    """Enable a disabled user again (admin)."""

    username: Username


class UserPasswdRequest(_Request, tag="user_passwd"):
    """Set a user's password: close their other sessions and revoke their tokens (admin)."""

    username: Username
    password: Password


class SessionsRequest(_Request, tag="sessions"):
    """List connected sessions (admin)."""


class HaltRequest(_Request, tag="halt"):
    """Halt trading in a symbol (admin)."""

    symbol: Symbol


class ResumeRequest(_Request, tag="resume"):
    """Resume trading in a symbol (admin)."""

    symbol: Symbol


class SymbolAddRequest(_Request, tag="symbol_add"):
    """List a new symbol (admin)."""

    symbol: Symbol
    tick: Annotated[int, msgspec.Meta(ge=1, le=MAX_TICK)] = 1
    lot: Annotated[int, msgspec.Meta(ge=1, le=MAX_LOT)] = 1


CANDLE_INTERVALS: Final = (60, 300, 900, 3600, 86400)
"""The candle widths ``candles`` serves, in seconds (1 minute to 1 day)."""


class CandlesRequest(_Request, tag="candles"):
    """OHLC candles of a symbol's trades (public): the last ``limit`` intervals before ``end_ts``."""

    symbol: Symbol
    interval_s: Literal[60, 300, 900, 3600, 86400] = 60
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 300
    end_ts: Annotated[int, msgspec.Meta(ge=0)] | None = None


Request = (
    Login | OrderRequest | CancelRequest | ReplaceRequest | CancelAllRequest | OrdersRequest
    | BalanceRequest | SymbolsRequest | SubscribeRequest | UnsubscribeRequest | BatchRequest
    | PingRequest | UserAddRequest | UserListRequest | DepositRequest | UserDisableRequest
    | UserEnableRequest | UserPasswdRequest | SessionsRequest | HaltRequest | ResumeRequest | SymbolAddRequest
    | HistoryRequest | CandlesRequest
)

TRADER_OPS: Final = frozenset({"order", "cancel", "replace", "cancel_all", "orders", "balance", "history"})
ADMIN_OPS: Final = frozenset(
    {"user_add", "user_list", "deposit", "user_disable", "user_enable", "user_passwd", "sessions", "halt",
     "resume", "symbol_add"}
)
_FIELD_CODES: Final = {
    "price": "invalid_price", "qty": "invalid_qty", "stop_price": "invalid_price", "display_qty": "invalid_qty",
}
_AT_FIELD = re.compile(r"at `\$\.([A-Za-z_]+)")
_MISSING = re.compile(r"missing required field `([A-Za-z_]+)`")


class RequestError(Exception):
    """A frame that is not a valid request: reply ``error`` with these fields."""

    def __init__(self, code: str, message: str, *, id: RequestId = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id
        self.field = field


_decoder: Final = msgspec.json.Decoder(Request)
_lenient: Final = msgspec.json.Decoder()


_NOT_JSON: Final = object()


def _lenient_decode(frame: bytes | str) -> Any:
    """Any JSON value of ``frame``, or ``_NOT_JSON`` for anything that is not (never raises)."""
    try:
        return _lenient.decode(frame)
    except (msgspec.DecodeError, RecursionError, UnicodeError):
        return _NOT_JSON


def request_id(frame: bytes | str) -> RequestId:
    """Best effort: the ``id`` of a frame that failed strict decoding or was refused undecoded."""
    obj = _lenient_decode(frame)
    if isinstance(obj, dict):
        value = obj.get("id")
        if value is None or isinstance(value, str | int | float | bool):
            return value
    return None


def _op_of(frame: bytes | str) -> Any:
    obj = _lenient_decode(frame)
    return obj.get("op") if isinstance(obj, dict) else None


def decode_request(frame: bytes | str) -> Request:
    """Decode one frame into a typed request; never raises anything but :class:`RequestError`.

    Raises:
        RequestError: malformed JSON (including nesting deeper than the
            interpreter's recursion limit, and a ``str`` holding lone
            surrogates, which no UTF-8 frame can), not an object, unknown
            ``op``, or a field that is missing, ill-typed or out of range
            (``field`` names it).
    """
    try:
        req: Request = _decoder.decode(frame)
    except msgspec.ValidationError as exc:
        raise _classify(str(exc), frame) from None
    except msgspec.DecodeError:
        raise RequestError("bad_request", "frame is not valid JSON") from None
    except RecursionError:
        raise RequestError("bad_request", "frame nests too deeply") from None
    except UnicodeError:
        raise RequestError("bad_request", "frame is not valid UTF-8") from None
    return req


def decode_batch_item(raw: msgspec.Raw) -> Request:
    """Decode one element of a ``batch``; a nested batch is refused."""
    frame = bytes(raw)
    try:
        req = decode_request(frame)
    except RequestError:
        if _op_of(frame) == "batch":
            raise RequestError(
                "bad_request", "a batch cannot contain a batch", id=request_id(frame), field="op"
            ) from None
        raise
    if isinstance(req, BatchRequest):
        raise RequestError("bad_request", "a batch cannot contain a batch", id=req.id, field="op")
    return req


def _classify(text: str, frame: bytes | str) -> RequestError:
    rid = request_id(frame)
    if text.startswith("Expected `object`"):
        return RequestError("bad_request", "a request is a JSON object", id=rid)
    missing = _MISSING.search(text)
    if missing:
        name = missing.group(1)
        return RequestError(
            _FIELD_CODES.get(name, "bad_request"), f"missing required field '{name}'", id=rid, field=name
        )
    match = _AT_FIELD.search(text)
    field = match.group(1) if match else None
    if field == "op":
        op = _op_of(frame)
        if not isinstance(op, str):
            return RequestError("bad_request", f"field 'op' must be a string, got {op!r}", id=rid, field="op")
        return RequestError("unknown_op", f"unknown op {op!r}", id=rid, field="op")
    detail = text.split(" - at ")[0]
    code = _FIELD_CODES.get(field or "", "bad_request")
    where = f"field '{field}': " if field else ""
    return RequestError(code, f"{where}{detail}", id=rid, field=field)
