"""Issue #13, the trader's side: each test drives the real app against a real exchange (in-process
server, real TLS), the way the user who reported it did."""

from __future__ import annotations

from client.trade.screens import TradeScreen
from client.trade.widgets import OrderEntry, SymbolHeader
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
