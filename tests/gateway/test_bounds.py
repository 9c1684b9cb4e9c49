"""Unbounded balances crashed the server (issue #11, item 3): a real server, the audit's steps.

The audit gave one user 20,000 deposits of 10^15 cents (2 x 10^19): the next
checkpoint failed (msgpack takes no int over 2**64 - 1), so SIGTERM exited 1 and
every restart failed again. Now the exchange's cash stops at 10^18 cents and
each further deposit gets ``limit_exceeded``; the server stops with 0 and
restarts with the same state.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from client import ExchError, Session
from exchange.protocol import BalanceReply, DepositReply, ErrorMessage

from .conftest import Exchange, StartProc, unique

MAX_DEPOSIT = 10**15
MAX_CASH = 10**18
DEPOSITS = 20_000
BATCH = 100


async def _admin(url: str, home: Path) -> Session:
    s = await Session.connect(url, home=home, proxy=None)
    await s.login("admin", (home / "admin-password").read_text().strip())
    return s


async def _cash(url: str, home: Path, name: str) -> int:
    async with Session.connect(url, home=home, proxy=None) as s:
        await s.login(name, f"pw-{name}")
        balance = await s.balance()
        assert isinstance(balance, BalanceReply)
        return balance.cash


async def test_the_audits_deposits_stop_at_the_maximum_and_the_server_stops_and_restarts_cleanly(
    tmp_path: Path, proc_server: StartProc
) -> None:
    home = tmp_path / "home"
    server = proc_server(home, "--messages-per-s", "0")
    admin = await _admin(server.url, home)
    whale = unique("whale")
    await admin.user_add(whale, f"pw-{whale}")
    deposit = {"op": "deposit", "username": whale, "cash": MAX_DEPOSIT}
    replies = []
    for _ in range(DEPOSITS // BATCH):
        replies += await admin.batch([deposit] * BATCH)
    accepted = [r for r in replies if isinstance(r, DepositReply)]
    refused = [r for r in replies if isinstance(r, ErrorMessage)]
    await admin.close()

    server.signal(signal.SIGTERM)
    assert await asyncio.to_thread(server.wait) == 0, server.output()[-2000:]

    assert len(accepted) == MAX_CASH // MAX_DEPOSIT
    assert len(refused) == DEPOSITS - len(accepted)
    assert {r.code for r in refused} == {"limit_exceeded"}
    assert "maximum of $10,000,000,000,000,000.00" in refused[0].message

    restarted = proc_server(home)
    assert await _cash(restarted.url, home, whale) == MAX_CASH
    admin = await _admin(restarted.url, home)
    with pytest.raises(ExchError) as refusal:
        await admin.deposit(whale, cash=1)
    assert refusal.value.code == "limit_exceeded"
    # A new user's opening cash is refused the same way.
    other = unique("late")
    with pytest.raises(ExchError) as late:
        await admin.user_add(other, f"pw-{other}", cash=1)
    assert late.value.code == "limit_exceeded"
    await admin.close()
    restarted.signal(signal.SIGTERM)
    assert await asyncio.to_thread(restarted.wait) == 0


@pytest.mark.parametrize(
    ("op", "fields", "code", "field"),
    [
        ("order", {"symbol": "ACME", "side": "buy", "qty": 10**9 + 1, "price": 1}, "invalid_qty", "qty"),
        ("order", {"symbol": "ACME", "side": "sell", "qty": 1, "price": 10**9 + 1}, "invalid_price", "price"),
        ("order", {"symbol": "ACME", "side": "sell", "qty": 2**64, "type": "market"}, "invalid_qty", "qty"),
        ("replace", {"order_id": 1, "qty": 2**70}, "invalid_qty", "qty"),
        ("replace", {"order_id": 1, "price": 10**9 + 1}, "invalid_price", "price"),
    ],
)
async def test_trader_numbers_over_the_maxima_are_refused_with_their_field(
    exchange: Exchange, op: str, fields: dict[str, object], code: str, field: str
) -> None:
    trader = await exchange.trader(cash=10**6, shares={"ACME": 10})
    with pytest.raises(ExchError) as refusal:
        await trader.request(op, **fields)
    assert (refusal.value.code, refusal.value.field) == (code, field)
    assert "1000000000" in str(refusal.value)


@pytest.mark.parametrize(
    ("op", "fields", "code", "field"),
    [
        ("deposit", {"cash": 10**15 + 1}, "bad_request", "cash"),
        ("deposit", {"symbol": "ACME", "qty": 2**64}, "invalid_qty", "qty"),  # every `qty` field's code
        ("user_add", {"password": "pw-x", "cash": 2**64}, "bad_request", "cash"),
        ("user_add", {"password": "pw-x", "positions": {"ACME": 10**15 + 1}}, "bad_request", "positions"),
        ("symbol_add", {"symbol": "HUGE", "tick": 2**64}, "bad_request", "tick"),
        ("symbol_add", {"symbol": "HUGE", "lot": 10**9 + 1}, "bad_request", "lot"),
    ],
)
async def test_admin_numbers_over_the_maxima_are_refused_with_their_field(
    exchange: Exchange, op: str, fields: dict[str, object], code: str, field: str
) -> None:
    name, _ = await exchange.add_user()
    admin = await exchange.admin()
    username = name if op == "deposit" else unique("new")
    with pytest.raises(ExchError) as refusal:
        await admin.request(op, **({"username": username} if op != "symbol_add" else {}), **fields)
    assert (refusal.value.code, refusal.value.field) == (code, field)
    symbols = await admin.symbols()
    assert "HUGE" not in {s.symbol for s in symbols.symbols}
    users = await admin.user_list()
    assert username == name or username not in {u.username for u in users.users}
