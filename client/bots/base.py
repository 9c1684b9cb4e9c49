"""What every robot shares: its link, its own orders, its wallet, one request per action.

A :class:`Bot` is one exchange user on one :class:`~client.live.LiveConnection`
(reconnect with backoff, re-login by token). On every (re)connection its
``setup`` cancels whatever the user still has open, reads the wallet and
subscribes to ``ticker`` (and ``trades`` when the bot wants them) through a
:class:`~client.book.BookKeeper`, so a bot always starts from a clean, known
state. Its own orders are tracked by ``client_order_id`` from the pushed
``fill`` and ``done`` messages; cash and positions move with every fill. An
order leaves the bot's list only with its ``done`` (which the server sends after
every ``fill`` of it), never on an ``ack`` or ``canceled`` reply, so the list
never forgets a quantity that may still trade.

Subclasses implement :meth:`Bot.act`: look at the market and send **at most one**
order request (``order``, ``cancel`` or ``replace``), returning whether one was
sent. The :class:`~client.bots.pacer.Pacer` calls ``act`` at the aggregate rate
asked for; a bot never has two actions in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, NotRequired, TypedDict, Unpack

from client.book import BookKeeper, SymbolBook
from client.errors import ClientError, ExchError
from client.live import LinkState, LiveConnection
from client.session import OrderType, Session, Side, TimeInForce
from exchange.protocol import DoneMessage, FillMessage, Message

__all__ = ["Bot", "BotLink", "BotStats", "LiveOrder", "OrderKind"]

log = logging.getLogger("exch.bots")

STOP_TIMEOUT = 5.0
"""Seconds a bot waits for its ``cancel_all`` when it stops."""


class BotLink(TypedDict):
    """The keyword arguments of every :class:`Bot`: where it connects, what it trades (a subclass takes ``**link``)."""

    url: str
    symbols: Sequence[str]
    rng: random.Random
    cafile: NotRequired[Path | None]
    home: NotRequired[Path | None]


class OrderKind(TypedDict, total=False):
    """An order's price and kind, as :meth:`client.Session.order` takes them (its defaults when left out)."""

    price: int | None
    type: OrderType
    tif: TimeInForce


@dataclass
class LiveOrder:
    """One of the bot's own orders that may still rest on the book."""

    cid: str
    symbol: str
    side: Side
    price: int | None
    remaining: int
    order_id: int | None = None


@dataclass
class BotStats:
    """What a bot did: requests sent and refused, fills and shares traded."""

    sent: int = 0
    rejected: int = 0
    fills: int = 0
    traded: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def refused(self, code: str) -> None:
        """Count a refusal by its error code."""
        self.rejected += 1
        self.errors[code] = self.errors.get(code, 0) + 1


