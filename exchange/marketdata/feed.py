"""Engine events to public market-data messages (the only place that knows both).

For every accepted command the gateway turns its events into the public
messages of each symbol it touched — ``l3`` (one per book change, consecutive
``seq``), ``trade`` (one per match) and ``status`` (listing, halt, resume) —
and, once the journal has committed the command, hands them to the market-data
hub and the bus. Public messages never name a user.
"""

from __future__ import annotations

from collections.abc import Sequence

from exchange.engine.core import Engine
from exchange.engine.events import Ack, Applied, Change, Done, Event, Match, Open
from exchange.engine.queries import level3
from exchange.marketdata.hub import MarketDataHub
from exchange.protocol.messages import L3Message, StatusMessage, TradeMessage

__all__ = ["PublicMessages", "public_messages", "seed_hub"]

PublicMessages = dict[str, list[L3Message | TradeMessage | StatusMessage]]


def public_messages(engine: Engine, events: Sequence[Event], ts: int) -> PublicMessages:
    """The public messages, per symbol, of one accepted command stamped ``ts``.

    Dispatches with one-class ``isinstance`` checks (fast, and they narrow for
    mypy): this runs for every accepted order, on the event loop.
    """
    out: PublicMessages = {}
    for ev in events:
        if isinstance(ev, Ack):  # private, and the commonest
            continue
        if isinstance(ev, Match):
            symbol = ev.symbol
            msgs = out.get(symbol)
            if msgs is None:
                msgs = out[symbol] = []
            msgs.append(L3Message(
                symbol=symbol, seq=ev.seq, event="match", side=ev.side, price=ev.price, qty=ev.qty,
                maker_order_id=ev.maker_order_id, taker_order_id=ev.taker_order_id, trade_id=ev.trade_id,
            ))
            msgs.append(TradeMessage(
                symbol=symbol, seq=ev.seq, trade_id=ev.trade_id, price=ev.price, qty=ev.qty,
                taker_side="buy" if ev.side == "sell" else "sell", ts=ts,
            ))
        elif isinstance(ev, Open):
            _add(out, L3Message(symbol=ev.symbol, seq=ev.seq, event="open", order_id=ev.order_id, side=ev.side,
                                price=ev.price, qty=ev.qty))
        elif isinstance(ev, Done):
            if ev.seq:
                _add(out, L3Message(symbol=ev.symbol, seq=ev.seq, event="done", order_id=ev.order_id,
                                    reason=ev.reason))
        elif isinstance(ev, Change):
            _add(out, L3Message(symbol=ev.symbol, seq=ev.seq, event="change", order_id=ev.order_id, side=ev.side,
                                price=ev.price, qty=ev.qty))
        elif isinstance(ev, Applied) and ev.status is not None and ev.symbol is not None:
            book = engine.books[ev.symbol]
            _add(out, StatusMessage(symbol=ev.symbol, status=ev.status, tick=book.tick, lot=book.lot))
    return out


def _add(out: PublicMessages, msg: L3Message | StatusMessage) -> None:
    msgs = out.get(msg.symbol)
    if msgs is None:
        out[msg.symbol] = [msg]
    else:
        msgs.append(msg)


def seed_hub(hub: MarketDataHub, engine: Engine) -> None:
    """Load the hub with the engine's books as recovered at start (all committed)."""
    for symbol, book in sorted(engine.books.items()):
        l3 = level3(book)
        hub.load(symbol, {
            "seq": book.seq, "tick": book.tick, "lot": book.lot, "status": book.status,
            "bids": l3["bids"], "asks": l3["asks"], "last": book.last,
            "last_qty": book.last_qty if book.last is not None else None, "volume": book.volume,
        })
