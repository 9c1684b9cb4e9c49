"""Server-to-client messages of protocol v1.

Each is one JSON object whose ``type`` names it. Replies to a request carry
the request's ``id``; pushed messages (``fill``, ``done``, market data,
``stats``, ``shutdown``) carry none. The client library decodes frames into
these structs with :func:`decode_message`.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

from exchange.protocol.requests import RequestId

__all__ = [
    "AckMessage",
    "BalanceReply",
    "CanceledAllReply",
    "CanceledReply",
    "Candle",
    "CandlesReply",
    "DepositReply",
    "DoneMessage",
    "ErrorMessage",
    "FillMessage",
    "HaltReply",
    "HistoryFill",
    "HistoryOrder",
    "HistoryReply",
    "L2Message",
    "L3Message",
    "LoginReply",
    "Message",
    "OperatorEvent",
    "OrderInfo",
    "OrdersReply",
    "PongReply",
    "PositionInfo",
    "ResumeReply",
    "SessionInfo",
    "SessionsReply",
    "ShutdownMessage",
    "SnapshotMessage",
    "StatsMessage",
    "StatusMessage",
    "SubscribedReply",
    "SymbolAddReply",
    "SymbolInfo",
    "SymbolStats",
    "SymbolsReply",
    "TickerMessage",
    "TradeMessage",
    "TriggeredMessage",
    "UnsubscribedReply",
    "UserAddReply",
    "UserDisableReply",
    "UserEnableReply",
    "UserInfo",
    "UserListReply",
    "UserPasswdReply",
    "decode_message",
    "encode_message",
]


class _Message(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=False):
    pass


class _Reply(_Message, kw_only=True):
    id: RequestId = None


class LoginReply(_Reply, tag="login"):
    """Logged in. ``token`` logs in again (reconnects) until it expires or is revoked."""

    user: str
    role: Literal["trader", "admin"]
    token: str
    token_expires_ts: int


class AckMessage(_Reply, tag="ack"):
    """The order (or replace) passed validation and risk and is journaled (durable)."""

    order_id: int
    client_order_id: str | None
    symbol: str
    side: str
    status: str
    remaining: int
    ts: int


class FillMessage(_Message, tag="fill"):
    """One trade of one of your orders."""

    order_id: int
    client_order_id: str | None
    symbol: str
    side: str
    price: int
    qty: int
    remaining: int
    trade_id: int
    liquidity: Literal["maker", "taker"]
    ts: int


class DoneMessage(_Message, tag="done"):
    """One of your orders left the book or never rested."""

    order_id: int
    client_order_id: str | None
    symbol: str
    reason: str
    remaining: int
    ts: int


class TriggeredMessage(_Message, tag="triggered"):
    """A trade went through your stop's ``stop_price``: it entered the market now (status as of its entry)."""

    order_id: int
    client_order_id: str | None
    symbol: str
    side: str
    stop_price: int
    status: str
    remaining: int
    ts: int


class ErrorMessage(_Reply, tag="error"):
    """The request was refused; nothing changed on the server."""

    code: str
    message: str
    field: str | None = None
    client_order_id: str | None = None


class CanceledReply(_Reply, tag="canceled"):
    """Reply to ``cancel``."""

    order_id: int
    client_order_id: str | None
    remaining: int


class CanceledAllReply(_Reply, tag="canceled_all"):
    """Reply to ``cancel_all``."""

    count: int


class OrderInfo(msgspec.Struct, kw_only=True):
    """One open order in an ``orders`` reply (``price`` null for a stop, ``status`` ``pending`` until it triggers)."""

    order_id: int
    client_order_id: str | None
    symbol: str
    side: str
    type: str
    tif: str
    post_only: bool
    price: int | None
    qty: int
    remaining: int
    status: str
    ts: int
    stop_price: int | None = None
    triggered: bool = False
    expire_ts: int | None = None
    display_qty: int | None = None


class OrdersReply(_Reply, tag="orders"):
    """The caller's open orders, oldest first."""

    orders: list[OrderInfo]


