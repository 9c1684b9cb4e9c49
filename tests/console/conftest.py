"""Fixtures of the console's tests: real servers (the gateway tests' fixtures) and a fixed model.

``exchange`` / ``make_exchange`` start an in-process server on a thread (see
``tests/gateway/conftest.py``); ``console_config(ex)`` points a console at it
the way ``exch console`` does on the server machine (from its home).
``fixed_model()`` is a model fed fixed messages with a fixed clock and UTC,
for snapshots.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from console.config import ConsoleConfig, resolve
from console.model import ConsoleModel
from exchange.protocol import (
    OperatorEvent,
    SessionInfo,
    ShutdownMessage,
    StatsMessage,
    StatusMessage,
    SymbolStats,
    TradeMessage,
    UserInfo,
)
from tests.gateway.conftest import Exchange, exchange, make_exchange  # noqa: F401  (fixtures)

T0 = 1_795_600_000  # a fixed wall clock (s)
NS = 1_000_000_000


def console_config(ex: Exchange) -> ConsoleConfig:
    """The console's settings for ``ex``, found in its home as on the server machine."""
    return resolve(ex.home, env={})


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> None:
    """Poll ``predicate`` until it holds (fails the test after ``timeout`` s)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(step)


EVENTS = {
    40: [OperatorEvent(seq=1, ts=(T0 + 20) * NS, kind="user",
                       text="admin added user carol (trader) with cash 5,000.00")],
    50: [OperatorEvent(seq=2, ts=(T0 + 25) * NS, kind="security", text="login failed: bob from 203.0.113.9:40112"),
         OperatorEvent(seq=3, ts=(T0 + 25) * NS, kind="security", text="admin disabled user bob (2 sessions closed)")],
}
"""Operator events the fixed model's stats carry, by sample."""


def fixed_model(*, samples: int = 60, halted: str | None = None, shutdown: bool = False) -> ConsoleModel:
    """A model fed fixed stats, trades and events: what the snapshots show."""
    model = ConsoleModel(clock=lambda: float(T0 + samples), tz=dt.UTC)
    mids = {"ACME": 10_000, "BOLT": 2_500, "CHIP": 40_000}
    for i in range(samples):
        ts = (T0 + i // 2) * NS
        symbols = {}
        for n, (name, mid) in enumerate(mids.items()):
            wave = ((i * (n + 3)) % 17) - 8
            symbols[name] = SymbolStats(
                bid=mid - 5 + wave, ask=mid + 5 + wave, last=mid + wave, volume=i * (40 + 10 * n) + (i * i) % 23,
                open_interest=500 + 7 * i + n, orders_resting=40 + (i * (n + 1)) % 13,
                status="halted" if name == halted and i > samples - 5 else "trading",
            )
        model.apply(StatsMessage(
            ts=ts, uptime_s=3605.0 + i / 2, clients=4 + (i > 30),
            sessions_by_user={"admin": 1, "alice": 1, "bob": 1 + (i > 30)},
            memory_rss_bytes=(80 + i // 4) * 1048576, orders_per_s=800.0 + (i * 37) % 200,
            trades_per_s=140.0 + (i * 13) % 40, messages_out_per_s=5000.0 + (i * 101) % 900,
            journal_seq=18_000 + 400 * i, journal_lag_ms=1.8, loop_lag_ms=0.4, symbols=symbols,
            events=EVENTS.get(i, []), logins_failed=5,
        ))
        if i % 3 == 0:
            name = list(mids)[i % 3 if i % 2 else (i // 3) % 3]
            model.apply(TradeMessage(symbol=name, seq=i, trade_id=1000 + i, price=mids[name] + (i % 7),
                                     qty=1 + i % 9, taker_side="buy" if i % 2 else "sell", ts=ts))
    model.set_users([UserInfo(username=u, role="trader", disabled=u == "bob", created_ts=T0 * NS)
                     for u in ("alice", "bob", "carol")])
    model.set_sessions([
        SessionInfo(session_id=1, user="admin", role="admin", address="127.0.0.1:50000",
                    connected_ts=(T0 - 3600) * NS, orders_per_s=0.0, messages_per_s=0.5),
        SessionInfo(session_id=7, user="alice", role="trader", address="10.0.0.7:53412",
                    connected_ts=(T0 - 600) * NS, orders_per_s=412.5, messages_per_s=413.0),
        SessionInfo(session_id=9, user="bob", role="trader", address="10.0.0.9:40112",
                    connected_ts=(T0 - 60) * NS, orders_per_s=12.0, messages_per_s=13.0),
    ])
    if halted:
        model.apply(StatusMessage(symbol=halted, status="halted", tick=1, lot=1))
    if shutdown:
        model.apply(ShutdownMessage(reason="server is shutting down", ts=(T0 + samples) * NS))
    return model
