"""Issue #13, the trader's side: each test drives the real app against a real exchange (in-process
server, real TLS), the way the user who reported it did."""

from __future__ import annotations

import re

from textual.widgets import DataTable, Input

from client.trade.screens import TradeScreen
from client.trade.widgets import BalanceBar, FillsPanel, Ladder, OrderEntry, SymbolHeader
from tests.trade.conftest import Exchange, until
from tests.trade.test_trade_live import SIZE, log_in, make_app, type_ticket


def header_text(screen: TradeScreen) -> str:
    return str(screen.query_one(SymbolHeader).render())


async def test_halt_and_resume_show_live_on_every_symbol(exchange: Exchange) -> None:
    """A halt or resume after login shows at once, on the shown symbol and on the others (#13.1)."""
    name, password = await exchange.add_user(cash=1_000_000)
    admin = await exchange.admin()
    await admin.halt("ACME")  # halted before login, resumed after
    app = make_app(exchange, name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        model, entry = app.model, screen.query_one(OrderEntry)
        await until(pilot, lambda: "HALTED" in header_text(screen), what="HALTED in the header")

        await admin.resume("ACME")
        await until(pilot, lambda: "HALTED" not in header_text(screen), what="the resume in the header")
        await type_ticket(pilot, "10.00", "1")
        await pilot.press("b")
        await until(pilot, lambda: len(model.orders) == 1, what="an order accepted after the resume")

        await admin.halt("BOLT")  # not the shown symbol
        await until(pilot, lambda: model.symbols["BOLT"].status == "halted", what="BOLT's halt")
        screen.switch_to("BOLT")
        await until(pilot, lambda: model.symbol == "BOLT" and model.synced, what="BOLT shown")
        await until(pilot, lambda: "HALTED" in header_text(screen), what="BOLT HALTED in the header")
        await type_ticket(pilot, "10.00", "1")
        await pilot.press("b")
        assert "halted" in entry.message, entry.message


async def trade_at(exchange: Exchange, symbol: str, price: int) -> None:
    """Two other traders trade one share of ``symbol`` at ``price`` (its last trade)."""
    seller = await exchange.trader(shares={symbol: 10})
    buyer = await exchange.trader(cash=10_000_000)
    await buyer.order(symbol, "buy", 1, price=price)
    await seller.order(symbol, "sell", 1, price=price)


async def test_switch_takes_the_new_price_and_far_prices_ask_first(exchange: Exchange) -> None:
    """After BOLT at 45.01, CHIP (~25) gets CHIP's price; 45.01 on CHIP asks first (#13.2)."""
    await trade_at(exchange, "BOLT", 4501)
    await trade_at(exchange, "CHIP", 2500)
    name, password = await exchange.add_user(cash=1_000_000, shares={"CHIP": 10})
    app = make_app(exchange, name, symbol="BOLT")
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        model, entry = app.model, screen.query_one(OrderEntry)
        price = screen.query_one("#price", Input)
        assert price.value == "45.01" and screen.query_one("#qty", Input).value == "1"

        screen.switch_to("CHIP")
        await until(pilot, lambda: model.symbol == "CHIP" and model.synced, what="CHIP shown")
        await until(pilot, lambda: price.value == "25.00", what="CHIP's price in the form")
        await pilot.press("s")
        await until(pilot, lambda: len(model.orders) == 1, what="the CHIP sell")
        (order,) = model.orders.values()
        assert (order.symbol, order.side, order.price) == ("CHIP", "sell", 2500)

        price.value = "45.01"
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmOrder", what="the confirmation")
        assert "80% above the last trade 25.00" in entry.message, entry.message
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, what="back without sending")
        assert "not sent" in entry.message and len(model.orders) == 1
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmOrder", what="the confirmation again")
        await pilot.press("y")
        await until(pilot, lambda: len(model.orders) == 2, what="the confirmed order")
        assert sorted(o.price for o in model.orders.values()) == [2500, 4501]


