"""The trading client against a real exchange (in-process server, real TLS): no mocks.

A person's path through the app: log in on the login screen, place a resting
order and find it in the ladder behind an earlier order, cancel it, get filled
by another trader and see the fill, the tape and the new balance, have an
order refused with the server's reason; switch symbols; survive a sequence gap
and a server restart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input

from client import Session
from client.trade import TradeApp, TradeSettings
from client.trade.format import TIMES
from client.trade.screens import LoginScreen, SymbolSwitcher, TradeScreen
from client.trade.widgets import BalanceBar, FillsPanel, Ladder, OpenOrders, OrderEntry, TradeTape
from exchange.protocol import L3Message
from tests.trade.conftest import Exchange, until

SIZE = (120, 34)


def make_app(ex: Exchange, user: str, **settings: object) -> TradeApp:
    """The app as ``exch trade --url URL --home HOME --user USER`` starts it."""
    fields: dict[str, object] = {"home": ex.home, "url": ex.url, "user": user, "symbol": "ACME"}
    fields.update(settings)
    return TradeApp(TradeSettings(**fields))  # type: ignore[arg-type]


async def log_in(pilot, app: TradeApp, password: str) -> TradeScreen:  # type: ignore[no-untyped-def]
    """Type the password on the login screen and wait for the synced trading screen."""
    assert isinstance(app.screen, LoginScreen)
    await pilot.press(*password, "enter")
    await until(pilot, lambda: isinstance(app.screen, TradeScreen) and app.model.synced and app.model.balance,
                what="the trading screen")
    await pilot.pause(0.1)
    assert isinstance(app.screen, TradeScreen)
    return app.screen


async def type_ticket(pilot, price: str, qty: str) -> None:  # type: ignore[no-untyped-def]
    """Type price and quantity into the order entry."""
    screen = pilot.app.screen
    for field, value in (("#price", price), ("#qty", qty)):
        widget = screen.query_one(field, Input)
        widget.focus()
        widget.value = ""
        await pilot.press(*value)


def ladder_line(ladder: Ladder, price: str) -> str:
    """The rendered ladder row of ``price``."""
    rows = [line for line in ladder.row_text() if f" {price} " in line or f" {price}◂" in line]
    assert rows, f"{price} not in the ladder:\n" + "\n".join(ladder.row_text())
    return rows[0]


async def test_login_rest_queue_cancel_fill_reject(exchange: Exchange) -> None:
    name, password = await exchange.add_user(cash=1_000_000, shares={"ACME": 100})
    other: Session = await exchange.trader(cash=10_000_000, shares={"ACME": 1000})
    first = await other.order("ACME", "buy", 7, price=10000)  # ahead of ours in the queue
    app = make_app(exchange, name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        model = app.model
        ladder = screen.query_one(Ladder)
        entry = screen.query_one(OrderEntry)
        assert model.user == name and model.symbol == "ACME"

        # a resting buy of 5 @ 100.00, behind the other trader's 7
        await type_ticket(pilot, "100.00", "5")
        await pilot.press("b")
        await until(pilot, lambda: len(model.orders) == 1, what="the ack")
        (mine,) = model.orders
        await until(pilot, lambda: model.queue_position(mine) == (1, 7), what="our order in the local book")
        await until(pilot, lambda: any(lv.price == 10000 and lv.mine == 5 for lv in ladder.bids), what="ladder")
        level = next(lv for lv in ladder.bids if lv.price == 10000)
        assert level.queue == ((first.order_id, 7), (mine, 5)) and level.total == 12
        row = ladder_line(ladder, "100.00")
        assert "●" in row and "12 │ 7 5" in row, row
        assert "✓" in entry.message and "open" in entry.message
        orders = screen.query_one(OpenOrders)
        await until(pilot, lambda: orders.get_cell(str(mine), "queue") == "#2 (7)", what="queue column")

        # cancel it (the open-orders cursor row)
        await pilot.press("c")
        await until(pilot, lambda: not model.orders, what="the cancel")
        await until(pilot, lambda: all(lv.mine == 0 for lv in ladder.bids) and "12 │" not in ladder_line(
            ladder, "100.00"), what="the ladder without our order")
        assert "canceled" in entry.message

        # rest again, then a seller trades 7 (the other's) + 5 (ours)
        await type_ticket(pilot, "100.00", "5")
        await pilot.press("b")
        await until(pilot, lambda: len(model.orders) == 1, what="the second ack")
        seller = await exchange.trader(shares={"ACME": 100})
        await seller.order("ACME", "sell", 12, type="market")
        await until(pilot, lambda: len(model.fills) == 1 and not model.orders, what="our fill")
        fill = model.fills[-1]
        assert (fill.price, fill.qty, fill.liquidity) == (10000, 5, "maker")
        await until(pilot, lambda: model.balance is not None and model.balance.positions["ACME"].qty == 105,
                    what="the new balance")
        assert model.balance is not None and model.balance.cash == 1_000_000 - 5 * 10000
        assert model.balance.cash_held == 0
        await pilot.pause(0.2)
        fills_text = str(screen.query_one(FillsPanel).render())
        assert f"B 5 ACME @100.00 M #{fill.order_id}" in fills_text, fills_text
        tape_text = str(screen.query_one(TradeTape).render())
        assert "100.00" in tape_text and "▼" in tape_text, tape_text
        assert any(f"last 100.00{TIMES}5 ▼" in line for line in ladder.row_text()), ladder.row_text()
        balance_text = str(screen.query_one(BalanceBar).render())
        assert "Cash $9,500.00" in balance_text and "ACME 105" in balance_text, balance_text

        # refused by the server: not enough cash; the reason is shown
        await type_ticket(pilot, "100.00", "1000")
        await pilot.press("b")
        await until(pilot, lambda: "refused" in entry.message, what="the refusal")
        assert "insufficient_funds" in entry.message and "available" in entry.message, entry.message
        assert not model.orders

        # refused before sending: more than two decimals
        await type_ticket(pilot, "100.005", "1")
        await pilot.press("s")
        assert "more than 2 decimals" in entry.message
        assert screen.focused is screen.query_one("#price")


async def test_switch_symbol_checks_tick_and_lot(exchange: Exchange) -> None:
    admin = await exchange.admin()
    await admin.symbol_add("ZED", tick=5, lot=10)
    name, password = await exchange.add_user(cash=1_000_000)
    app = make_app(exchange, name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(app.screen, SymbolSwitcher), what="the switcher")
        await pilot.press("Z", "E", "D", "enter")
        await until(pilot, lambda: app.model.symbol == "ZED" and app.model.synced and app.model.book is not None
                    and app.model.book.symbol == "ZED", what="ZED shown")
        entry = screen.query_one(OrderEntry)
        await type_ticket(pilot, "1.00", "15")
        await pilot.press("b")
        assert "not a multiple of the lot 10" in entry.message
        await type_ticket(pilot, "1.02", "10")
        await pilot.press("b")
        assert "not a multiple of the tick 0.05" in entry.message
        await type_ticket(pilot, "1.05", "10")
        await pilot.press("b")
        await until(pilot, lambda: len(app.model.orders) == 1, what="the ZED order")
        await until(pilot, lambda: any(lv.price == 105 for lv in screen.query_one(Ladder).bids), what="ZED ladder")


async def test_login_errors_are_explained(exchange: Exchange, tmp_path: Path) -> None:
    name, _ = await exchange.add_user()
    app = make_app(exchange, name, home=tmp_path / "elsewhere")  # no CA here: the certificate is untrusted
    async with app.run_test(size=SIZE) as pilot:
        login = app.screen
        assert isinstance(login, LoginScreen)
        await pilot.press(*"nope", "enter")
        await until(pilot, lambda: login.error, what="the certificate error")
        assert "Untrusted certificate" in login.error and "--cafile" in login.error, login.error

        app.settings.cafile = exchange.home / "tls" / "ca.pem"
        await pilot.press("enter")
        await until(pilot, lambda: "Wrong username or password" in login.error, what="auth_failed")

        login.query_one("#url", Input).value = "wss://127.0.0.1:1/ws"
        await pilot.press("enter")
        await until(pilot, lambda: "cannot reach" in login.error, what="unreachable")
        assert "exch serve" in login.error
        assert isinstance(app.screen, LoginScreen)


async def test_gap_resyncs_and_restart_reconnects(make_exchange, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ex: Exchange = make_exchange()
    name, password = await ex.add_user(cash=1_000_000)
    app = make_app(ex, name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        model = app.model
        await type_ticket(pilot, "99.00", "3")
        await pilot.press("b")
        await until(pilot, lambda: len(model.orders) == 1, what="the ack")
        (mine,) = model.orders

        # a message from the future: the keeper sees a gap and resubscribes
        assert app.link is not None and app.link.keeper is not None and model.book is not None
        app.link.keeper.handle(L3Message(symbol="ACME", seq=model.book.seq + 5, event="done", order_id=1))
        assert not model.synced
        await until(pilot, lambda: model.resyncs == 1 and model.synced, what="the resync")
        await until(pilot, lambda: "RESYNCING" not in screen.query_one(Ladder).row_text()[0], what="ladder synced")
        assert model.queue_position(mine) == (0, 0)

        # the server shuts down cleanly and comes back on the same port
        await ex.close_sessions()
        await asyncio.to_thread(ex.server.stop)
        await until(pilot, lambda: model.shutdown is not None and model.link[0] in ("down", "connecting"),
                    what="the shutdown notice")
        await pilot.pause(0.1)
        assert "shutting down" in screen.query_one("#linkbar").notice  # type: ignore[attr-defined]
        make_exchange(home=ex.home, port=ex.port)
        await until(pilot, lambda: model.connects == 2 and model.link[0] == "up" and model.synced, timeout=20,
                    what="the reconnect")
        await until(pilot, lambda: mine in model.orders and model.queue_position(mine) == (0, 0),
                    what="orders and book after the reconnect")
