"""A real ``exch serve`` process: SIGTERM with clients connected, and ``kill -9`` while they trade.

The crash test checks trades against the store's ``trades`` table (``exch`` has
no ``trades`` command to print them).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

from client import ClientError, ExchError, Session
from exchange.protocol import DoneMessage, FillMessage, UserAddRequest
from exchange.store import open_store

from .conftest import Pushes, StartProc, unique

CASH = 1_000_000
SHARES = 1_000


async def connect(url: str, home: Path) -> Session:
    return await Session.connect(url, home=home, proxy=None)


async def admin_session(url: str, home: Path) -> Session:
    s = await connect(url, home)
    await s.login("admin", (home / "admin-password").read_text().strip())
    return s


async def add_traders(admin: Session, count: int) -> list[str]:
    names = [unique("t") for _ in range(count)]
    replies = await admin.batch(
        [
            UserAddRequest(username=n, password=f"pw-{n}", cash=CASH, positions={"ACME": SHARES, "BOLT": SHARES})
            for n in names
        ]
    )
    assert all(r.__class__.__name__ == "UserAddReply" for r in replies), replies
    return names


async def view(url: str, home: Path, name: str) -> tuple[Any, list[Any]]:
    """A user's balance (without the reply id) and open orders, on a fresh connection."""
    async with Session.connect(url, home=home, proxy=None) as s:
        await s.login(name, f"pw-{name}")
        balance = msgspec.structs.replace(await s.balance(), id=None)
        return balance, (await s.orders()).orders


async def test_sigterm_sends_shutdown_closes_1001_exits_0_and_a_restart_has_the_same_state(
    tmp_path: Path, proc_server: StartProc
) -> None:
    home = tmp_path / "home"
    server = proc_server(home)
    admin = await admin_session(server.url, home)
    buyer_name, seller_name = await add_traders(admin, 2)
    buyer = await connect(server.url, home)
    await buyer.login(buyer_name, f"pw-{buyer_name}")
    seller = await connect(server.url, home)
    await seller.login(seller_name, f"pw-{seller_name}")
    watcher = await connect(server.url, home)
    await watcher.subscribe(["level3", "ticker"], ["ACME"])
    await buyer.order("ACME", "buy", 10, price=100, client_order_id="keep-me")
    await buyer.order("BOLT", "buy", 3, price=55)
    await seller.order("ACME", "sell", 4, price=100)  # trades 4 of the bid
    await seller.order("ACME", "sell", 8, price=104)
    before = {n: await view(server.url, home, n) for n in (buyer_name, seller_name)}
    assert before[buyer_name][1][0].remaining == 6

    server.signal(signal.SIGTERM)
    for s in (admin, buyer, seller, watcher):
        closed = await s.wait_closed()
        assert closed.code == 1001, closed
        assert closed.shutdown is not None and closed.shutdown.reason
    assert await asyncio.to_thread(server.wait) == 0

    restarted = proc_server(home)
    after = {n: await view(restarted.url, home, n) for n in (buyer_name, seller_name)}
    assert after == before


@dataclass
class Book:
    """What one trader was told before the crash."""

    name: str
    acks: dict[int, Any] = field(default_factory=dict)
    qty: dict[int, int] = field(default_factory=dict)
    price: dict[int, int] = field(default_factory=dict)
    cancels_sent: set[int] = field(default_factory=set)
    in_flight: dict[str, Any] | None = None  # the order sent last, while its reply has not come
    pushes: Pushes | None = None


async def trade_until_closed(s: Session, book: Book, seed: int, acked: list[int], enough: asyncio.Event) -> None:
    rng = random.Random(seed)
    try:
        while True:
            if rng.random() < 0.15 and book.acks:
                order_id = rng.choice(list(book.acks))
                book.cancels_sent.add(order_id)
                with contextlib.suppress(ExchError):
                    await s.cancel(order_id)
                continue
            symbol = rng.choice(("ACME", "BOLT"))
            side = rng.choice(("buy", "sell"))
            qty = rng.randint(1, 10)
            kind = rng.random()
            kwargs: dict[str, Any] = (
                {"price": rng.randint(98, 102)}
                if kind < 0.7
                else {"price": rng.randint(98, 102), "tif": "ioc"}
                if kind < 0.85
                else {"type": "market"}
            )
            book.in_flight = {"symbol": symbol, "side": side, **kwargs}
            try:
                ack = await s.order(symbol, side, qty, **kwargs)
            except ExchError:
                book.in_flight = None
                continue
            book.in_flight = None  # kept when the connection dies with the order unanswered
            book.acks[ack.order_id] = ack
            book.qty[ack.order_id] = qty
            book.price[ack.order_id] = kwargs.get("price", 0)
            acked.append(ack.order_id)
            if len(acked) >= 400:
                enough.set()
    except ClientError:
        return  # the server is gone


