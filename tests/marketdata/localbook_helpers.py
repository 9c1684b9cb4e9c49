"""Helpers of the local-book tests: a real server, traders, subscribers, and the engine's books.

A scenario starts ``run_server`` in-process (its own thread and event loop, real
TLS on an ephemeral port, a fresh home), funds traders through the admin,
attaches :class:`client.BookKeeper` subscribers on their own sessions, plays a
list of trading actions, waits until every keeper has reached each symbol's last
``seq``, records the keepers' books, stops the server and rebuilds the engine
from the same home (``Ledger.open``) so the books can be compared with the
engine's own ``level3`` / ``level2`` / ``ticker`` queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client import BookKeeper, ExchError, Session
from exchange.engine.queries import level2, level3, ticker
from exchange.ledger import Ledger
from exchange.protocol import AckMessage, L2Message, L3Message, Message, OrderRequest
from exchange.server import ServerConfig
from exchange.serving.limits import GatewayLimits
from exchange.store import open_store
from tests.gateway.conftest import ServerThread

SYMBOLS = ("ACME", "BOLT")
TRADERS = 3
WAIT = 60.0
"""Seconds any wait may take before the test fails (a hang guard, not a timing assertion)."""
_homes = itertools.count(1)

# An action: ("limit", trader, symbol, side, price, qty, tif) | ("market", trader, symbol, side, qty)
# | ("cancel", trader, pick) | ("replace", trader, pick, price | None, qty | None)
# | ("batch", trader, [(symbol, side, price, qty), ...])
# | ("stop", trader, symbol, side, stop_price, qty, price | None)
# | ("iceberg", trader, symbol, side, price, qty, display_qty)
# | ("gtd", trader, symbol, side, price, qty, expire_in_ms, display_qty | None)
Action = tuple[Any, ...]


class LossyKeeper(BookKeeper):
    """A keeper that throws away every ``every``-th ``l3``/``l2`` message while :attr:`dropping`."""

    def __init__(self, session: Session, every: int, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self.every = every
        self.dropping = True
        self.seen = 0
        self.dropped = 0

    def handle(self, msg: Message) -> None:
        if self.dropping and isinstance(msg, L3Message | L2Message):
            self.seen += 1
            if self.seen % self.every == 0:
                self.dropped += 1
                return
        super().handle(msg)


@dataclass
class BookState:
    """One symbol's books as plain data (the keeper's, or the engine's)."""

    seq: int
    l3_bids: list[list[int]] | None = None
    l3_asks: list[list[int]] | None = None
    l2_bids: list[list[int]] | None = None
    l2_asks: list[list[int]] | None = None
    l3_levels: tuple[list[list[int]], list[list[int]]] | None = None
    ticker: dict[str, Any] | None = None


def keeper_state(keeper: BookKeeper, symbol: str) -> BookState:
    """What ``keeper`` holds for ``symbol`` now."""
    book = keeper[symbol]
    state = BookState(seq=book.seq)
    if book.l3 is not None:
        state.l3_bids, state.l3_asks = book.l3.rows("buy"), book.l3.rows("sell")
        state.l3_levels = ([list(x) for x in book.l3.levels("buy")], [list(x) for x in book.l3.levels("sell")])
    if book.l2 is not None:
        state.l2_bids = [list(x) for x in book.l2.levels("buy")]
        state.l2_asks = [list(x) for x in book.l2.levels("sell")]
        assert book.l2.seq == book.seq or book.l3 is not None
    if book.ticker is not None:
        state.ticker = {k: getattr(book.ticker, k) for k in _TICKER_FIELDS}
    return state


_TICKER_FIELDS = ("seq", "bid", "bid_qty", "ask", "ask_qty", "last", "last_qty", "volume", "open_interest")


def engine_states(home: Path) -> dict[str, BookState]:
    """Each symbol's books as the engine recovered from ``home`` holds them (the server must be stopped)."""
    store = open_store(None, home=home)
    try:
        ledger = Ledger.open(store)
        try:
            out: dict[str, BookState] = {}
            for symbol in SYMBOLS:
                book = ledger.engine.books[symbol]
                l3, l2 = level3(book), level2(book)
                out[symbol] = BookState(
                    seq=book.seq, l3_bids=l3["bids"], l3_asks=l3["asks"], l2_bids=l2["bids"], l2_asks=l2["asks"],
                    l3_levels=(l2["bids"], l2["asks"]), ticker=ticker(book),
                )
            return out
        finally:
            ledger.close(checkpoint=False)
    finally:
        store.close()


def assert_equal_to_engine(name: str, mine: BookState, engine: BookState) -> None:
    """Order ids, prices, quantities and priority order equal; levels equal; seq equal."""
    assert mine.seq == engine.seq, f"{name}: seq {mine.seq} != engine {engine.seq}"
    if mine.l3_bids is not None:
        assert mine.l3_bids == engine.l3_bids, f"{name}: L3 bids differ"
        assert mine.l3_asks == engine.l3_asks, f"{name}: L3 asks differ"
        assert mine.l3_levels == engine.l3_levels, f"{name}: levels of the L3 book differ"
    if mine.l2_bids is not None:
        assert mine.l2_bids == engine.l2_bids, f"{name}: L2 bids differ"
        assert mine.l2_asks == engine.l2_asks, f"{name}: L2 asks differ"
    if mine.ticker is not None:
        assert mine.ticker == engine.ticker, f"{name}: ticker differs"


