"""The trading client's state as plain Python: no Textual, no I/O.

Everything the screen shows is read from one :class:`TradeModel`. The
connection code writes into it (private messages, replies, the local book of
the selected symbol kept by :class:`client.BookKeeper`), each write bumps a
version counter, and the app repaints what changed at a steady rate — never
once per message. Snapshot tests fill a model with fixed messages and no
server.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Final

from client.book import SymbolBook
from client.trade.pnl import Position, positions
from client.trade.validate import OrderTicket
from exchange.protocol import (
    AckMessage,
    BalanceReply,
    DoneMessage,
    ErrorMessage,
    FillMessage,
    HistoryFill,
    HistoryOrder,
    HistoryReply,
    Message,
    OrderInfo,
    OrdersReply,
    ShutdownMessage,
    SnapshotMessage,
    StatusMessage,
    SymbolInfo,
    SymbolsReply,
    TickerMessage,
    TradeMessage,
    TriggeredMessage,
)

__all__ = ["MAX_FILLS", "MAX_LEDGER", "AnyFill", "LadderLevel", "TradeModel", "ladder_levels"]

MAX_FILLS: Final = 200
"""Fills kept for the fills panel (newest last)."""
MAX_LEDGER: Final = 20_000
"""Fills kept for positions and P&L (the oldest go first)."""

AnyFill = FillMessage | HistoryFill
"""A fill pushed in this session, or one from the ``history`` of earlier ones."""


@dataclass(frozen=True, slots=True)
class LadderLevel:
    """One price level of the ladder.

    Attributes:
        side: ``buy`` or ``sell``.
        price: the level's price (cents).
        total: the aggregate resting quantity.
        cum: ``total`` plus every better level's of the same side (what a sweep to this price takes).
        queue: ``(order_id, qty)`` of every resting order, oldest (first to fill) first.
        mine: how much of ``total`` is the trader's own.
    """

    side: str
    price: int
    total: int
    queue: tuple[tuple[int, int], ...]
    mine: int
    cum: int = 0


def ladder_levels(
    book: SymbolBook | None, mine: Container[int], asks: int, bids: int
) -> tuple[list[LadderLevel], list[LadderLevel]]:
    """The best ``asks`` ask levels and ``bids`` bid levels of ``book``, best first.

    Args:
        book: the local book (None: nothing yet).
        mine: the trader's open order ids.
        asks, bids: how many levels of each side to return.

    Returns:
        ``(asks, bids)``, each best first.
    """
    if book is None:
        return [], []
    out: list[list[LadderLevel]] = []
    for side, depth in (("sell", asks), ("buy", bids)):
        rows: list[LadderLevel] = []
        cum = 0
        if depth > 0:
            for price, total in book.levels(side, depth):  # type: ignore[arg-type]
                queue = tuple(book.orders_at(side, price))  # type: ignore[arg-type]
                own = sum(q for oid, q in queue if oid in mine)
                cum += total
                rows.append(LadderLevel(side, price, total, queue, own, cum))
        out.append(rows)
    return out[0], out[1]


class TradeModel:
    """What one trader sees: symbols, the selected symbol's book, orders, fills, wallet.

    Attributes:
        symbol: the selected symbol.
        user: who is logged in (None before login).
        symbols: every listed symbol's tick, lot and status.
        book: the selected symbol's local book (kept current by a ``BookKeeper``).
        orders: the trader's open orders by id, oldest first (every symbol).
        fills: the trader's recent fills (this session's and the history's), newest last.
        ledger: every fill known by trade id (for positions and P&L); ``ledger_version`` counts its changes.
        finished: the finished orders of the history pages loaded, newest first.
        history_next: the ``before`` of the next older history page (None: no more, or none loaded).
        balance: the last ``balance`` reply.
        shutdown: the server's shutdown notice, once one came.
        notice: the last pushed ``error`` (e.g. ``forbidden`` before a disable), if any.
        link: the connection's state and detail (``LinkState`` value, text) for the status line.
        resyncs: sequence gaps seen on the selected symbol's book (each resubscribed).
        gap: the last gap, in words.
        connects: connections made so far (more than one: the app reconnected).
        version: bumped by every change of anything shown (what a repaint checks).
        book_version: bumped by every change of the selected symbol's book.
        refresh_wanted: a fill or ``done`` arrived: ``orders`` and ``balance`` should be fetched.
        last_data: ``time.monotonic()`` of the last message.
        tickers: the last ``ticker`` of every listed symbol (last trade, best bid and ask).
        status_news: ``(symbol, status)`` of every halt or resume pushed since login, oldest first.
        triggered: every ``triggered`` push (one of the trader's stops entered the market), oldest first.
    """

    def __init__(self, symbol: str = "", *, max_fills: int = MAX_FILLS) -> None:
        self.symbol = symbol
        self.user: str | None = None
        self.symbols: dict[str, SymbolInfo] = {}
        self.book: SymbolBook | None = None
        self.orders: dict[int, OrderInfo] = {}
        self.fills: deque[AnyFill] = deque(maxlen=max_fills)
        self.ledger: dict[int, AnyFill] = {}
        self.finished: list[HistoryOrder] = []
        self.history_next: int | None = None
        self.ledger_version = 0
        self._positions: tuple[int, dict[str, Position]] | None = None
        self.balance: BalanceReply | None = None
        self.shutdown: str | None = None
        self.notice: str | None = None
        self.link: tuple[str, str] = ("connecting", "")
        self.resyncs = 0
        self.gap: str | None = None
        self.connects = 0
        self.version = 0
        self.book_version = 0
        self.refresh_wanted = False
        self.last_data = 0.0
        self.tickers: dict[str, TickerMessage] = {}
        self.status_news: list[tuple[str, str]] = []
        self.triggered: list[TriggeredMessage] = []

    # ----------------------------------------------------------------- writes

    def _bump(self) -> None:
        self.version += 1
        self.last_data = time.monotonic()

    def select(self, symbol: str, book: SymbolBook | None = None) -> None:
        """Make ``symbol`` the selected one (its book, when already tracked)."""
        self.symbol = symbol
        self.book = book
        self.book_version += 1
        self._bump()

    def set_link(self, state: str, detail: str = "") -> None:
        """The connection changed state (``LinkState`` value and its detail)."""
        self.link = (state, detail)
        self._bump()

    def set_gap(self, resyncs: int, gap: str | None) -> None:
        """The book keeper saw a sequence gap and is resubscribing."""
        self.resyncs, self.gap = resyncs, gap
        self._bump()

    def book_changed(self, symbol: str) -> None:
        """A ``BookKeeper`` ``on_change`` callback: only marks the book dirty (called per message)."""
        if symbol == self.symbol:
            self.book_version += 1
            self.version += 1
            self.last_data = time.monotonic()

    def load_symbols(self, reply: SymbolsReply | Iterable[SymbolInfo]) -> None:
        """Remember every listed symbol."""
        infos = reply.symbols if isinstance(reply, SymbolsReply) else reply
        self.symbols = {info.symbol: info for info in infos}
        self._bump()

    def market(self, msg: Message) -> None:
        """A pushed ``status`` (halt, resume) or ``ticker`` (or its snapshot) of any symbol."""
        if isinstance(msg, StatusMessage):
            old = self.symbols.get(msg.symbol)
            self.symbols[msg.symbol] = SymbolInfo(symbol=msg.symbol, tick=msg.tick, lot=msg.lot, status=msg.status)
            if old is not None and old.status != msg.status:
                self.status_news.append((msg.symbol, msg.status))
        elif isinstance(msg, TickerMessage):
            self.tickers[msg.symbol] = msg
        elif isinstance(msg, SnapshotMessage) and msg.channel == "ticker" and msg.ticker is not None:
            self.tickers[msg.symbol] = TickerMessage(symbol=msg.symbol, **msg.ticker)
        else:
            return
        self._bump()

    def load_orders(self, reply: OrdersReply | Iterable[OrderInfo]) -> None:
        """Replace the open orders with an ``orders`` reply."""
        infos = reply.orders if isinstance(reply, OrdersReply) else reply
        self.orders = {info.order_id: info for info in infos}
        self._bump()

    def load_balance(self, reply: BalanceReply) -> None:
        """Replace the wallet with a ``balance`` reply."""
        self.balance = reply
        self._bump()

    def acked(self, ack: AckMessage, ticket: OrderTicket) -> None:
        """One of this trader's orders was accepted: list it while it rests (or waits for its trigger)."""
        if ack.status in ("open", "partially_filled", "pending"):
            self.orders[ack.order_id] = OrderInfo(
                order_id=ack.order_id, client_order_id=ack.client_order_id, symbol=ack.symbol, side=ack.side,
                type=ticket.type, tif=ticket.tif, post_only=ticket.post_only, price=ticket.price, qty=ticket.qty,
                remaining=ack.remaining, status=ack.status, ts=ack.ts, stop_price=ticket.stop_price,
                triggered=ticket.stop_price is not None and ack.status != "pending", expire_ts=ticket.expire_ts,
                display_qty=ticket.display_qty,
            )
        else:
            self.orders.pop(ack.order_id, None)
        self.refresh_wanted = True
        self._bump()

    def replaced(self, ack: AckMessage, price: int | None, stop_price: int | None = None) -> None:
        """A replace was accepted: the order's price, open quantity or stop price changed."""
        old = self.orders.get(ack.order_id)
        if old is not None and ack.status in ("open", "partially_filled", "pending"):
            self.orders[ack.order_id] = OrderInfo(
                order_id=old.order_id, client_order_id=old.client_order_id, symbol=old.symbol, side=old.side,
                type=old.type, tif=old.tif, post_only=old.post_only,
                price=old.price if price is None else price, qty=old.qty - old.remaining + ack.remaining,
                remaining=ack.remaining, status=ack.status, ts=old.ts,
                stop_price=old.stop_price if stop_price is None else stop_price,
                triggered=old.triggered or (old.stop_price is not None and ack.status != "pending"),
                expire_ts=old.expire_ts, display_qty=old.display_qty,
            )
        elif old is not None:
            del self.orders[ack.order_id]
        self.refresh_wanted = True
        self._bump()

    def removed(self, order_id: int) -> None:
        """An order is no longer open (canceled by request)."""
        self.orders.pop(order_id, None)
        self.refresh_wanted = True
        self._bump()

    def load_history(self, reply: HistoryReply, *, older: bool = False) -> None:
        """A ``history`` page: its fills join the fills and the ledger, its finished orders the list.

        Args:
            reply: the page.
            older: it is the page after the ones loaded (else the newest page, after a (re)connect).
        """
        for fill in reply.fills:
            self.ledger.setdefault(fill.trade_id, fill)
        if older:
            known = {o.order_id for o in self.finished}
            self.finished += [o for o in reply.orders if o.order_id not in known]
        else:
            self.finished = list(reply.orders)
        if older or self.history_next is None:
            self.history_next = reply.next_before
        self._ledger_changed()

    def _ledger_changed(self) -> None:
        self.ledger_version += 1
        while len(self.ledger) > MAX_LEDGER:
            del self.ledger[min(self.ledger)]
        newest = sorted(self.ledger)[-(self.fills.maxlen or MAX_FILLS):]
        self.fills.clear()
        self.fills.extend(self.ledger[t] for t in newest)
        self._bump()

    def private(self, msg: Message) -> None:
        """A pushed private message: ``fill``, ``done``, ``triggered``, ``shutdown`` or an ``error`` notice."""
        if isinstance(msg, FillMessage):
            if msg.trade_id not in self.ledger:
                self.ledger[msg.trade_id] = msg
                self.ledger_version += 1
                if self.fills and self.fills[-1].trade_id > msg.trade_id:
                    self._ledger_changed()
                else:
                    self.fills.append(msg)
            order = self.orders.get(msg.order_id)
            if order is not None:
                order.remaining = msg.remaining
                order.status = "partially_filled"
            self.refresh_wanted = True
        elif isinstance(msg, DoneMessage):
            self.orders.pop(msg.order_id, None)
            self.refresh_wanted = True
        elif isinstance(msg, TriggeredMessage):
            order = self.orders.get(msg.order_id)
            if order is not None:
                order.triggered, order.status, order.remaining = True, msg.status, msg.remaining
            self.triggered.append(msg)
            self.refresh_wanted = True
        elif isinstance(msg, ShutdownMessage):
            self.shutdown = msg.reason
        elif isinstance(msg, ErrorMessage):
            self.notice = f"{msg.code}: {msg.message}"
        else:
            return
        self._bump()

    # ----------------------------------------------------------------- reads

    @property
    def rules(self) -> SymbolInfo | None:
        """Tick, lot and status of the selected symbol, once known."""
        return self.symbols.get(self.symbol)

    @property
    def synced(self) -> bool:
        """Whether the selected symbol's book is loaded and current."""
        return self.book is not None and self.book.synced

    @property
    def last_trade(self) -> TradeMessage | None:
        """The selected symbol's most recent trade."""
        if self.book is None or not self.book.trades:
            return None
        return self.book.trades[-1]

    def reference_price(self, symbol: str | None = None) -> int | None:
        """The price an order is compared with: the last trade, else the mid (on the tick), else the one side.

        Args:
            symbol: default the selected one (its local book first, then its ticker).
        """
        symbol = symbol or self.symbol
        book = self.book if symbol == self.symbol else None
        last = self.last_trade if book is not None else None
        if last is not None:
            return last.price
        ticker = self.tickers.get(symbol)
        if ticker is not None and ticker.last is not None:
            return ticker.last
        if book is not None:
            bid, ask = book.best_bid(), book.best_ask()
            best = (bid[0] if bid else None, ask[0] if ask else None)
        elif ticker is not None:
            best = (ticker.bid, ticker.ask)
        else:
            return None
        if best[0] is not None and best[1] is not None:
            rules = self.symbols.get(symbol)
            tick = rules.tick if rules is not None else 1
            return (best[0] + best[1]) // 2 // tick * tick
        return best[0] if best[0] is not None else best[1]

    def positions(self) -> dict[str, Position]:
        """Each symbol's traded position, average price and realised P&L, from the fills known."""
        if self._positions is None or self._positions[0] != self.ledger_version:
            self._positions = (self.ledger_version, positions(self.ledger[t] for t in sorted(self.ledger)))
        return self._positions[1]

    def queue_position(self, order_id: int) -> tuple[int, int] | None:
        """``(orders ahead, qty ahead)`` of one of the trader's orders on the selected symbol's book."""
        order = self.orders.get(order_id)
        if self.book is None or order is None or order.symbol != self.symbol:
            return None
        return self.book.queue_position(order_id)

    def open_orders(self, symbol: str | None = None) -> list[OrderInfo]:
        """Open orders, oldest first (of ``symbol`` if given)."""
        return [o for o in self.orders.values() if symbol is None or o.symbol == symbol]

    def ladder(self, asks: int, bids: int) -> tuple[list[LadderLevel], list[LadderLevel]]:
        """The selected symbol's ladder: see :func:`ladder_levels`."""
        return ladder_levels(self.book, self.orders, asks, bids)
