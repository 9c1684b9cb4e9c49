"""Fifty clients trading random orders against each other at once: nothing is created or lost."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from client import ExchError, Session
from exchange.protocol import AckMessage, DoneMessage, ErrorMessage, FillMessage, UserAddRequest

from .conftest import Exchange, Pushes, unique

CLIENTS = 50
OPS = 30
CASH = 1_000_000
SHARES = 1_000
SYMBOLS = ("ACME", "BOLT")
EXPECTED_REFUSALS = {
    "insufficient_funds",
    "insufficient_position",
    "would_cross",
    "unfillable",
    "unknown_order",
}


@dataclass
class Trader:
    name: str
    session: Session
    pushes: Pushes
    acks: dict[int, AckMessage] = field(default_factory=dict)
    sent_qty: dict[int, int] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)


async def trade(t: Trader, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(OPS):
        roll = rng.random()
        symbol = rng.choice(SYMBOLS)
        side = rng.choice(("buy", "sell"))
        qty = rng.randint(1, 20)
        price = rng.randint(95, 105)
        try:
            if roll < 0.15 and t.acks:
                await t.session.cancel(rng.choice(list(t.acks)))
                continue
            if roll < 0.55:
                kwargs: dict[str, Any] = {"price": price}
            elif roll < 0.70:
                kwargs = {"price": price, "tif": "ioc"}
            elif roll < 0.80:
                kwargs = {"type": "market"}
                qty = rng.randint(1, 10)
            elif roll < 0.87:
                kwargs = {"price": price, "tif": "fok"}
            else:
                kwargs = {"price": price, "post_only": True}
            ack = await t.session.order(symbol, side, qty, **kwargs)  # type: ignore[arg-type]
            t.acks[ack.order_id] = ack
            t.sent_qty[ack.order_id] = qty
        except ExchError as exc:
            t.refusals.append(exc.code)


async def add_users(exchange: Exchange, count: int, **funds: Any) -> list[str]:
    admin = await exchange.admin()
    names = [unique("c") for _ in range(count)]
    replies = await admin.batch([UserAddRequest(username=n, password=f"pw-{n}", **funds) for n in names])
    assert not [r for r in replies if isinstance(r, ErrorMessage)]
    return names


async def test_fifty_concurrent_logins_from_one_address_all_succeed(exchange: Exchange) -> None:
    names = await add_users(exchange, CLIENTS)
    sessions = await asyncio.gather(*(exchange.connect() for _ in names))
    results = await asyncio.gather(
        *(s.login(n, f"pw-{n}") for s, n in zip(sessions, names, strict=True)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert not refused, f"{len(refused)} of {CLIENTS} correct logins refused: {refused[0]!r}"
    assert [r.user for r in results] == names  # type: ignore[union-attr]


async def test_fifty_clients_trading_conserve_cash_and_shares_and_lose_no_order(exchange: Exchange) -> None:
    names = await add_users(exchange, CLIENTS, cash=CASH, positions=dict.fromkeys(SYMBOLS, SHARES))

    logins = asyncio.Semaphore(10)  # see test_fifty_concurrent_logins_from_one_address_all_succeed

    async def join(name: str) -> Trader:
        s = await exchange.connect()
        pushes = Pushes(s)
        async with logins:
            await s.login(name, f"pw-{name}")
        return Trader(name, s, pushes)

    traders = await asyncio.gather(*(join(n) for n in names))
    await asyncio.gather(*(trade(t, seed) for seed, t in enumerate(traders)))

    assert sum(len(t.acks) for t in traders) > CLIENTS * OPS // 2
    assert set().union(*(t.refusals for t in traders)) <= EXPECTED_REFUSALS
    open_orders = {t.name: (await t.session.orders()).orders for t in traders}  # also a barrier for pushes
    balances = {t.name: await t.session.balance() for t in traders}

    # cash and shares are conserved
    assert sum(b.cash for b in balances.values()) == CLIENTS * CASH
    for symbol in SYMBOLS:
        assert sum(b.positions[symbol].qty for b in balances.values()) == CLIENTS * SHARES

    fills_by_trade: dict[int, list[tuple[str, FillMessage]]] = defaultdict(list)
    total_fills = 0
    for t in traders:
        fills = t.pushes.of(FillMessage)
        done = {d.order_id: d for d in t.pushes.of(DoneMessage)}
        total_fills += len(fills)
        filled: dict[int, int] = defaultdict(int)
        for f in fills:
            assert f.order_id in t.acks, "a fill for an order this user never placed"
            filled[f.order_id] += f.qty
            fills_by_trade[f.trade_id].append((t.name, f))
        listed = {o.order_id: o for o in open_orders[t.name]}
        assert set(listed) <= set(t.acks)
        for order_id, ack in t.acks.items():
            # every acknowledged order is either open or reported done, never both
            assert (order_id in listed) != (order_id in done), (t.name, ack)
            if ack.status in ("filled", "canceled"):
                assert order_id in done
            if order_id in listed:
                o = listed[order_id]
                assert o.qty == t.sent_qty[order_id] and o.qty - o.remaining == filled[order_id]
            elif done[order_id].reason == "filled":
                assert filled[order_id] == t.sent_qty[order_id]
            else:
                assert filled[order_id] + done[order_id].remaining == t.sent_qty[order_id]
        # the balance is exactly the deposits plus the fills this user was told about
        bal = balances[t.name]
        cash = CASH + sum((-1 if f.side == "buy" else 1) * f.price * f.qty for f in fills)
        assert bal.cash == cash, t.name
        for symbol in SYMBOLS:
            moved = sum((1 if f.side == "buy" else -1) * f.qty for f in fills if f.symbol == symbol)
            assert bal.positions[symbol].qty == SHARES + moved
            held = sum(o.remaining for o in listed.values() if o.symbol == symbol and o.side == "sell")
            assert bal.positions[symbol].held == held
        assert bal.cash_held == sum(o.price * o.remaining for o in listed.values() if o.side == "buy")

    assert total_fills > 0
    # each trade reached both sides: one maker, one taker, two different users
    for trade_id, pair in fills_by_trade.items():
        assert len(pair) == 2, trade_id
        (u1, f1), (u2, f2) = pair
        assert u1 != u2 and {f1.liquidity, f2.liquidity} == {"maker", "taker"}
        assert {f1.side, f2.side} == {"buy", "sell"}
        assert (f1.symbol, f1.price, f1.qty) == (f2.symbol, f2.price, f2.qty)
