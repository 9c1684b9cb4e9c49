"""Engine events to private messages: replies for the requester, pushes for owners."""

from __future__ import annotations

from typing import Final

from exchange.engine.events import Ack, Canceled, CanceledAll, Done, Match, Reject, Triggered
from exchange.protocol.messages import (
    AckMessage,
    CanceledAllReply,
    CanceledReply,
    DoneMessage,
    FillMessage,
    TriggeredMessage,
    encode_message,
)
from exchange.protocol.requests import RequestId
from exchange.serving.frames import error_frame

__all__ = ["PRIVATE_DONE_REASONS", "done_frame", "fill_frames", "reply_frame", "triggered_frame"]

PRIVATE_DONE_REASONS: Final = frozenset({"filled", "canceled", "expired", "self_trade"})


def reply_frame(rid: RequestId, event: Ack | Reject | Canceled | CanceledAll, ts: int) -> bytes:
    """The reply to an order, cancel, replace or cancel_all request."""
    if isinstance(event, Ack):
        return encode_message(
            AckMessage(
                id=rid, order_id=event.order_id, client_order_id=event.client_order_id,
                symbol=event.symbol, side=event.side, status=event.status,
                remaining=event.remaining, ts=ts,
            )
        )
    if isinstance(event, Reject):
        return error_frame(
            rid, event.code, event.message, field=event.field, client_order_id=event.client_order_id
        )
    if isinstance(event, Canceled):
        return encode_message(
            CanceledReply(
                id=rid, order_id=event.order_id, client_order_id=event.client_order_id,
                remaining=event.remaining,
            )
        )
    return encode_message(CanceledAllReply(id=rid, count=event.count))


def fill_frames(m: Match, ts: int) -> tuple[bytes, bytes]:
    """The maker's and the taker's ``fill`` for one trade."""
    taker_side = "buy" if m.side == "sell" else "sell"
    maker = FillMessage(
        order_id=m.maker_order_id, client_order_id=m.maker_client_order_id, symbol=m.symbol,
        side=m.side, price=m.price, qty=m.qty, remaining=m.maker_remaining, trade_id=m.trade_id,
        liquidity="maker", ts=ts,
    )
    taker = FillMessage(
        order_id=m.taker_order_id, client_order_id=m.taker_client_order_id, symbol=m.symbol,
        side=taker_side, price=m.price, qty=m.qty, remaining=m.taker_remaining, trade_id=m.trade_id,
        liquidity="taker", ts=ts,
    )
    return encode_message(maker), encode_message(taker)


def done_frame(d: Done, ts: int) -> bytes:
    """The owner's ``done`` for an order that left the book or never rested."""
    return encode_message(
        DoneMessage(
            order_id=d.order_id, client_order_id=d.client_order_id, symbol=d.symbol,
            reason=d.reason, remaining=d.remaining, ts=ts,
        )
    )


def triggered_frame(t: Triggered, ts: int) -> bytes:
    """The owner's ``triggered`` for a stop order that entered the market."""
    return encode_message(
        TriggeredMessage(
            order_id=t.order_id, client_order_id=t.client_order_id, symbol=t.symbol, side=t.side,
            stop_price=t.stop_price, status=t.status, remaining=t.remaining, ts=ts,
        )
    )