class Bot:
    """One simulated trader: a user, a connection, its orders and wallet.

    Args:
        name, password: the bot's exchange user.
        url: ``wss://HOST:PORT/ws``.
        symbols: what it trades.
        rng: its own random generator (seeded by the farm: same seed, same decisions).
        cafile, home: TLS trust, as :meth:`client.Session.connect`.
    """

    kind: ClassVar[str] = "bot"
    weight: ClassVar[float] = 1.0
    """Share of the aggregate rate, relative to the other bots."""
    wants_trades: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        password: str,
        *,
        url: str,
        symbols: Sequence[str],
        rng: random.Random,
        cafile: Path | None = None,
        home: Path | None = None,
    ) -> None:
        self.name = name
        self.symbols = list(symbols)
        self.rng = rng
        self.link = LiveConnection(url, username=name, password=password, cafile=cafile, home=home,
                                   setup=self._setup, on_state=self._on_state)
        self.orders: dict[str, LiveOrder] = {}
        self.cash = 0
        self.positions: dict[str, int] = {}
        self.start_cash: int | None = None
        self.start_positions: dict[str, int] = {}
        self.keeper: BookKeeper | None = None
        self.stats = BotStats()
        self.ready = False
        self.state_detail = ""
        self._incarnation = 0
        self._cids = itertools.count(1)
        self._ready_event = asyncio.Event()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} ready={self.ready} open={len(self.orders)}>"

    # ------------------------------------------------------------------ link

    @property
    def session(self) -> Session | None:
        """The current session, if the link is up."""
        session = self.link.session
        return session if session is not None and not session.closed else None

    async def run(self) -> None:
        """Stay connected (reconnecting with backoff) until :meth:`stop`."""
        await self.link.run()

    async def wait_ready(self, timeout: float) -> None:
        """Wait until the first setup finished.

        Raises:
            TimeoutError: not ready within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            await self._ready_event.wait()

    async def stop(self) -> None:
        """Cancel every open order of the bot, then close its link."""
        self.ready = False
        session = self.session
        if session is not None:
            with contextlib.suppress(ClientError, TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT):
                    await session.cancel_all()
        await self.link.close()

    def _on_state(self, state: LinkState, detail: str) -> None:
        self.state_detail = detail
        if state is not LinkState.UP:
            self.ready = False
            if detail:
                log.info("%s: %s %s", self.name, state.value, detail)

    async def _setup(self, session: Session) -> None:
        """Run on every new session: a clean slate, the wallet, market data."""
        self.ready = False
        self._incarnation += 1
        session.on_message(self._on_private, FillMessage, DoneMessage)
        await session.cancel_all()
        balance = await session.balance()
        self.orders.clear()
        self.cash = balance.cash
        self.positions = {symbol: pos.qty for symbol, pos in balance.positions.items()}
        if self.start_cash is None:
            self.start_cash = self.cash
            self.start_positions = dict(self.positions)
        self.keeper = BookKeeper(session)
        await self.keeper.track(self.symbols, level3=False, ticker=True, trades=self.wants_trades)
        self.on_setup()
        self.ready = True
        self._ready_event.set()

    def on_setup(self) -> None:
        """Hook: the bot is connected with a fresh state (market data loaded)."""

    async def refresh_wallet(self) -> None:
        """Read the wallet again and make it the starting point (after a deposit, before trading)."""
        session = self.session
        if session is None:
            return
        balance = await session.balance()
        self.cash = self.start_cash = balance.cash
        self.positions = {symbol: pos.qty for symbol, pos in balance.positions.items()}
        self.start_positions = dict(self.positions)

    # ------------------------------------------------------------------ pushed messages

    def _on_private(self, msg: Message) -> None:
        if isinstance(msg, FillMessage):
            sign = 1 if msg.side == "buy" else -1
            self.positions[msg.symbol] = self.positions.get(msg.symbol, 0) + sign * msg.qty
            self.cash -= sign * msg.price * msg.qty
            self.stats.fills += 1
            self.stats.traded += msg.qty
            order = self.orders.get(msg.client_order_id or "")
            if order is not None:
                order.remaining = msg.remaining
        elif isinstance(msg, DoneMessage):
            self.orders.pop(msg.client_order_id or "", None)

    # ------------------------------------------------------------------ market view

    def book(self, symbol: str) -> SymbolBook | None:
        """The local view of ``symbol`` (ticker, recent trades), if tracked."""
        if self.keeper is None or symbol not in self.keeper:
            return None
        return self.keeper[symbol]

    def tick(self, symbol: str) -> int:
        """The symbol's price step (1 until known)."""
        book = self.book(symbol)
        return book.tick if book is not None and book.tick else 1

    def lot(self, symbol: str) -> int:
        """The symbol's quantity step (1 until known)."""
        book = self.book(symbol)
        return book.lot if book is not None and book.lot else 1

    def mid(self, symbol: str) -> int | None:
        """The middle of the best bid and ask, else the last price, else either side, else None."""
        book = self.book(symbol)
        ticker = book.ticker if book is not None else None
        if ticker is None:
            return None
        if ticker.bid is not None and ticker.ask is not None:
            return (ticker.bid + ticker.ask) // 2
        for price in (ticker.last, ticker.bid, ticker.ask):
            if price is not None:
                return price
        return None

    def on_book(self, symbol: str, price: int) -> int:
        """``price`` rounded to the symbol's tick, at least one tick."""
        step = self.tick(symbol)
        return max(step, round(price / step) * step)

    def inventory(self, symbol: str) -> int:
        """Shares of ``symbol`` bought (+) or sold (-) since the bot first started."""
        return self.positions.get(symbol, 0) - self.start_positions.get(symbol, 0)

    def free_shares(self, symbol: str) -> int:
        """Shares of ``symbol`` not held by the bot's own open sells."""
        held = sum(o.remaining for o in self.orders.values() if o.symbol == symbol and o.side == "sell")
        return self.positions.get(symbol, 0) - held

    def free_cash(self) -> int:
        """Cash not held by the bot's own open limit buys."""
        held = sum(o.remaining * (o.price or 0) for o in self.orders.values() if o.side == "buy")
        return self.cash - held

    # ------------------------------------------------------------------ requests

    def _next_cid(self) -> str:
        return f"{self.kind[:2]}{os.getpid():x}.{self._incarnation}.{next(self._cids)}"

    async def place(self, symbol: str, side: Side, qty: int, **kind: Unpack[OrderKind]) -> LiveOrder | None:
        """Send one order (``price``, ``type``, ``tif`` as :meth:`client.Session.order`).

        Returns:
            The order while it may rest (None: refused, done, or the link is down).
        """
        session = self.session
        if session is None:
            return None
        cid = self._next_cid()
        order = LiveOrder(cid=cid, symbol=symbol, side=side, price=kind.get("price"), remaining=qty)
        self.orders[cid] = order
        self.stats.sent += 1
        try:
            ack = await session.order(symbol, side, qty, client_order_id=cid, **kind)
        except ExchError as exc:
            self.orders.pop(cid, None)
            self.stats.refused(exc.code)
            return None
        except ClientError:
            self.orders.pop(cid, None)  # the next setup cancels whatever is left
            return None
        if cid not in self.orders:  # its done came before the ack was handled
            return None
        order.order_id = ack.order_id
        return order  # removed by its ``done``, which follows every fill of it

    async def cancel(self, order: LiveOrder) -> None:
        """Send one cancel of ``order`` (already done: nothing changes)."""
        session = self.session
        if session is None:
            return
        self.stats.sent += 1
        try:
            await session.cancel(client_order_id=order.cid)
        except ExchError as exc:
            if exc.code != "unknown_order":  # already done: its ``done`` removes it
                self.stats.refused(exc.code)
        except ClientError:
            pass

    async def move(self, order: LiveOrder, price: int) -> None:
        """Send one replace of ``order`` to ``price``, keeping its open quantity."""
        session = self.session
        if session is None:
            return
        self.stats.sent += 1
        try:
            await session.replace(client_order_id=order.cid, price=price)
        except ExchError as exc:
            if exc.code != "unknown_order":  # already done: its ``done`` removes it
                self.stats.refused(exc.code)
            return
        except ClientError:
            return
        order.price = price

    # ------------------------------------------------------------------ behaviour

    async def act(self) -> bool:
        """Look at the market and send at most one order request; True if one was sent."""
        raise NotImplementedError

    def side_for(self, buy_probability: float) -> Side:
        """A random side, ``buy`` with the probability given (clamped to 5 to 95 %)."""
        p = min(0.95, max(0.05, buy_probability))
        return "buy" if self.rng.random() < p else "sell"
