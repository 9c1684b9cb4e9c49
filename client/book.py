"""Local order books kept from public market data on one :class:`~client.session.Session`.

A :class:`BookKeeper` subscribes to ``level3`` (every order), ``level2``
(aggregated levels), ``ticker`` and ``trades`` for some symbols and keeps, per
symbol, a :class:`SymbolBook`: an :class:`~exchange.protocol.book.L3Book` and/or
:class:`~exchange.protocol.book.L2Book` loaded from the ``snapshot`` and moved
forward by every ``l3`` / ``l2`` message, the last ticker, the recent trades and
the trading status::

    async with Session.connect(url, queue_size=0) as s:
        keeper = BookKeeper(s, on_change=lambda symbol: app.refresh())
        await keeper.track(["ACME", "BOLT"], level3=True, level2=True)
        book = keeper["ACME"]
        print(book.best_bid(), book.best_ask(), book.levels("buy", depth=5))
        print(book.orders_at("buy", 10120))       # [(order_id, qty), ...] in queue order

Messages are taken from :meth:`Session.on_message` callbacks, in arrival order
on the session's reader task (no second queue). Sequence rules (PROTOCOL.md):
``l3`` seqs are consecutive per symbol and ``l2`` messages cover
``first_seq``..``seq`` with absolute quantities. When a message shows that
something was missed (:class:`~exchange.protocol.book.GapError`), that
(channel, symbol) is marked stale, every further message of it is dropped, and
the keeper resubscribes on its own (``unsubscribe`` + ``subscribe``); the new
``snapshot`` makes it synced again and :attr:`BookKeeper.resyncs` counts the
episode. A stale book keeps its last contents (so a screen can grey it out
instead of blanking) but :attr:`SymbolBook.synced` is False. When the session
closes, every book is marked stale and stays so (open a new session and a new
keeper to continue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Literal, Protocol, TypeVar, cast

from client.errors import SessionClosed
from client.session import Channel, MessageCallback
from exchange.protocol import (
    L2Message,
    L3Message,
    Message,
    SnapshotMessage,
    StatusMessage,
    SubscribedReply,
    SymbolsReply,
    TickerMessage,
    TradeMessage,
    UnsubscribedReply,
)
from exchange.protocol.book import GapError, L2Book, L3Book
from exchange.types import Side

__all__ = ["BookChannel", "BookKeeper", "MarketDataSession", "SymbolBook"]

log = logging.getLogger(__name__)

BookChannel = Literal["level3", "level2", "ticker", "trades"]
Level = tuple[int, int]
"""``(price, qty)``; for :meth:`SymbolBook.orders_at`, ``(order_id, qty)``."""

_MARKET_DATA: Final = (SnapshotMessage, L3Message, L2Message, TickerMessage, TradeMessage, StatusMessage)


class MarketDataSession(Protocol):
    """What a :class:`BookKeeper` needs of its session (a :class:`~client.session.Session` has it)."""

    def on_message(self, callback: MessageCallback, *types: type[Any]) -> Callable[[], None]:
        """Register a synchronous callback for pushed messages."""

    def on_close(self, callback: Callable[[SessionClosed], object]) -> Callable[[], None]:
        """Register a callback for the close."""

    async def subscribe(
        self,
        channels: Channel | Iterable[Channel],
        symbols: str | Iterable[str] = (),
        interval_ms: int | None = None,
    ) -> SubscribedReply:
        """Subscribe (snapshots follow the reply)."""

    async def unsubscribe(
        self, channels: Channel | Iterable[Channel], symbols: str | Iterable[str] = ()
    ) -> UnsubscribedReply:
        """Unsubscribe."""

    async def symbols(self) -> SymbolsReply:
        """The listed symbols and their status."""


M = TypeVar("M", L3Message, L2Message)
M_in = TypeVar("M_in", L3Message, L2Message, contravariant=True)


class _Moves(Protocol[M_in]):
    """A local book moved by one kind of update (``L3Book`` by ``l3``, ``L2Book`` by ``l2``)."""

    @property
    def seq(self) -> int: ...

    def apply(self, msg: M_in, /) -> object: ...


class SymbolBook:
    """Everything known locally about one symbol.

    Attributes:
        symbol: the symbol.
        channels: the channels tracked for it.
        stale: tracked channels whose state is not current (waiting for a snapshot).
        interval_ms: the conflation interval asked for ``level2``/``ticker`` (None: real time).
        l3: the order-by-order book (``level3`` tracked), else None.
        l2: the aggregated book (``level2`` tracked), else None.
        ticker: the last ticker (``ticker`` tracked and one arrived), else None.
        trades: the recent trades, oldest first (``trades`` tracked).
        status: ``trading``, ``halted`` (from ``symbols`` and ``status`` messages), or None.
        tick, lot: the symbol's price and quantity steps, once known.
    """

    def __init__(self, symbol: str, recent_trades: int) -> None:
        self.symbol = symbol
        self.channels: set[BookChannel] = set()
        self.stale: set[BookChannel] = set()
        self.interval_ms: int | None = None
        self.l3: L3Book | None = None
        self.l2: L2Book | None = None
        self.ticker: TickerMessage | None = None
        self.trades: deque[TradeMessage] = deque(maxlen=recent_trades)
        self.status: str | None = None
        self.tick: int | None = None
        self.lot: int | None = None

    def __repr__(self) -> str:
        state = "synced" if self.synced else f"stale {sorted(self.stale)}"
        return f"<SymbolBook {self.symbol} seq={self.seq} {state}>"

    # ----------------------------------------------------------------- state

    @property
    def synced(self) -> bool:
        """Whether every tracked channel is loaded from a snapshot and current."""
        return bool(self.channels) and not self.stale

    @property
    def halted(self) -> bool:
        """Whether trading in the symbol is halted (orders refused; the book stays)."""
        return self.status == "halted"

    @property
    def seq(self) -> int:
        """The book change the local state reflects (-1 before any snapshot).

        The ``level3`` book's seq if tracked, else ``level2``'s, else the ticker's.
        """
        if self.l3 is not None:
            return self.l3.seq
        if self.l2 is not None:
            return self.l2.seq
        return self.ticker.seq if self.ticker is not None else -1

    def reached(self, seq: int) -> bool:
        """Whether every tracked book channel is synced and at ``seq`` or later."""
        if not self.synced:
            return False
        books: list[L3Book | L2Book | TickerMessage | None] = [self.l3, self.l2, self.ticker]
        return all(b.seq >= seq for b in books if b is not None) and (
            "ticker" not in self.channels or self.ticker is not None
        )

    # ----------------------------------------------------------------- views

    def _book(self) -> L3Book | L2Book | None:
        """The book views are answered from: a synced L3, a synced L2, else whichever exists."""
        if self.l3 is not None and "level3" not in self.stale:
            return self.l3
        if self.l2 is not None and "level2" not in self.stale:
            return self.l2
        return self.l3 if self.l3 is not None else self.l2

    def best(self, side: Side) -> Level | None:
        """``(price, total qty)`` of the best level of ``side``, or None (empty or nothing tracked)."""
        book = self._book()
        if book is not None:
            return book.best(side)
        if self.ticker is None:
            return None
        price, qty = (self.ticker.bid, self.ticker.bid_qty) if side == "buy" else (self.ticker.ask, self.ticker.ask_qty)
        return None if price is None or qty is None else (price, qty)

    def best_bid(self) -> Level | None:
        """``(price, qty)`` of the best bid, or None."""
        return self.best("buy")

    def best_ask(self) -> Level | None:
        """``(price, qty)`` of the best ask, or None."""
        return self.best("sell")

    def levels(self, side: Side, depth: int | None = None) -> list[Level]:
        """``(price, total qty)`` per level of ``side``, best first, at most ``depth`` of them."""
        book = self._book()
        return [] if book is None else book.levels(side, depth)

    def orders_at(self, side: Side, price: int) -> list[Level]:
        """``(order_id, qty)`` resting at ``price`` in priority order (needs ``level3``)."""
        return [] if self.l3 is None else self.l3.orders_at(side, price)

    def orders(self, side: Side) -> list[list[int]]:
        """Every order of ``side`` as ``[order_id, price, qty]`` in priority order (needs ``level3``)."""
        return [] if self.l3 is None else self.l3.rows(side)

    def queue_position(self, order_id: int) -> tuple[int, int] | None:
        """``(orders ahead, quantity ahead)`` of a resting order at its price, or None if not resting.

        Needs ``level3``. The quantity ahead is what must trade (or be canceled)
        at that price before the order is next in line.
        """
        if self.l3 is None or order_id not in self.l3.orders:
            return None
        side, price = self.l3.orders[order_id]
        qty_ahead = 0
        for ahead, (oid, qty) in enumerate(self.l3.orders_at(side, price)):
            if oid == order_id:
                return ahead, qty_ahead
            qty_ahead += qty
        return None


class BookKeeper:
    """Local books for the symbols tracked on one session.

    Args:
        session: a connected :class:`~client.session.Session` (a login is not needed).
            Pass ``queue_size=0`` when connecting if nothing reads ``async for``.
        on_change: called as ``on_change(symbol)`` after every change of a symbol's
            local state (applied message, snapshot, gap, status, close), on the
            session's reader task; it must be quick (e.g. mark a screen dirty and
            repaint at a steady rate). Exceptions are logged.
        recent_trades: trades kept per symbol.

    Attributes:
        books: the :class:`SymbolBook` of every tracked symbol.
        resyncs: gaps detected (each followed by a resubscribe of that channel and symbol).
        last_gap: the most recent gap, if any.
        closed: the session's close, once it closed (every book is then stale).
    """

    def __init__(
        self,
        session: MarketDataSession,
        *,
        on_change: Callable[[str], object] | None = None,
        recent_trades: int = 50,
    ) -> None:
        self.session = session
        self.on_change = on_change
        self.recent_trades = recent_trades
        self.books: dict[str, SymbolBook] = {}
        self.resyncs = 0
        self.last_gap: GapError | None = None
        self.closed: SessionClosed | None = None
        self._resyncing: dict[tuple[BookChannel, str], asyncio.Task[None]] = {}
        self._again: set[tuple[BookChannel, str]] = set()  # a gap came while its resubscribe was in flight
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._detach = [
            session.on_message(self.handle, *_MARKET_DATA),
            session.on_close(self._on_close),
        ]

    def __getitem__(self, symbol: str) -> SymbolBook:
        return self.books[symbol]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.books

    def __iter__(self) -> Iterator[str]:
        return iter(self.books)

    @property
    def synced(self) -> bool:
        """Whether every tracked symbol is synced."""
        return bool(self.books) and all(book.synced for book in self.books.values())

    # ------------------------------------------------------------- tracking

    async def track(
        self,
        symbols: str | Iterable[str],
        *,
        level3: bool = True,
        level2: bool = False,
        ticker: bool = False,
        trades: bool = False,
        interval_ms: int | None = None,
        wait: bool = True,
    ) -> None:
        """Subscribe to the chosen channels of ``symbols`` and keep their books.

        Tracking a symbol again adds channels (and takes fresh snapshots of those named).

        Args:
            symbols: one symbol or several.
            level3: keep every order (:attr:`SymbolBook.l3`).
            level2: keep aggregated levels (:attr:`SymbolBook.l2`).
            ticker: keep the last ticker.
            trades: keep the recent trades.
            interval_ms: conflate ``level2``/``ticker`` to one message per interval (≥ 50).
            wait: return only once every snapshot arrived (the books are synced).

        Raises:
            ValueError: no channel chosen.
            ExchError: ``unknown_symbol`` (nothing is tracked then).
            SessionClosed: the session is closed.
        """
        names = [symbols] if isinstance(symbols, str) else list(dict.fromkeys(symbols))
        wanted: tuple[tuple[BookChannel, bool], ...] = (
            ("level3", level3),
            ("level2", level2),
            ("ticker", ticker),
            ("trades", trades),
        )
        chosen = [channel for channel, on in wanted if on]
        if not chosen:
            raise ValueError("track needs at least one channel")
        if self.closed is not None:
            raise SessionClosed(self.closed.code, self.closed.reason, self.closed.shutdown)
        added = [name for name in names if name not in self.books]
        for name in names:
            book = self.books.setdefault(name, SymbolBook(name, self.recent_trades))
            if level2 or ticker:  # the server now conflates them as asked here
                book.interval_ms = interval_ms
            for channel in chosen:
                self._open_channel(book, channel)
        try:
            await self.session.subscribe(chosen, names, interval_ms)
        except BaseException:
            for name in added:
                self.books.pop(name, None)
            raise
        with contextlib.suppress(Exception):  # the status is a nicety; the books do not need it
            listed = {info.symbol: info for info in (await self.session.symbols()).symbols}
            for name in names:
                info = listed.get(name)
                if info is not None and name in self.books:
                    book = self.books[name]
                    if book.status is None:  # a status message may have come first
                        book.status = info.status
                    book.tick, book.lot = info.tick, info.lot
        if wait:
            await self.wait_synced(names)

    async def untrack(self, symbols: str | Iterable[str]) -> None:
        """Unsubscribe every channel of ``symbols`` and forget their books."""
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        channels: set[BookChannel] = set()
        for name in names:
            book = self.books.pop(name, None)
            if book is not None:
                channels |= book.channels
            for key in [k for k in self._resyncing if k[1] == name]:
                self._resyncing.pop(key).cancel()
            self._again = {k for k in self._again if k[1] != name}
        if channels and self.closed is None:
            await self.session.unsubscribe(sorted(channels), names)

    def detach(self) -> None:
        """Stop listening to the session (it is not closed) and cancel resubscribes in flight."""
        for remove in self._detach:
            remove()
        self._detach = []
        for task in self._resyncing.values():
            task.cancel()
        self._resyncing.clear()
        self._again.clear()

    def _open_channel(self, book: SymbolBook, channel: BookChannel) -> None:
        book.channels.add(channel)
        book.stale.add(channel)  # until its snapshot
        if channel == "level3" and book.l3 is None:
            book.l3 = L3Book(book.symbol)
        elif channel == "level2" and book.l2 is None:
            book.l2 = L2Book(book.symbol)

    # ------------------------------------------------------------- waiting

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        """Wait until ``predicate()`` holds (checked after every change).

        Raises:
            SessionClosed: the session closed first.
            TimeoutError: ``timeout`` seconds passed first.
        """
        if predicate():
            return
        if self.closed is not None:
            raise SessionClosed(self.closed.code, self.closed.reason, self.closed.shutdown)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, fut)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await fut
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    async def wait_synced(self, symbols: str | Iterable[str] | None = None, timeout: float | None = None) -> None:
        """Wait until the books of ``symbols`` (default: all tracked) are synced."""
        names = list(self.books) if symbols is None else [symbols] if isinstance(symbols, str) else list(symbols)
        await self.wait_until(lambda: all(n in self.books and self.books[n].synced for n in names), timeout)

    async def wait_seq(self, symbol: str, seq: int, timeout: float | None = None) -> None:
        """Wait until every tracked book of ``symbol`` is synced at ``seq`` or later."""
        await self.wait_until(lambda: symbol in self.books and self.books[symbol].reached(seq), timeout)

    # ------------------------------------------------------------- messages

    def handle(self, msg: Message) -> None:
        """Take one pushed message (the session callback; may also be called by hand)."""
        symbol: str | None = getattr(msg, "symbol", None)
        book = self.books.get(symbol) if symbol is not None else None
        if book is None or self.closed is not None:
            return
        if isinstance(msg, L3Message):
            changed = self._on_l3(book, msg)
        elif isinstance(msg, L2Message):
            changed = self._on_l2(book, msg)
        elif isinstance(msg, SnapshotMessage):
            changed = self._on_snapshot(book, msg)
        elif isinstance(msg, TickerMessage):
            changed = "ticker" in book.channels and (book.ticker is None or msg.seq >= book.ticker.seq)
            if changed:
                book.ticker = msg
        elif isinstance(msg, TradeMessage):
            last = book.trades[-1].trade_id if book.trades else -1
            changed = "trades" in book.channels and "trades" not in book.stale and msg.trade_id > last
            if changed:
                book.trades.append(msg)
        elif isinstance(msg, StatusMessage):
            book.status, book.tick, book.lot = msg.status, msg.tick, msg.lot
            changed = True
        else:
            return
        if changed:
            self._changed(book.symbol)

    def _on_l3(self, book: SymbolBook, msg: L3Message) -> bool:
        return self._apply(book, "level3", book.l3, msg)

    def _on_l2(self, book: SymbolBook, msg: L2Message) -> bool:
        return self._apply(book, "level2", book.l2, msg)

    def _apply(self, book: SymbolBook, channel: BookChannel, target: _Moves[M] | None, msg: M) -> bool:
        """Move one book by one update; a gap marks the channel stale and resubscribes."""
        if target is None or channel in book.stale:
            return False
        before = target.seq
        try:
            target.apply(msg)
        except GapError as gap:
            self._gap(book, channel, gap)
            return True
        return target.seq != before

    def _on_snapshot(self, book: SymbolBook, msg: SnapshotMessage) -> bool:
        channel = cast(BookChannel, msg.channel)
        if channel == "level3" and book.l3 is not None:
            book.l3.load(msg.seq, msg.bids or (), msg.asks or ())
        elif channel == "level2" and book.l2 is not None:
            book.l2.load(msg.seq, msg.bids or (), msg.asks or ())
        elif channel == "ticker" and "ticker" in book.channels and msg.ticker is not None:
            book.ticker = TickerMessage(symbol=book.symbol, **msg.ticker)
        elif channel == "trades" and "trades" in book.channels:
            book.trades.clear()
            book.trades.extend(TradeMessage(**{k: v for k, v in t.items() if k != "type"}) for t in msg.trades or ())
        else:
            return False
        book.stale.discard(channel)
        return True

    def _gap(self, book: SymbolBook, channel: BookChannel, gap: GapError) -> None:
        """A message was missed: mark the channel stale and resubscribe it."""
        log.info("exch book %s %s: %s; resubscribing", channel, book.symbol, gap)
        book.stale.add(channel)
        self.resyncs += 1
        self.last_gap = gap
        key = (channel, book.symbol)
        running = self._resyncing.get(key)
        if running is not None and not running.done():
            # its snapshot already came (the channel was current), but the task has not
            # finished: resubscribe once more when it does, or the channel stays stale
            self._again.add(key)
        elif self.closed is None:
            self._start_resync(key)

    def _start_resync(self, key: tuple[BookChannel, str]) -> None:
        task = asyncio.get_running_loop().create_task(self._resubscribe(*key))
        self._resyncing[key] = task
        task.add_done_callback(self._resynced)

    def _resynced(self, task: asyncio.Task[None]) -> None:
        for key, running in list(self._resyncing.items()):
            if running is task:
                del self._resyncing[key]
                if key in self._again:
                    self._again.discard(key)
                    book = self.books.get(key[1])
                    if self.closed is None and not task.cancelled() and book is not None and key[0] in book.stale:
                        self._start_resync(key)

    async def _resubscribe(self, channel: BookChannel, symbol: str) -> None:
        book = self.books.get(symbol)
        interval = book.interval_ms if book is not None and channel in ("level2", "ticker") else None
        try:
            await self.session.unsubscribe(channel, symbol)
            if symbol in self.books:
                await self.session.subscribe(channel, symbol, interval)
        except SessionClosed:
            pass
        except Exception:
            log.exception("exch book: resubscribing %s %s failed; it stays stale", channel, symbol)

    def _on_close(self, closed: SessionClosed) -> None:
        self.closed = closed
        for task in self._resyncing.values():
            task.cancel()
        self._resyncing.clear()
        self._again.clear()
        for book in self.books.values():
            book.stale |= book.channels
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(SessionClosed(closed.code, closed.reason, closed.shutdown))
        self._waiters = []
        for symbol in self.books:
            self._notify(symbol)

    def _changed(self, symbol: str) -> None:
        self._notify(symbol)
        if self._waiters:
            for predicate, fut in list(self._waiters):
                if not fut.done() and predicate():
                    fut.set_result(None)

    def _notify(self, symbol: str) -> None:
        if self.on_change is not None:
            try:
                self.on_change(symbol)
            except Exception:
                log.exception("exch book on_change(%r) failed", symbol)