class HistoryFill(msgspec.Struct, kw_only=True):
    """One of the caller's fills, from the trade store (``side``: the caller's)."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: int
    qty: int
    liquidity: Literal["maker", "taker"]
    ts: int


class HistoryOrder(msgspec.Struct, kw_only=True):
    """An order of the page's fills that is no longer open: what those fills did (``value``: sum of price * qty)."""

    order_id: int
    symbol: str
    side: str
    filled: int
    value: int
    ts: int


class HistoryReply(_Reply, tag="history"):
    """The caller's fills, newest first, and their finished orders; ``next_before`` pages on (null: no more)."""

    fills: list[HistoryFill]
    orders: list[HistoryOrder]
    next_before: int | None


class PositionInfo(msgspec.Struct, kw_only=True):
    """Shares of one symbol: the total, and the part held by open sell orders."""

    qty: int
    held: int


class BalanceReply(_Reply, tag="balance"):
    """Cash (cents, held part included) and positions; available = total - held."""

    cash: int
    cash_held: int
    positions: dict[str, PositionInfo]


class SymbolInfo(msgspec.Struct, kw_only=True):
    """A listed symbol."""

    symbol: str
    tick: int
    lot: int
    status: str


class SymbolsReply(_Reply, tag="symbols"):
    """Every listed symbol."""

    symbols: list[SymbolInfo]


class SubscribedReply(_Reply, tag="subscribed"):
    """Subscription confirmed; snapshots follow."""

    channels: list[str]
    symbols: list[str]
    interval_ms: int | None = None


class UnsubscribedReply(_Reply, tag="unsubscribed"):
    """Unsubscription confirmed."""

    channels: list[str]
    symbols: list[str]


class PongReply(_Reply, tag="pong"):
    """Reply to ``ping`` with the server's time (ns)."""

    ts: int


class ShutdownMessage(_Message, tag="shutdown"):
    """The server is shutting down cleanly; the connection closes with code 1001."""

    reason: str
    ts: int


class UserInfo(msgspec.Struct, kw_only=True):
    """A user as ``user_list`` shows it."""

    username: str
    role: str
    disabled: bool
    created_ts: int


class UserAddReply(_Reply, tag="user_add"):
    """The user exists and can log in now."""

    username: str
    role: str


class UserListReply(_Reply, tag="user_list"):
    """Every user."""

    users: list[UserInfo]


class DepositReply(_Reply, tag="deposit"):
    """The gift is in the user's wallet."""

    username: str
    cash: int
    symbol: str | None
    qty: int


class UserDisableReply(_Reply, tag="user_disable"):
    """The user is disabled; ``sessions_closed`` sessions were logged out."""

    username: str
    sessions_closed: int


class UserEnableReply(_Reply, tag="user_enable"):
    """The user may log in again."""

    username: str


class UserPasswdReply(_Reply, tag="user_passwd"):
    """The password is changed; ``sessions_closed`` sessions of the user were logged out."""

    username: str
    sessions_closed: int


class SessionInfo(msgspec.Struct, kw_only=True):
    """One connection as ``sessions`` shows it."""

    session_id: int
    user: str | None
    role: str | None
    address: str
    connected_ts: int
    orders_per_s: float
    messages_per_s: float


class SessionsReply(_Reply, tag="sessions"):
    """Every connected session."""

    sessions: list[SessionInfo]


class HaltReply(_Reply, tag="halt"):
    """The symbol is halted."""

    symbol: str
    status: str


class ResumeReply(_Reply, tag="resume"):
    """The symbol trades again."""

    symbol: str
    status: str


class SymbolAddReply(_Reply, tag="symbol_add"):
    """The symbol is listed."""

    symbol: str
    tick: int
    lot: int


class SnapshotMessage(_Message, tag="snapshot"):
    """The state of one channel for one symbol, as of ``seq`` (fields of other channels: null)."""

    channel: str
    symbol: str
    seq: int
    bids: list[list[int]] | None = None
    asks: list[list[int]] | None = None
    ticker: dict[str, Any] | None = None
    trades: list[dict[str, Any]] | None = None


class L3Message(_Message, tag="l3"):
    """One book change: ``event`` is open, match, change or done; fields it does not use are null."""

    symbol: str
    seq: int
    event: str
    order_id: int | None = None
    side: str | None = None
    price: int | None = None
    qty: int | None = None
    maker_order_id: int | None = None
    taker_order_id: int | None = None
    trade_id: int | None = None
    reason: str | None = None


