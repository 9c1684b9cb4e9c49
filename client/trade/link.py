"""The trading client's connection: a :class:`client.live.LiveConnection` and what it sets up.

On every new session (the first login and each reconnect) :class:`TradeLink`
listens to the private messages, loads the symbols, builds a fresh
:class:`client.BookKeeper` for the selected symbol (``level3`` and
``trades``: a snapshot, then every change, resynced on a gap) and reloads the
open orders and the wallet. Trading requests go through the current
:class:`client.Session`; results are written into the :class:`TradeModel`.
There is no protocol, TLS or book code here: that is the ``client`` package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from client.book import BookKeeper
from client.errors import ConnectError, ExchError
from client.live import LinkState, LiveConnection
from client.session import Session
from client.trade.model import TradeModel
from client.trade.validate import OrderTicket
from exchange.protocol import (
    AckMessage,
    DoneMessage,
    ErrorMessage,
    FillMessage,
    ShutdownMessage,
    SnapshotMessage,
    StatusMessage,
    TickerMessage,
    TriggeredMessage,
)

__all__ = ["HISTORY_PAGE", "TICKER_INTERVAL_MS", "TradeLink"]

HISTORY_PAGE = 500
"""Fills asked for per ``history`` page (the newest page at every (re)connect, older ones on request)."""

TICKER_INTERVAL_MS = 1000
"""How often the ticker of every symbol is pushed (conflated): prices for P&L, and every halt and resume."""


class TradeLink:
    """One trader's live link: login, books, orders.

    Args:
        model: where everything received is written.
        url: ``wss://HOST:PORT/ws``.
        username, password: the trader's credentials.
        cafile, home: TLS trust (see :meth:`client.Session.connect`).
        on_state: told every link state change (after the model is).
    """

    def __init__(
        self,
        model: TradeModel,
        *,
        url: str,
        username: str,
        password: str,
        cafile: Path | None = None,
        home: Path | None = None,
        on_state: Callable[[LinkState, str], None] | None = None,
    ) -> None:
        self.model = model
        self.keeper: BookKeeper | None = None
        self._on_state = on_state
        self.live = LiveConnection(
            url, username=username, password=password, cafile=cafile, home=home,
            setup=self._setup, on_state=self._state,
        )

    @property
    def url(self) -> str:
        """The server's URL."""
        return self.live.url

    def _state(self, state: LinkState, detail: str) -> None:
        self.model.set_link(state.value, detail)
        if self._on_state is not None:
            self._on_state(state, detail)

    @property
    def session(self) -> Session:
        """The current session.

        Raises:
            ConnectError: not connected now (the link is retrying).
        """
        session = self.live.session
        if session is None or session.closed:
            raise ConnectError("not connected to the exchange (reconnecting)")
        return session

    # ------------------------------------------------------------ setup

    async def _setup(self, session: Session) -> None:
        """Run on every new session after login."""
        model = self.model
        if session.role != "trader":
            raise ExchError("forbidden", f"{session.user} is an {session.role}: log in with a trader account")
        session.on_message(model.private, FillMessage, DoneMessage, TriggeredMessage, ShutdownMessage, ErrorMessage)
        session.on_message(model.market, StatusMessage, TickerMessage, SnapshotMessage)
        model.user = session.user
        model.load_symbols(await session.symbols())
        if not model.symbols:
            raise ExchError("unknown_symbol", "the exchange lists no symbols yet")
        # every symbol's ticker, conflated: its last price, and the status pushes (halt, resume) that
        # reach only a symbol's subscribers
        await session.subscribe("ticker", list(model.symbols), interval_ms=TICKER_INTERVAL_MS)
        if model.symbol not in model.symbols:
            if model.symbol:
                listed = ", ".join(model.symbols)
                raise ExchError("unknown_symbol", f"{model.symbol} is not listed (listed: {listed})")
            model.symbol = next(iter(model.symbols))
        if self.keeper is not None:
            self.keeper.detach()
        keeper = self.keeper = BookKeeper(session, on_change=self._book_changed)
        model.select(model.symbol)
        await keeper.track(model.symbol, level3=True, trades=True)
        model.select(model.symbol, keeper[model.symbol])
        model.connects += 1
        await self.refresh(session)
        model.load_history(await session.history(limit=HISTORY_PAGE))

    def _book_changed(self, symbol: str) -> None:
        """The keeper's ``on_change``: per message, so only marks the model dirty."""
        model = self.model
        model.book_changed(symbol)
        keeper = self.keeper
        if keeper is not None and keeper.resyncs != model.resyncs:
            model.set_gap(keeper.resyncs, None if keeper.last_gap is None else str(keeper.last_gap))

    async def refresh(self, session: Session | None = None) -> None:
        """Reload the open orders and the wallet."""
        s = session or self.session
        self.model.refresh_wanted = False
        orders, balance = await asyncio.gather(s.orders(), s.balance())
        self.model.load_orders(orders)
        self.model.load_balance(balance)

    async def switch(self, symbol: str) -> None:
        """Show ``symbol``: stop tracking the old one, track the new one (waits for its snapshot).

        Raises:
            ExchError: ``unknown_symbol``.
        """
        model, keeper = self.model, self.keeper
        if keeper is None:
            raise ConnectError("not connected to the exchange (reconnecting)")
        old = model.symbol
        if symbol == old:
            return
        model.select(symbol)
        try:
            await keeper.track(symbol, level3=True, trades=True)
        except BaseException:
            model.select(old, keeper.books.get(old))
            raise
        if old in keeper and old != symbol:
            await keeper.untrack(old)
        if model.symbol == symbol:
            model.select(symbol, keeper[symbol])

    # ------------------------------------------------------------ trading

    async def order(self, ticket: OrderTicket) -> AckMessage:
        """Send an order; list it while it rests.

        Raises:
            ExchError: the server's refusal (its ``code`` and ``message``).
        """
        ack = await self.session.order(
            ticket.symbol, ticket.side, ticket.qty, price=ticket.price, type=ticket.type, tif=ticket.tif,
            post_only=ticket.post_only, stop_price=ticket.stop_price, expire_ts=ticket.expire_ts,
            display_qty=ticket.display_qty,
        )
        self.model.acked(ack, ticket)
        return ack

    async def cancel(self, order_id: int) -> int:
        """Cancel one order; returns the quantity that was still open."""
        reply = await self.session.cancel(order_id)
        self.model.removed(order_id)
        return reply.remaining

    async def more_history(self) -> bool:
        """Load the next older page of fills and finished orders; False when there is none."""
        before = self.model.history_next
        if before is None:
            return False
        self.model.load_history(await self.session.history(before=before, limit=HISTORY_PAGE), older=True)
        return True

    async def cancel_all(self, symbol: str | None = None) -> int:
        """Cancel every open order (of ``symbol``); returns how many."""
        reply = await self.session.cancel_all(symbol)
        await self.refresh()
        return reply.count

    async def replace(
        self, order_id: int, *, price: int | None, qty: int | None, stop_price: int | None = None
    ) -> AckMessage:
        """Change an order's price, open quantity and/or (a stop waiting for its trigger) stop price."""
        ack = await self.session.replace(order_id, price=price, qty=qty, stop_price=stop_price)
        self.model.replaced(ack, price, stop_price)
        return ack

    async def close(self) -> None:
        """Stop reconnecting and close the session."""
        if self.keeper is not None:
            self.keeper.detach()
        await self.live.close()
