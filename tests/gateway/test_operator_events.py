"""Operator events in ``stats``: who failed to log in from where, who changed what, who was dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from client import ExchError, Session
from exchange.protocol import OperatorEvent, StatsMessage

from .conftest import Exchange, Pushes, ca_context


def events(pushes: Pushes) -> list[OperatorEvent]:
    """Every operator event the session got, in order."""
    return [e for m in pushes.of(StatsMessage) for e in m.events]


async def until_event(pushes: Pushes, text: str) -> OperatorEvent:
    """Wait for the event whose text contains ``text``."""
    await pushes.wait_until(lambda _: any(text in e.text for e in events(pushes)))
    return next(e for e in events(pushes) if text in e.text)


async def watching_admin(exchange: Exchange) -> tuple[Session, Pushes]:
    admin = await exchange.admin()
    pushes = Pushes(admin)
    await admin.subscribe("stats")
    await pushes.wait(StatsMessage)
    return admin, pushes


async def test_failed_logins_are_events_with_user_and_address(exchange: Exchange) -> None:
    _, pushes = await watching_admin(exchange)
    intruder = await exchange.connect()
    with pytest.raises(ExchError):
        await intruder.login("admin", "not-the-password")
    sessions = (await (await exchange.admin()).sessions()).sessions
    address = next(s.address for s in sessions if s.user is None)
    failed = await until_event(pushes, "login failed: admin")
    assert failed.kind == "security" and failed.text == f"login failed: admin from {address}"
    assert failed.seq >= 1 and failed.ts > 0
    # the stats message counts them too (the console's "Failed logins")
    with_count = [m for m in pushes.of(StatsMessage) if any(e.seq == failed.seq for e in m.events)]
    assert with_count and with_count[0].logins_failed == 1


async def test_admin_actions_name_the_admin_and_only_accepted_ones_count(exchange: Exchange) -> None:
    admin, pushes = await watching_admin(exchange)
    await admin.user_add("ev-carol", "pw-carol-1", cash=123_456, positions={"ACME": 5})
    await admin.deposit("ev-carol", symbol="BOLT", qty=7)
    await admin.halt("ACME")
    with pytest.raises(ExchError):
        await admin.halt("NOPE")  # refused: no event
    await admin.resume("ACME")
    with pytest.raises(ExchError):
        await admin.user_passwd("ev-nobody", "pw")  # refused: no event
    await admin.user_passwd("ev-carol", "pw-carol-2")
    await admin.user_disable("ev-carol")
    await until_event(pushes, "disabled user ev-carol")
    texts = [(e.kind, e.text) for e in events(pushes)]
    assert texts == [
        ("user", "admin added user ev-carol (trader) with cash $1,234.56 and 5 ACME"),
        ("user", "admin gave ev-carol 7 BOLT"),
        ("admin", "admin halted ACME"),
        ("admin", "admin resumed ACME"),
        ("security", "admin changed the password of ev-carol (0 sessions closed)"),
        ("security", "admin disabled user ev-carol (0 sessions closed)"),
    ]
    seqs = [e.seq for e in events(pushes)]
    assert seqs == sorted(set(seqs))  # each once, in order


async def test_a_late_subscriber_gets_the_history_once(exchange: Exchange) -> None:
    admin = await exchange.admin()
    await admin.halt("BOLT")
    await admin.resume("BOLT")
    late = await exchange.connect()
    await late.login("admin", exchange.admin_password)
    pushes = Pushes(late)
    await late.subscribe("stats")
    first, *rest = await pushes.wait(StatsMessage, 3)
    assert [e.text for e in first.events][-2:] == ["admin halted BOLT", "admin resumed BOLT"]
    assert all(not m.events for m in rest)  # said once
    await admin.halt("BOLT")
    await pushes.wait_until(lambda _: [e.text for e in events(pushes)].count("admin halted BOLT") == 2)
    assert [e.text for e in events(pushes)][-3:] == ["admin halted BOLT", "admin resumed BOLT", "admin halted BOLT"]


async def test_a_frame_over_the_limit_is_an_event_naming_the_session(exchange: Exchange) -> None:
    _, pushes = await watching_admin(exchange)
    async with ws_connect(exchange.url, ssl=ca_context(exchange.home), proxy=None, max_size=None) as ws:
        await ws.send(json.dumps({"op": "ping", "id": 1, "pad": "x" * 70_000}))
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    closed = await until_event(pushes, "closed 1009")
    assert closed.kind == "security" and "127.0.0.1:" in closed.text


async def test_traders_cannot_see_operator_events(exchange: Exchange) -> None:
    trader = await exchange.trader(cash=1)
    with pytest.raises(ExchError) as refused:
        await trader.subscribe("stats")
    assert refused.value.code == "forbidden"
    got: list[Any] = []
    trader.on_message(got.append)
    await (await exchange.admin()).halt("CHIP")
    await trader.ping()
    assert not any(isinstance(m, StatsMessage) for m in got)