@dataclass
class Market:
    """A running in-process server with funded traders."""

    home: Path
    server: ServerThread
    url: str
    admin: Session
    traders: list[Session]
    sessions: list[Session] = field(default_factory=list)
    orders: dict[int, list[int]] = field(default_factory=dict)  # trader -> order ids seen resting

    @classmethod
    async def start(cls, root: Path, traders: int = TRADERS) -> Market:
        home = root / f"home{next(_homes)}"
        config = ServerConfig(home=home, host="127.0.0.1", port=0, bcrypt_rounds=4, quiet=True,
                              limits=GatewayLimits(messages_per_s=0, orders_per_s=0))
        server = ServerThread(config)
        info = await asyncio.to_thread(server.start)
        admin = await Session.connect(info.url, home=home, proxy=None)
        await admin.login("admin", (home / "admin-password").read_text().strip())
        market = cls(home=home, server=server, url=info.url, admin=admin, traders=[], sessions=[admin])
        for i in range(traders):
            name = f"t{i}"
            await admin.user_add(name, f"pw-{name}", cash=10**10, positions=dict.fromkeys(SYMBOLS, 10**6))
            session = await market.connect()
            await session.login(name, f"pw-{name}")
            market.traders.append(session)
        return market

    async def connect(self, **kwargs: Any) -> Session:
        session = await Session.connect(self.url, home=self.home, proxy=None, **kwargs)
        self.sessions.append(session)
        return session

    async def keeper(self) -> BookKeeper:
        """A keeper on a fresh session that keeps no queue (callbacks only)."""
        return BookKeeper(await self.connect(queue_size=0))

    async def lossy_keeper(self, every: int) -> LossyKeeper:
        """A :class:`LossyKeeper` on a fresh session that keeps no queue."""
        return LossyKeeper(await self.connect(queue_size=0), every)

    async def play(self, action: Action) -> None:
        """Carry out one action; refusals (funds, unknown orders, ...) are part of trading."""
        kind, who = action[0], action[1] % len(self.traders)
        s = self.traders[who]
        mine = self.orders.setdefault(who, [])
        try:
            if kind == "limit":
                _, _, symbol, side, price, qty, tif = action
                self._rest(mine, await s.order(symbol, side, qty, price=price, tif=tif))
            elif kind == "market":
                _, _, symbol, side, qty = action
                await s.order(symbol, side, qty, type="market")
            elif kind == "cancel" and mine:
                await s.cancel(mine.pop(action[2] % len(mine)))
            elif kind == "replace" and mine:
                _, _, pick, price, qty = action
                await s.replace(mine[pick % len(mine)], price=price, qty=qty)
            elif kind == "stop":
                _, _, symbol, side, stop_price, qty, price = action
                kind_ = "stop" if price is None else "stop_limit"
                self._rest(mine, await s.order(symbol, side, qty, type=kind_, price=price, stop_price=stop_price))
            elif kind == "iceberg":
                _, _, symbol, side, price, qty, display = action
                self._rest(mine, await s.order(symbol, side, qty, price=price, display_qty=display))
            elif kind == "gtd":
                _, _, symbol, side, price, qty, ms, display = action
                expire_ts = time.time_ns() + ms * 1_000_000
                self._rest(mine, await s.order(symbol, side, qty, price=price, tif="gtd", expire_ts=expire_ts,
                                               display_qty=display))
            elif kind == "batch":
                replies = await s.batch([
                    OrderRequest(symbol=symbol, side=side, qty=qty, price=price)
                    for symbol, side, price, qty in action[2]
                ])
                for reply in replies:
                    if isinstance(reply, AckMessage):
                        self._rest(mine, reply)
        except ExchError:
            pass

    @staticmethod
    def _rest(mine: list[int], ack: AckMessage) -> None:
        if ack.status in ("open", "partially_filled", "pending"):
            mine.append(ack.order_id)

    async def expired(self) -> None:
        """Wait until no trader has a good-till-date order due within a minute (the server's tick expires them).

        Not only those already due: one due in 50 ms would otherwise expire after the test read the last
        seqs, moving the engine's book past every keeper's (seen in CI).
        """
        async with asyncio.timeout(WAIT):
            for s in self.traders:
                while any(o.expire_ts is not None and o.expire_ts <= time.time_ns() + 60 * 10**9
                          for o in (await s.orders()).orders):
                    await asyncio.sleep(0.05)

    async def tail(self) -> None:
        """Book changes on every symbol (a far-away order, then its cancel): a missed message shows as a gap."""
        await self.expired()
        s = self.traders[0]
        for symbol in SYMBOLS:
            ack = await s.order(symbol, "buy", 1, price=1)
            await s.cancel(ack.order_id)

    async def last_seqs(self) -> dict[str, int]:
        """Each symbol's current seq, from the snapshot a new level3 subscriber gets."""
        session = await self.connect(queue_size=0)
        probe = BookKeeper(session)
        await asyncio.wait_for(probe.track(SYMBOLS), WAIT)
        seqs = {symbol: probe[symbol].seq for symbol in SYMBOLS}
        await session.close()
        return seqs

    async def stop(self) -> None:
        """Stop the server (clients get shutdown + 1001) and wait until every session saw the close."""
        await asyncio.to_thread(self.server.stop)
        for session in self.sessions:
            await asyncio.wait_for(session.wait_closed(), WAIT)

    async def close(self) -> None:
        for session in self.sessions:
            with contextlib.suppress(Exception):
                await session.close()
        if self.server.running:
            await asyncio.to_thread(self.server.stop)


async def wait_all(keepers: dict[str, BookKeeper], seqs: dict[str, int]) -> None:
    """Wait until every keeper is synced at each symbol's last seq."""
    for keeper in keepers.values():
        for symbol, seq in seqs.items():
            await keeper.wait_seq(symbol, seq, timeout=WAIT)
