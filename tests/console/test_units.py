"""The console's pure parts: model events, formats, parsers, sparklines, config."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.widgets.sparkline import chart_rows, sparkline
from console.answers import describe_reply
from console.config import resolve
from console.format import dollars, duration, parse_dollars, price, rate
from console.model import ConsoleModel
from console.screens.admin import check_password, parse_shares
from exchange.protocol import (
    OperatorEvent,
    StatsMessage,
    StatusMessage,
    SymbolStats,
    TradeMessage,
    UserDisableReply,
    UserInfo,
    UserPasswdReply,
)


def stats(ts: int, *, users: dict[str, int], status: str = "trading", volume: int = 0,
          events: list[OperatorEvent] | None = None, logins_failed: int = 0) -> StatsMessage:
    return StatsMessage(events=events or [], logins_failed=logins_failed,
        ts=ts, uptime_s=1.0, clients=len(users), sessions_by_user=users, memory_rss_bytes=1 << 20,
        orders_per_s=0.0, trades_per_s=0.0, messages_out_per_s=0.0, journal_seq=1, journal_lag_ms=0.0,
        loop_lag_ms=0.0,
        symbols={"ACME": SymbolStats(bid=1, ask=2, last=None, volume=volume, open_interest=0, orders_resting=0,
                                     status=status)},
    )


def kinds(model: ConsoleModel) -> list[tuple[str, str]]:
    return [(e.kind, e.text) for e in reversed(model.tape)]


def test_model_takes_events_from_stats() -> None:
    m = ConsoleModel(clock=lambda: 100.0)
    m.apply(stats(1, users={"admin": 1}))
    assert m.tape == type(m.tape)()  # the first stats is the baseline
    m.apply(stats(2, users={"admin": 1, "alice": 2}, volume=10))
    m.apply(stats(3, users={"admin": 1}, status="halted", volume=15))
    m.apply(StatusMessage(symbol="ACME", status="halted", tick=1, lot=1))  # already known: once
    bob = OperatorEvent(seq=1, ts=4, kind="security", text="admin disabled user bob (1 sessions closed)")
    eve = OperatorEvent(seq=2, ts=5, kind="user", text="admin added user eve (admin)")
    m.apply(stats(4, users={"admin": 1}, status="halted", events=[bob]))
    m.apply(stats(5, users={"admin": 1}, status="halted", events=[bob, eve], logins_failed=4))  # bob repeated
    m.set_users([UserInfo(username="bob", role="trader", disabled=True, created_ts=0)])
    assert kinds(m) == [
        ("login", "alice connected (2 sessions)"),
        ("halt", "ACME HALTED"),
        ("login", "alice disconnected (gone)"),
        ("security", "admin disabled user bob (1 sessions closed)"),
        ("user", "admin added user eve (admin)"),
    ]
    assert [e.ts for e in m.tape][:2] == [5, 4]  # the server's times
    assert m.failed_logins == 4 and list(m.users or {}) == ["bob"]
    assert list(m.symbols["ACME"].volumes) == [0.0, 10.0, 5.0, 0.0, 0.0]


def test_trades_are_deduplicated_across_snapshot_and_feed() -> None:
    m = ConsoleModel()
    t = TradeMessage(symbol="ACME", seq=5, trade_id=9, price=10125, qty=3, taker_side="buy", ts=1)
    m.apply(t)
    m.apply(t)
    assert [(e.kind, e.text) for e in m.tape] == [("buy", "ACME  buy       3 @   101.25")]
    assert m.take_tape_added() == (1, 0) and m.take_tape_added() == (0, 0)
    m.note("security", "login failed: bob from 203.0.113.9:1")
    assert [e.text for e in m.events] == ["login failed: bob from 203.0.113.9:1"]  # the trade is not an event
    assert m.take_tape_added() == (1, 1) and len(m.tape) == 2


def test_formats() -> None:
    assert price(10125) == "101.25" and price(None) == "-" and price(5) == "0.05"
    assert dollars(150_025) == "$1,500.25" and dollars(-5) == "-$0.05"
    assert parse_dollars("1,500.25") == 150_025 and parse_dollars("$3") == 300 and parse_dollars("0") == 0
    assert parse_dollars("0.5") == 50
    for bad, why in (("12.345", "more than 2 decimals"), ("abc", "not an amount of dollars"),
                     ("-5", "negative"), (".", "not an amount of dollars"), ("", "enter an amount")):
        with pytest.raises(ValueError, match=why):
            parse_dollars(bad)
    assert rate(812.0) == "812" and rate(12_345.0) == "12.3k" and rate(0.4) == "0.4"
    assert duration(65) == "01:05" and duration(3605) == "01:00:05" and duration(90061) == "1d 01:01:01"


def test_parse_shares() -> None:
    assert parse_shares("acme=100, BOLT: 5") == {"ACME": 100, "BOLT": 5}
    assert parse_shares("") == {}
    with pytest.raises(ValueError, match="SYMBOL=QTY"):
        parse_shares("ACME 100")


def test_password_answers_and_checks() -> None:
    assert describe_reply(UserPasswdReply(id=1, username="fred", sessions_closed=1)) == \
        "Password of fred changed; 1 session closed."
    assert describe_reply(UserPasswdReply(id=1, username="fred", sessions_closed=0)) == \
        "Password of fred changed; 0 sessions closed."
    assert describe_reply(UserDisableReply(id=1, username="bob", sessions_closed=2)) == \
        "User bob disabled; 2 sessions closed."
    assert check_password(" x" * 36) == " x" * 36  # 72 bytes, spaces kept
    with pytest.raises(ValueError, match="at most 72"):
        check_password("€" * 25)  # 75 bytes
    with pytest.raises(ValueError, match="Give a password"):
        check_password("")


def test_sparklines() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, None], 5) == "  ▁▁ "
    rows = chart_rows([0, 8, 16], 4, 2)
    assert all(len(r) == 4 for r in rows)
    assert rows[1][-1] == "█" and rows[0][-1] == "█" and rows[0][-2] == " "


def test_config_from_home(tmp_path: Path) -> None:
    (tmp_path / "server.json").write_text(
        '{"pid": 1, "url": "wss://127.0.0.1:9/ws", "host": "127.0.0.1", "port": 9, "tls": true, '
        '"started_ts": 0, "ca": null}')
    (tmp_path / "admin-password").write_text("pw\n")
    c = resolve(tmp_path, env={})
    assert (c.url, c.user, c.password, c.complete) == ("wss://127.0.0.1:9/ws", "admin", "pw", True)
    assert c.password_from_home  # read again before each reconnect (exch user passwd admin rewrites it)
    other = resolve(tmp_path, url="wss://elsewhere:8443/ws", env={})
    assert other.password is None and not other.complete  # the local password is not sent elsewhere
    env = resolve(tmp_path, url="wss://elsewhere:8443/ws", env={"EXCH_ADMIN_PASSWORD": "x"})
    assert env.password == "x" and not env.password_from_home
    with pytest.raises(ValueError, match="no CA file"):
        resolve(tmp_path, cafile=tmp_path / "missing.pem", env={})


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from exchange.cli import app

    result = CliRunner().invoke(app, ["console", "--home", str(tmp_path), "--cafile", str(tmp_path / "ca.pem")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"exch: error: no CA file at {tmp_path / 'ca.pem'}"]
