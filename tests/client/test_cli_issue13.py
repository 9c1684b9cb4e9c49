"""Issue #13 on the command line: money in dollars, one style of confirmation (real server, real CLI)."""

from __future__ import annotations

import asyncio
import time

import pytest

from client.errors import ExchError
from tests.gateway.conftest import Exchange, exchange, make_exchange, run_exch  # noqa: F401  (fixtures)
from tests.gateway.test_cli import balance_of, one_line_error


async def test_cli_money_is_dollars_and_refusals_say_dollars(exchange: Exchange) -> None:  # noqa: F811
    """--cash takes dollars with cents; refusals and `exch trades` show dollars, not cents or ticks (#13.9)."""
    home = exchange.home
    added = await asyncio.to_thread(run_exch, "user", "add", "alice", "--cash", "1000.50", "--shares", "ACME=5",
                                    "--password-stdin", home=home, input="a\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "Added trader alice with $1,000.50 cash and 5 ACME."
    assert await balance_of(exchange.url, home, "alice", "a") == (100_050, {"ACME": 5})
    gave = await asyncio.to_thread(run_exch, "user", "deposit", "alice", "--cash", "$2,000", home=home)
    assert gave.returncode == 0 and gave.stdout.strip() == "Gave alice $2,000.00 cash.", gave.stdout
    assert (await balance_of(exchange.url, home, "alice", "a"))[0] == 300_050

    for bad, why in (("12.345", "more than 2 decimals"), ("ten", "not an amount of dollars"), ("-5", "negative")):
        result = await asyncio.to_thread(run_exch, "user", "add", "bob", "--cash", bad, "--password-stdin",
                                         home=home, input="b\n")
        line = one_line_error(result)
        assert "--cash" in line and why in line, line

    alice = await exchange.connect()
    await alice.login("alice", "a")
    with pytest.raises(ExchError) as refused:
        await alice.order("ACME", "buy", 1000, price=50_000)
    assert refused.value.message == "needs $500,000.00, $3,000.50 available", refused.value.message

    buyer = await exchange.trader(cash=1_000_000)
    await alice.order("ACME", "sell", 2, price=4501)
    await buyer.order("ACME", "buy", 2, price=4501)
    deadline = time.monotonic() + 10
    while True:
        listed = await asyncio.to_thread(run_exch, "trades", "--csv", home=home)
        rows = listed.stdout.splitlines()[1:]
        if rows or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert rows and rows[-1].split(",")[3] == "45.01", listed.stdout
