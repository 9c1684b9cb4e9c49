"""``exch bench engine``: the engine alone on the standard command mix.

The mix (DESIGN.md): 55% limit adds of which a fifth cross the spread, 25%
cancels, 10% replaces, 5% IOC, 5% market orders, from 1,000 users on two
symbols, with risk checks on. Resting orders are 1-99 shares and the orders
that take liquidity 1-79, so the book stays about stationary (a few thousand
resting orders) instead of growing through the run. The stream is generated
once by driving a
scratch engine (so cancels and replaces name orders that really are open),
then replayed on a fresh engine twice: once for throughput (the loop itself
runs in C so the figure is the engine's, not the harness's), once timing every
command for the latency percentiles (the timer's own ~70 ns included).
"""

from __future__ import annotations

import gc
import platform
import random
import sys
import time
from collections import deque
from typing import Any

from exchange.engine import (
    AddSymbol,
    Cancel,
    Command,
    Deposit,
    Done,
    Engine,
    Limits,
    NewOrder,
    Open,
    Replace,
    engine_build,
)
from exchange.engine.commands import Side

__all__ = ["generate", "run"]

SYMBOLS = ("ACME", "BOLT")
MID = 10_000


class _OpenOrders:
    """Resting orders by id with O(1) random pick and removal."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.where: dict[int, tuple[int, int]] = {}  # id -> (index, user)

    def add(self, order_id: int, user: int) -> None:
        self.where[order_id] = (len(self.ids), user)
        self.ids.append(order_id)

    def remove(self, order_id: int) -> None:
        index, _ = self.where.pop(order_id)
        last = self.ids.pop()
        if last != order_id:
            self.ids[index] = last
            self.where[last] = (index, self.where[last][1])

    def pick(self, rng: random.Random) -> tuple[int, int]:
        order_id = self.ids[rng.randrange(len(self.ids))]
        return order_id, self.where[order_id][1]


def setup_commands(users: int) -> list[Command]:
    """List the symbols and fund every user with cash and shares."""
    cmds: list[Command] = [AddSymbol(s, 1, 1) for s in SYMBOLS]
    for user in range(1, users + 1):
        cmds.append(Deposit(user, cash=10**12))
        for s in SYMBOLS:
            cmds.append(Deposit(user, symbol=s, qty=10**8))
    return cmds


def generate(n: int, *, seed: int = 1, users: int = 1_000) -> tuple[list[Command], list[Command]]:
    """Return ``(setup, stream)``: ``n`` commands on the standard mix."""
    rng = random.Random(seed)
    engine = Engine(limits=Limits(max_open_orders=100_000))
    setup = setup_commands(users)
    for ts, setup_cmd in enumerate(setup):
        engine.apply(setup_cmd, ts)
    resting = _OpenOrders()
    stream: list[Command] = []
    ts = len(setup)
    for _ in range(n):
        r = rng.random()
        symbol = SYMBOLS[rng.randrange(2)]
        user = rng.randrange(1, users + 1)
        side: Side = "buy" if rng.random() < 0.5 else "sell"
        book = engine.books[symbol]
        best_bid = book.bids.best()
        best_ask = book.asks.best()
        bid = best_bid.price if best_bid else MID - 1
        ask = best_ask.price if best_ask else MID + 1
        cmd: Command
        if resting.ids and r < 0.25:
            order_id, owner = resting.pick(rng)
            cmd = Cancel(owner, order_id)
        elif resting.ids and r < 0.35:
            order_id, owner = resting.pick(rng)
            if rng.random() < 0.5:
                cmd = Replace(owner, order_id, qty=rng.randrange(1, 10))
            else:
                cmd = Replace(owner, order_id, price=max(1, (bid + ask) // 2 + rng.randrange(-40, 41)))
        elif r < 0.40:
            price = ask + rng.randrange(0, 3) if side == "buy" else max(1, bid - rng.randrange(0, 3))
            cmd = NewOrder(user, symbol, side, "limit", price, rng.randrange(1, 80), "ioc")
        elif r < 0.45:
            cmd = NewOrder(user, symbol, side, "market", None, rng.randrange(1, 80))
        elif r < 0.56:  # the crossing fifth of the limit adds
            price = ask + rng.randrange(0, 3) if side == "buy" else max(1, bid - rng.randrange(0, 3))
            cmd = NewOrder(user, symbol, side, "limit", price, rng.randrange(1, 80))
        else:
            mid = (bid + ask) // 2
            offset = 1 + int(rng.expovariate(1 / 15))
            price = mid - offset if side == "buy" else mid + offset
            cmd = NewOrder(user, symbol, side, "limit", max(1, price), rng.randrange(1, 100))
        for event in engine.apply(cmd, ts):
            if type(event) is Open:
                resting.add(event.order_id, cmd.user)
            elif type(event) is Done and event.seq:
                resting.remove(event.order_id)
        stream.append(cmd)
        ts += 1
    return setup, stream


def _fresh(setup: list[Command]) -> Engine:
    engine = Engine(limits=Limits(max_open_orders=100_000))
    for ts, cmd in enumerate(setup):
        engine.apply(cmd, ts)
    return engine


def _percentile(sorted_ns: list[int], p: float) -> int:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * p))]


def run(n: int = 1_000_000, *, seed: int = 1, users: int = 1_000) -> dict[str, Any]:
    """Generate the stream, then measure throughput and per-command latency."""
    setup, stream = generate(n, seed=seed, users=users)
    base = len(setup)
    gc.collect()
    gc.disable()
    try:
        engine = _fresh(setup)
        apply = engine.apply
        stamps = range(base, base + len(stream))
        # The loop runs in C (map, drained by a zero-length deque): what is timed
        # is engine.apply on every command, not an interpreted for loop around it
        # (about 0.1 µs a command here, a tenth of the target's budget).
        start = time.perf_counter_ns()
        deque(map(apply, stream, stamps), maxlen=0)
        elapsed = time.perf_counter_ns() - start
        engine = _fresh(setup)
        apply = engine.apply
        clock = time.perf_counter_ns
        costs = [0] * len(stream)
        for i, cmd in enumerate(stream):
            ts = base + i
            t0 = clock()
            apply(cmd, ts)
            costs[i] = clock() - t0
    finally:
        gc.enable()
    costs.sort()

    return {
        "bench": "engine",
        "commands": n,
        "users": users,
        "symbols": len(SYMBOLS),
        "commands_per_s": round(n / (elapsed / 1e9)),
        "p50_ns": _percentile(costs, 0.50),
        "p99_ns": _percentile(costs, 0.99),
        "p999_ns": _percentile(costs, 0.999),
        "trades": engine.next_trade_id - 1,
        "resting_orders_end": sum(len(a.orders) for a in engine.accounts.values()),
        "compiled": engine_build().compiled,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
    }