async def test_order_entry_keyboard_flow(exchange: Exchange) -> None:
    """e/q reach the fields, Tab stays in the form, a send selects the text, errors clear, market hides price
    and TIF (#13.4)."""
    name, password = await exchange.add_user(cash=1_000_000)
    app = make_app(exchange, name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        model, entry = app.model, screen.query_one(OrderEntry)
        price, qty = screen.query_one("#price", Input), screen.query_one("#qty", Input)
        assert price.value != "0.00" and qty.value == "1"  # nothing traded yet: empty price, one lot
        footer = " ".join(b.binding.description for b in screen.active_bindings.values() if b.binding.show)
        assert "Price" in footer and "Qty" in footer, footer

        await pilot.press("e", *"10.00")
        assert screen.focused is price and price.value == "10.00"
        await pilot.press("tab")
        assert screen.focused is qty
        await pilot.press(*"3", "tab")
        assert screen.focused is screen.query_one("#show", Input) and qty.value == "3"  # the iceberg's shown part
        await pilot.press("tab")
        assert screen.focused is price

        await pilot.press("b")
        await until(pilot, lambda: len(model.orders) == 1, what="the buy")
        await pilot.press(*"11.00")
        assert price.value == "11.00", price.value  # replaced, not appended

        await pilot.press("e", *"11.005", "b")
        assert "more than 2 decimals" in entry.message
        await pilot.press("backspace")
        assert "decimals" not in entry.message and not entry.has_class("-error")

        await pilot.press("t")
        await pilot.pause(0.05)
        kind = str(screen.query_one("#entry-kind").render())
        assert price.value == "" and price.disabled and "GTC" not in kind and "market" in kind, kind
        await pilot.press("t", "t", "t")  # stop, stop-limit, back to limit
        await pilot.pause(0.05)
        assert price.value == "11.00" and not price.disabled
        await pilot.press("escape")
        assert screen.focused is screen.query_one("#ladder")


async def test_ladder_cursor_stays_on_its_price(exchange: Exchange) -> None:
    """The level under the cursor empties: the cursor keeps its price and Enter takes it (#13.3)."""
    other = await exchange.trader(cash=10_000_000)
    top = await other.order("ACME", "buy", 5, price=10000)
    await other.order("ACME", "buy", 5, price=9900)
    name, password = await exchange.add_user(cash=1_000_000)
    app = make_app(exchange, name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        ladder = screen.query_one(Ladder)
        ladder.focus()
        await pilot.press("down")  # onto the best bid
        assert ladder.cursor == ("buy", 10000)
        await other.cancel(top.order_id)
        await until(pilot, lambda: app.model.book is not None and app.model.book.best_bid() is not None
                    and app.model.book.best_bid()[0] == 9900, what="the 100.00 level gone")  # type: ignore[index]
        await pilot.pause(0.2)
        assert ladder.cursor == ("buy", 10000)
        row = next(line for line in ladder.row_text() if line.startswith("▸"))
        assert "100.00" in row and re.search(r" - +│", row), row  # an empty level: no size
        await pilot.press("enter")
        await pilot.pause(0.05)
        assert screen.query_one("#price", Input).value == "100.00"


async def test_history_and_pnl_survive_a_restart(exchange: Exchange) -> None:
    """Fills made before the app started show in the fills panel and the history screen, with position,
    average price, realised and unrealised P&L; the ladder has a cumulative size column (#13.5)."""
    name, password = await exchange.add_user(cash=1_000_000)
    me = await exchange.connect()
    await me.login(name, password)
    seller = await exchange.trader(shares={"ACME": 10})
    buyer = await exchange.trader(cash=1_000_000)
    await seller.order("ACME", "sell", 10, price=5000)
    bought = await me.order("ACME", "buy", 10, price=5000)  # +10 @ 50.00
    await buyer.order("ACME", "buy", 4, price=6000)
    sold = await me.order("ACME", "sell", 4, price=6000)  # -4 @ 60.00: realised +$40, last trade 60.00
    await buyer.order("ACME", "buy", 2, price=4000)
    await buyer.order("ACME", "buy", 3, price=3900)
    await me.close()

    app = make_app(exchange, name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        await until(pilot, lambda: len(app.model.fills) == 2, what="the earlier fills")
        await pilot.pause(0.2)
        fills_text = str(screen.query_one(FillsPanel).render())
        assert f"#{bought.order_id}" in fills_text and f"#{sold.order_id}" in fills_text, fills_text
        assert "P&L +$100.00" in str(screen.query_one(BalanceBar).render())  # +40 realised, +60 unrealised
        ladder = screen.query_one(Ladder)
        assert "CUM" in ladder.row_text()[0]
        assert [(lv.price, lv.total, lv.cum) for lv in ladder.bids] == [(4000, 2, 2), (3900, 3, 5)]

        await pilot.press("h")
        await until(pilot, lambda: type(app.screen).__name__ == "HistoryScreen", what="the history screen")
        await pilot.pause(0.3)
        history = app.screen
        positions = history.query_one("#positions", DataTable)
        row = [str(cell) for cell in positions.get_row_at(0)]
        assert row == ["ACME", "6", "+6", "50.00", "60.00", "+$40.00", "+$60.00"], row
        finished = history.query_one("#finished", DataTable)
        assert sorted(str(finished.get_row_at(i)[1]) for i in range(finished.row_count)) == sorted(
            [f"#{bought.order_id}", f"#{sold.order_id}"])
        assert history.query_one("#history-fills", DataTable).row_count == 2
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, what="back to trading")
