"""Issue #13 on the command line: money in dollars, one style of confirmation (real server, real CLI)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from client.errors import ExchError
from client.trade import TradeApp
from client.trade.screens import LoginScreen
from tests.gateway.conftest import Exchange, exch_cmd, exchange, make_exchange, run_exch  # noqa: F401  (fixtures)
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


async def test_a_rerun_demo_gets_its_port_back(make_exchange) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """A connection the server closed first stays in TIME_WAIT on the server's port after it stops; the demo's
    port probe still finds the port free, and a server binds it again (#13.10)."""
    from exchange.cli.demo import _free

    first: Exchange = make_exchange()
    port = first.port
    with socket.create_connection(("127.0.0.1", port)) as raw:  # not TLS: the server hangs up first
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
        raw.settimeout(10)
        assert raw.recv(100) == b""
    await asyncio.to_thread(first.server.stop)
    assert _free(port), f"port {port} looks taken after a clean stop"
    again: Exchange = make_exchange(port=port)  # and a server really binds it
    assert again.port == port


def exch_without_home(*args: str, home_dir: Path) -> subprocess.CompletedProcess[str]:
    """``exch ARGS`` as a newcomer runs it: no --home, no $EXCH_HOME, $HOME = ``home_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in ("EXCH_HOME", "EXCH_ADMIN_PASSWORD")}
    env.update(HOME=str(home_dir), COLUMNS="200")
    return subprocess.run(exch_cmd(*args), capture_output=True, text=True, timeout=90, env=env)


async def test_commands_without_home_point_at_the_running_demo(  # type: ignore[no-untyped-def]
        make_exchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """The demo's server runs in the demo home: `exch status` finds it; `exch trade` says
    where it looked and where the demo is (#13.10)."""
    user_home = tmp_path / "user"
    demo: Exchange = make_exchange(home=user_home / ".local" / "share" / "exch-demo")
    status = await asyncio.to_thread(exch_without_home, "status", home_dir=user_home)
    assert status.returncode == 0, (status.stdout, status.stderr)
    assert "exch is not running" in status.stdout and "the demo is running" in status.stdout
    assert demo.url in status.stdout and str(demo.home) in status.stdout

    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.delenv("EXCH_HOME", raising=False)
    from exchange.cli.trade import trade_settings

    settings = trade_settings(None, user="demo")
    app = TradeApp(settings)
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.pause(0.2)
        login = app.screen
        assert isinstance(login, LoginScreen)
        default = user_home / ".local" / "share" / "exch"
        assert f"No exch server is running on {default}" in login.error, login.error
        assert f"exch trade --user demo --home {demo.home}" in login.error, login.error


async def test_help_and_confirmations_read_alike(exchange: Exchange) -> None:  # noqa: F811
    """No `<bool>` after flags in --help; every user command confirms in the same sentence style (#13.11)."""
    from typer.testing import CliRunner

    from exchange.cli import app

    runner = CliRunner()
    for command in (["demo"], ["user", "add"], ["trade"], ["serve"]):
        shown = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"}, terminal_width=120).output
        assert "--help" in shown and "<bool>" not in shown, shown
    name, _ = await exchange.add_user()
    lines = []
    for args in (("user", "disable", name), ("user", "enable", name), ("user", "deposit", name, "--shares", "ACME=2")):
        result = await asyncio.to_thread(run_exch, *args, home=exchange.home)
        assert result.returncode == 0, result.stderr
        lines.append(result.stdout.strip())
    assert lines == [f"Disabled {name}: sessions closed, logins refused until `exch user enable {name}`.",
                     f"Enabled {name}: they can log in again.", f"Gave {name} 2 ACME."], lines