class L2Message(_Message, tag="l2"):
    """Level changes ``[side, price, new_level_qty]`` (0 removes the level).

    The message covers book changes ``first_seq``..``seq``; quantities are
    absolute, so a client with a book at ``seq >= first_seq - 1`` applies it
    and one at a lower ``seq`` has missed something (resubscribe).
    """

    symbol: str
    seq: int
    changes: list[tuple[str, int, int]]
    first_seq: int | None = None


class StatusMessage(_Message, tag="status"):
    """A symbol was listed, halted or resumed (sent to its subscribers)."""

    symbol: str
    status: str
    tick: int
    lot: int


class TickerMessage(_Message, tag="ticker"):
    """Best bid/ask, last trade, session volume, open interest."""

    symbol: str
    seq: int
    bid: int | None
    bid_qty: int | None
    ask: int | None
    ask_qty: int | None
    last: int | None
    last_qty: int | None
    volume: int
    open_interest: int


class TradeMessage(_Message, tag="trade"):
    """A public trade (anonymous)."""

    symbol: str
    seq: int
    trade_id: int
    price: int
    qty: int
    taker_side: str
    ts: int


class SymbolStats(msgspec.Struct, kw_only=True):
    """One symbol's line in ``stats``."""

    bid: int | None
    ask: int | None
    last: int | None
    volume: int
    open_interest: int
    orders_resting: int
    status: str = "trading"


class OperatorEvent(msgspec.Struct, kw_only=True):
    """Something an operator should see, in words: who did what, from where.

    ``kind`` is ``security`` (failed or throttled logins, disabled users,
    connections closed for abuse), ``user`` (users added, enabled, funded) or
    ``admin`` (symbols halted, resumed, listed). ``seq`` counts from 1 in each
    server run.
    """

    seq: int
    ts: int
    kind: str
    text: str


class StatsMessage(_Message, tag="stats"):
    """Server statistics for operators (channel ``stats``, admin only).

    ``events`` holds the operator events since the previous ``stats`` message;
    the first one after subscribing carries the recent history (up to 100).
    """

    ts: int
    uptime_s: float
    clients: int
    sessions_by_user: dict[str, int]
    memory_rss_bytes: int
    orders_per_s: float
    trades_per_s: float
    messages_out_per_s: float
    journal_seq: int
    journal_lag_ms: float
    loop_lag_ms: float
    symbols: dict[str, SymbolStats]
    events: list[OperatorEvent] = []
    logins_failed: int = 0
    """Failed logins since the server started (wrong password, unknown user, throttled, bad token)."""


class Candle(msgspec.Struct, kw_only=True):
    """One interval of a symbol's trades: ``ts`` is the interval's start (ns)."""

    ts: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int


class CandlesReply(_Reply, tag="candles"):
    """OHLC candles, oldest first; intervals without trades are left out."""

    symbol: str
    interval_s: int
    candles: list[Candle]


Message = (
    LoginReply | AckMessage | FillMessage | DoneMessage | ErrorMessage | CanceledReply
    | CanceledAllReply | OrdersReply | BalanceReply | SymbolsReply | SubscribedReply
    | UnsubscribedReply | PongReply | ShutdownMessage | UserAddReply | UserListReply
    | DepositReply | UserDisableReply | UserEnableReply | UserPasswdReply | SessionsReply | HaltReply
    | ResumeReply | SymbolAddReply | SnapshotMessage | L3Message | L2Message | TickerMessage
    | TradeMessage | StatsMessage | StatusMessage | HistoryReply | CandlesReply | TriggeredMessage
)

_decoder: Final = msgspec.json.Decoder(Message)
_encoder: Final = msgspec.json.Encoder()


def decode_message(frame: bytes | str) -> Message:
    """Decode one server frame.

    Raises:
        msgspec.ValidationError / msgspec.DecodeError: not a v1 message.
    """
    message: Message = _decoder.decode(frame)
    return message


def encode_message(message: Message) -> bytes:
    """Encode one message as a JSON frame."""
    return _encoder.encode(message)
