"""Engine events to public market-data frames, and snapshots for subscribers.

Every message carries the ``seq`` of the book change it reflects: ``l3``
messages one per change (consecutive per symbol), ``l2`` one per command with
the net level changes and the last ``seq``, ``ticker`` one per command that
changed the book, ``trade`` one per trade. Public messages never name a user.
Frames are only built for (channel, symbol) pairs someone subscribed to.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from exchange.engine.core import Engine
from exchange.engine.events import Change, Done, Event, Match, Open
from exchange.engine.queries import level2, level3, ticker
from exchange.protocol.messages import (
    L2Message,
    L3Message,
    SnapshotMessage,
    TickerMessage,
    TradeMessage,
    encode_message,
)

__all__ = ["CHANNELS", "Frame", "PublicFeed"]

CHANNELS: Final = ("ticker", "level2", "level3", "trades")
Frame = tuple[str, str, bytes]  # (channel, symbol, encoded message)


class PublicFeed:
    """Builds public frames from one command's events, against the engine's state after it.

    Args:
        engine: read for tickers and snapshots (never changed).
        wanted: ``wanted(channel, symbol)`` says whether anyone listens.
        recent_trades: how many trades a ``trades`` snapshot carries.
    """

    def __init__(
        self, engine: Engine, wanted: Callable[[str, str], bool], *, recent_trades: int = 50
    ) -> None:
        self.engine = engine
        self.wanted = wanted
        self.trades: dict[str, deque[TradeMessage]] = {}
        self.recent_trades = recent_trades

    def frames(self, events: Sequence[Event], ts: int) -> list[Frame]:
        """Public frames for the events of one accepted command (``ts`` its time)."""
        out: list[Frame] = []
        wanted = self.wanted
        l2: dict[str, dict[tuple[str, int], int]] = {}
        last_seq: dict[str, int] = {}
        for ev in events:
            kind = type(ev)
            if kind is Match:
                assert isinstance(ev, Match)
                symbol = ev.symbol
                trade = TradeMessage(
                    symbol=symbol, seq=ev.seq, trade_id=ev.trade_id, price=ev.price, qty=ev.qty,
                    taker_side="buy" if ev.side == "sell" else "sell", ts=ts,
                )
                recent = self.trades.get(symbol)
                if recent is None:
                    recent = self.trades[symbol] = deque(maxlen=self.recent_trades)
                recent.append(trade)
                if wanted("trades", symbol):
                    out.append(("trades", symbol, encode_message(trade)))
                if wanted("level3", symbol):
                    out.append(("level3", symbol, encode_message(L3Message(
                        symbol=symbol, seq=ev.seq, event="match", side=ev.side, price=ev.price,
                        qty=ev.qty, maker_order_id=ev.maker_order_id, taker_order_id=ev.taker_order_id,
                        trade_id=ev.trade_id,
                    ))))
                l2.setdefault(symbol, {})[(ev.side, ev.price)] = ev.level_qty
                last_seq[symbol] = ev.seq
            elif kind is Open or kind is Change or (kind is Done and ev.seq):  # type: ignore[union-attr]
                assert isinstance(ev, Open | Change | Done)
                symbol = ev.symbol
                if wanted("level3", symbol):
                    if isinstance(ev, Done):
                        msg = L3Message(symbol=symbol, seq=ev.seq, event="done", order_id=ev.order_id,
                                        reason=ev.reason)
                    else:
                        msg = L3Message(symbol=symbol, seq=ev.seq, event="open" if kind is Open else "change",
                                        order_id=ev.order_id, side=ev.side, price=ev.price, qty=ev.qty)
                    out.append(("level3", symbol, encode_message(msg)))
                assert ev.price is not None
                l2.setdefault(symbol, {})[(ev.side, ev.price)] = ev.level_qty
                last_seq[symbol] = ev.seq
        for symbol, seq in last_seq.items():
            if wanted("level2", symbol):
                changes = [(side, price, qty) for (side, price), qty in l2[symbol].items()]
                msg2 = L2Message(symbol=symbol, seq=seq, changes=changes)
                out.append(("level2", symbol, encode_message(msg2)))
            if wanted("ticker", symbol):
                out.append(("ticker", symbol, self.ticker_frame(symbol)))
        return out

    def ticker_frame(self, symbol: str) -> bytes:
        """The current ticker of ``symbol``."""
        return encode_message(TickerMessage(symbol=symbol, **ticker(self.engine.books[symbol])))

    def snapshot(self, channel: str, symbol: str) -> bytes:
        """The ``snapshot`` message a new subscriber of (channel, symbol) gets first."""
        book = self.engine.books[symbol]
        if channel == "level3":
            data = level3(book)
            msg = SnapshotMessage(channel=channel, symbol=symbol, seq=data["seq"], bids=data["bids"],
                                  asks=data["asks"])
        elif channel == "level2":
            data = level2(book)
            msg = SnapshotMessage(channel=channel, symbol=symbol, seq=data["seq"], bids=data["bids"],
                                  asks=data["asks"])
        elif channel == "ticker":
            data = ticker(book)
            msg = SnapshotMessage(channel=channel, symbol=symbol, seq=data["seq"], ticker=data)
        else:
            msg = SnapshotMessage(channel=channel, symbol=symbol, seq=book.seq,
                                  trades=[msgspec.to_builtins(t) for t in self.trades.get(symbol, ())])
        return encode_message(msg)