def self_trade_possible(ack: Any, price: int, sent: dict[str, Any] | None) -> bool:
    """Could ``sent`` (an order of the same user, no reply seen) have canceled resting ``ack`` at ``price``?"""
    if sent is None or sent["symbol"] != ack.symbol or sent["side"] == ack.side:
        return False
    if "price" not in sent:
        return True  # a market order
    return bool(sent["price"] >= price if sent["side"] == "buy" else sent["price"] <= price)


@pytest.mark.parametrize("journal", ["inline", "thread"])
async def test_kill_9_while_trading_loses_no_acknowledged_order_or_fill(
    tmp_path: Path, proc_server: StartProc, monkeypatch: pytest.MonkeyPatch, journal: str
) -> None:
    """Both ways the journal commits: on the loop (the SQLite default) and on its thread."""
    monkeypatch.setenv("EXCH_JOURNAL_THREAD", "1" if journal == "thread" else "0")
    home = tmp_path / "home"
    server = proc_server(home)
    admin = await admin_session(server.url, home)
    names = await add_traders(admin, 6)
    sessions: list[Session] = []
    books: list[Book] = []
    for name in names:
        s = await connect(server.url, home)
        book = Book(name, pushes=Pushes(s))
        await s.login(name, f"pw-{name}")
        sessions.append(s)
        books.append(book)
    acked: list[int] = []
    enough = asyncio.Event()
    tasks = [
        asyncio.create_task(trade_until_closed(s, b, i, acked, enough))
        for i, (s, b) in enumerate(zip(sessions, books, strict=True))
    ]
    await asyncio.wait_for(enough.wait(), 120)
    server.signal(signal.SIGKILL)  # mid-stream: the traders are still sending
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    await asyncio.gather(*(s.close() for s in sessions), admin.close())
    assert server.wait() == -signal.SIGKILL

    restarted = proc_server(home)
    store = open_store(None, home=home)
    try:
        trades = {t.trade_id: t for t in store.trades()}
        user_ids = {name: store.get_user(name).id for name in names}  # type: ignore[union-attr]
    finally:
        store.close()
    traded: dict[int, int] = defaultdict(int)  # order id -> quantity traded, per the journal
    for t in trades.values():
        traded[t.maker_order_id] += t.qty
        traded[t.taker_order_id] += t.qty

    total_cash = 0
    for book in books:
        assert book.pushes is not None
        balance, orders = await view(restarted.url, home, book.name)
        total_cash += balance.cash
        open_now = {o.order_id: o for o in orders}
        done = {d.order_id for d in book.pushes.of(DoneMessage)}
        fills = book.pushes.of(FillMessage)
        seen: dict[int, int] = defaultdict(int)
        uid = user_ids[book.name]
        for f in fills:  # every fill a client saw is in the journal's trades
            t = trades.get(f.trade_id)
            assert t is not None, f"fill of trade {f.trade_id} lost"
            assert (t.symbol, t.price, t.qty) == (f.symbol, f.price, f.qty)
            assert (
                (t.maker_order_id, t.maker_user) == (f.order_id, uid)
                if f.liquidity == "maker"
                else ((t.taker_order_id, t.taker_user) == (f.order_id, uid))
            )
            seen[f.order_id] += f.qty
        for order_id, ack in book.acks.items():
            assert traded[order_id] >= seen[order_id]
            if order_id in open_now:
                o = open_now[order_id]
                assert ack.status in ("open", "partially_filled") and order_id not in done
                assert (o.qty, o.qty - o.remaining) == (book.qty[order_id], traded[order_id])
            elif ack.status in ("open", "partially_filled") and order_id not in done:
                # it left the book after the last message we saw: by a cancel we sent, by trading
                # out, or by self-trade prevention (our own crossing order was in flight at the crash)
                assert (
                    order_id in book.cancels_sent
                    or traded[order_id] == book.qty[order_id]
                    or self_trade_possible(ack, book.price[order_id], book.in_flight)
                ), f"acknowledged order {order_id} of {book.name} is gone"
        # the balance is the deposits plus every trade the journal holds for this user
        cash = CASH
        shares = {"ACME": SHARES, "BOLT": SHARES}
        for t in trades.values():
            for user, side in ((t.maker_user, t.side), (t.taker_user, "buy" if t.side == "sell" else "sell")):
                if user == uid:
                    sign = 1 if side == "buy" else -1
                    cash -= sign * t.price * t.qty
                    shares[t.symbol] += sign * t.qty
        assert balance.cash == cash and {s: p.qty for s, p in balance.positions.items()} == shares
        assert balance.cash_held == sum(o.price * o.remaining for o in orders if o.side == "buy")
    assert total_cash == CASH * len(books)
    assert sum(len(b.acks) for b in books) >= 400 and trades
