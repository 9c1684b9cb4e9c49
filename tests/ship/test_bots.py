"""Robots against a real in-process server: rate, conservation, the maker's quotes and limit, clean stop."""

from __future__ import annotations

import asyncio
import functools
import random
import signal
import sys
import time
from collections.abc import Callable

import pytest

from client import Session
from client.bots import (
    FUNDING,
    Bot,
    BotFarm,
    FairValues,
    FarmConfig,
    MarketMaker,
    Pacer,
    PasswordBook,
    provision,
    roster,
)
from tests.gateway.conftest import Exchange, MakeExchange
from tests.ship.conftest import exch_env

SYMBOLS = ["ACME", "BOLT"]
RATE = 120.0
SECONDS = 4.0
LIMIT = 40


async def _provisioned(exchange: Exchange, count: int, prefix: str) -> dict[str, str]:
    admin = await exchange.admin()
    passwords, created = await provision(admin, roster(count, prefix), SYMBOLS,
                                         PasswordBook.in_home(exchange.home))
    assert sorted(created) == sorted(passwords)
    return passwords


async def _wallets(exchange: Exchange, passwords: dict[str, str]) -> dict[str, tuple[int, dict[str, int], int]]:
    """``name -> (cash, positions, open orders)`` read by logging in as each bot."""
    out = {}
    for name, password in passwords.items():
        session = await exchange.connect()
        await session.login(name, password)
        balance = await session.balance()
        orders = await session.orders()
        out[name] = (balance.cash, {s: p.qty for s, p in balance.positions.items()}, len(orders.orders))
        await session.close()
    return out


async def test_bots_trade_at_rate_conserve_and_stop_clean(exchange: Exchange) -> None:
    passwords = await _provisioned(exchange, 6, "t")
    farm = BotFarm(FarmConfig(url=exchange.url, symbols=SYMBOLS, count=6, seed=11, rate=RATE, prefix="t",
                              home=exchange.home, maker_limit=LIMIT), passwords)
    await farm.start()
    maker = farm.makers[0]
    stop = asyncio.Event()
    run = asyncio.create_task(farm.run(stop, duration=SECONDS))
    samples = two_sided = 0
    worst = 0
    while not run.done():
        await asyncio.sleep(0.05)
        for symbol in SYMBOLS:
            inventory = maker.inventory(symbol)
            open_bid = sum(o.remaining for o in maker.orders.values() if o.symbol == symbol and o.side == "buy")
            open_ask = sum(o.remaining for o in maker.orders.values() if o.symbol == symbol and o.side == "sell")
            # the invariant behind the limit: what is held plus what may still fill stays inside it
            assert inventory + open_bid <= LIMIT and inventory - open_ask >= -LIMIT, (symbol, inventory)
            worst = max(worst, abs(inventory))
            samples += 1
            at_limit = maker.room(symbol, "buy") == 0 or maker.room(symbol, "sell") == 0
            two_sided += maker.two_sided(symbol) or at_limit
    await run
    elapsed = time.monotonic() - farm.started
    totals = farm.totals()
    await farm.stop()

    # the aggregate rate: every request the pacer counted was sent, at the rate asked for
    assert totals["sent"] >= farm.pacer.done
    assert 0.75 * RATE * SECONDS <= farm.pacer.done <= 1.1 * RATE * elapsed + 5, (farm.pacer.done, elapsed)
    assert totals["fills"] > 20, totals
    assert farm.pacer.failed == 0
    # the maker quoted both sides nearly all the time, within its limit
    assert two_sided / samples >= 0.8, (two_sided, samples)
    assert worst <= LIMIT

    wallets = await _wallets(exchange, passwords)
    # stopped cleanly: no bot has an order left on the book
    assert {name: w[2] for name, w in wallets.items()} == dict.fromkeys(passwords, 0)
    # conserved: the bots only traded with each other
    kinds = dict(roster(6, "t"))
    assert sum(w[0] for w in wallets.values()) == sum(FUNDING[kinds[n]].cash for n in passwords)
    for symbol in SYMBOLS:
        assert sum(w[1].get(symbol, 0) for w in wallets.values()) == sum(FUNDING[kinds[n]].shares for n in passwords)
        assert all(w[1].get(symbol, 0) >= 0 for w in wallets.values())
    maker_start = FUNDING["maker"].shares
    assert all(abs(wallets[maker.name][1][s] - maker_start) <= LIMIT for s in SYMBOLS)
    # the bots' own books of their wallets match the exchange's
    for bot in farm.bots:
        assert bot.cash == wallets[bot.name][0], bot.name
        assert {s: q for s, q in bot.positions.items() if q} == {s: q for s, q in wallets[bot.name][1].items() if q}


async def test_bots_stop_cancels_resting_orders_and_reuse_users(exchange: Exchange) -> None:
    passwords = await _provisioned(exchange, 3, "r")
    config = FarmConfig(url=exchange.url, symbols=SYMBOLS, count=3, seed=5, rate=80, prefix="r", home=exchange.home)
    farm = BotFarm(config, passwords)
    await farm.start()
    await farm.run(asyncio.Event(), duration=1.0)
    resting = farm.totals()["open"]
    assert resting > 0  # the maker's quotes at least
    await farm.stop()
    assert all(not bot.orders for bot in farm.bots)
    assert all(n == 0 for _, _, n in (await _wallets(exchange, passwords)).values())

    # a second run reuses the users (passwords from the home's book) and starts from a clean state
    again, created = await provision(await exchange.admin(), roster(3, "r"), SYMBOLS,
                                     PasswordBook.in_home(exchange.home))
    assert again == passwords and created == []
    farm2 = BotFarm(config, again)
    await farm2.start()
    assert all(bot.ready for bot in farm2.bots)
    await farm2.stop()


async def test_bot_user_without_known_password_is_refused(exchange: Exchange) -> None:
    admin = await exchange.admin()
    await admin.user_add("x-maker-1", "someone-elses", cash=0)
    with pytest.raises(ValueError, match="password is not in"):
        await provision(admin, roster(1, "x"), SYMBOLS, PasswordBook.in_home(exchange.home))


class _Counter:
    """An actor that sends nothing but counts its turns (the pacer alone, no server)."""

    def __init__(self, weight: float, busy: bool = True) -> None:
        self.weight = weight
        self.ready = True
        self.turns = 0
        self.busy = busy

    async def act(self) -> bool:
        self.turns += 1
        await asyncio.sleep(0.001)
        return self.busy


async def test_pacer_keeps_the_aggregate_rate_by_weight() -> None:
    actors = [_Counter(3.0), _Counter(1.0), _Counter(1.0, busy=False)]
    pacer = Pacer(300, random.Random(1))
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(1.5, stop.set)
    await pacer.run(actors, stop)
    assert 0.85 * 450 <= pacer.done <= 1.1 * 450, pacer.done
    assert actors[0].turns > actors[1].turns  # weight 3 against 1 (among the idle ones)
    assert pacer.done == actors[0].turns + actors[1].turns  # idle turns do not count


def test_same_seed_same_fair_values_and_roster() -> None:
    a, b = (FairValues(["ACME", "ZED"], random.Random("7:fair")) for _ in range(2))
    for f in (a, b):
        f.advance(0.0)
        f.advance(10.0)
    assert a.steps == b.steps == 100
    assert a.values == b.values and a.values != a.anchors
    assert roster(12) == roster(12)
    assert [k for _, k in roster(12)].count("maker") == 2
    assert [k for _, k in roster(1)] == ["maker"]
    assert isinstance(MarketMaker, type)


async def test_bots_reconnect_after_a_server_restart(make_exchange: MakeExchange) -> None:
    """A bot's link comes back after the server restarts, and it starts again from a clean state."""
    first = make_exchange()
    passwords = await _provisioned(first, 2, "k")
    home = first.home
    farm = BotFarm(FarmConfig(url=first.url, symbols=SYMBOLS, count=2, seed=3, rate=40, prefix="k", home=home),
                   passwords)
    await farm.start()
    await farm.run(asyncio.Event(), duration=0.5)
    await first.close_sessions()
    if first._admin is not None:
        await first._admin.close()
    await asyncio.to_thread(first.server.stop)
    second = make_exchange(home=home, port=first.port)
    for bot in farm.bots:
        await asyncio.wait_for(_until(functools.partial(_reconnected, bot)), timeout=20)
    await farm.run(asyncio.Event(), duration=0.5)
    await farm.stop()
    session = await Session.connect(second.url, home=home, proxy=None)
    await session.login(farm.bots[0].name, passwords[farm.bots[0].name])
    assert (await session.orders()).orders == []
    await session.close()


def _reconnected(bot: Bot) -> bool:
    return bot.ready and bot.link.connects >= 2


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.05)


async def test_exch_bots_command_stops_on_sigint_and_cancels(exchange: Exchange) -> None:
    """``exch bots`` as a process: creates and funds its users, trades, and Ctrl-C leaves no order behind."""
    env = exch_env()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exchange", "bots", "--home", str(exchange.home), "--count", "4", "--rate", "60",
        "--prefix", "cli", "--status-every", "0.5", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not any(line.startswith("bots 4/4 up") for line in lines):
                line = (await proc.stdout.readline()).decode()
                assert line, "exch bots ended early: " + "".join(lines)
                lines.append(line)
        proc.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = "".join(lines) + rest.decode()
    assert proc.returncode == 0, output
    assert "created 4 bot users: cli-maker-1, cli-momo-1, cli-noise-1, cli-noise-2" in output
    assert "bots stopped, their orders canceled" in output and " 0 open" in output.splitlines()[-1]
    passwords = PasswordBook.in_home(exchange.home).passwords
    wallets = await _wallets(exchange, {n: p for n, p in passwords.items() if n.startswith("cli-")})
    assert len(wallets) == 4 and all(open_orders == 0 for _, _, open_orders in wallets.values())
