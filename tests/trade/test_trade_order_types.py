"""Stop-limit, iceberg and good-till-date orders typed into ``exch trade`` against a real exchange.

The app runs under Textual's Pilot; the server is the in-process one of
tests/gateway (real TLS on 127.0.0.1); other traders are ``client.Session``s.
"""

from __future__ import annotations

import datetime as dt

from textual.widgets import Input

from client import format as fmt
from client.trade.screens import TradeScreen
from client.trade.widgets import Ladder, OpenOrders, OrderEntry
from tests.trade.conftest import Exchange, until
from tests.trade.test_trade_live import SIZE, ladder_line, log_in, make_app


def open_order_rows(screen: TradeScreen) -> list[str]:
    table = screen.query_one(OpenOrders)
    return [" ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]


def ladder_row(screen: TradeScreen, price: str) -> str:
    """The ladder's row of ``price``, or "" while there is none."""
    try:
        return ladder_line(screen.query_one(Ladder), price)
    except AssertionError:
        return ""


async def fill_in(pilot, screen: TradeScreen, key: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Press the field's key (its text is selected, so typing replaces it) and type ``text``."""
    await pilot.press(key, *text)
    await pilot.pause(0.05)


async def test_a_stop_limit_waits_unseen_then_triggers_on_a_trade_and_fills(exchange: Exchange) -> None:
    seller = await exchange.trader(shares={"ACME": 100})
    await seller.order("ACME", "sell", 5, price=10100)  # the offer the triggered buy will take
    name, password = await exchange.add_user(cash=10_000_000)
    app = make_app(exchange, name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        model, entry = app.model, screen.query_one(OrderEntry)
        await fill_in(pilot, screen, "g", "101.00")  # g on a limit order makes it a stop-limit
        assert entry.order_type == "stop_limit" and screen.query_one("#stop", Input).value == "101.00"
        await fill_in(pilot, screen, "e", "101.50")
        await fill_in(pilot, screen, "q", "5")
        await pilot.press("b")
        await until(pilot, lambda: len(model.orders) == 1, what="the stop-limit acknowledged")
        (order,) = model.orders.values()
        assert (order.status, order.stop_price, order.price, order.triggered) == ("pending", 10100, 10150, False)
        assert "when 101.00 trades" in entry.message and "pending" in entry.message, entry.message
        await until(pilot, lambda: any("STP≥101.00 @101.50" in r and "waiting" in r for r in open_order_rows(screen)),
                    what="the waiting stop in the open orders")
        assert ladder_row(screen, "101.50") == ""  # a waiting stop is not on the public book

        buyer = await exchange.trader(cash=1_000_000)
        await buyer.order("ACME", "buy", 1, price=10100)  # a trade prints at 101.00: the stop triggers
        await until(pilot, lambda: model.triggered, what="the triggered push")
        await until(pilot, lambda: order.order_id not in model.orders or model.orders[order.order_id].triggered,
                    what="the order entered the market")
        await until(pilot, lambda: any(f.order_id == order.order_id for f in model.fills), what="its fill")
        fill = next(f for f in model.fills if f.order_id == order.order_id)
        assert (fill.price, fill.qty) == (10100, 4)  # the 4 left of the offer, at the offer's price
        await until(pilot, lambda: any("@101.50" in r and "STP" not in r for r in open_order_rows(screen)),
                    what="the rest resting as a limit")


async def test_an_iceberg_shows_its_slice_and_a_gtd_order_shows_its_expiry(exchange: Exchange) -> None:
    name, password = await exchange.add_user(cash=10_000_000)
    app = make_app(exchange, name)
    async with app.run_test(size=SIZE) as pilot:
        screen = await log_in(pilot, app, password)
        model, entry = app.model, screen.query_one(OrderEntry)
        await fill_in(pilot, screen, "e", "99.00")
        await fill_in(pilot, screen, "q", "10")
        await fill_in(pilot, screen, "d", "2")
        await pilot.press("b")
        await until(pilot, lambda: len(model.orders) == 1, what="the iceberg acknowledged")
        assert "showing 2" in entry.message, entry.message
        # size and cumulative size 2, one order of 2 in the queue: the 8 behind it are not on the book
        await until(pilot, lambda: ladder_row(screen, "99.00").split("│")[0].split()[-2:] == ["2", "2"],
                    what="a slice of 2 at 99.00")
        assert ladder_row(screen, "99.00").split("│")[1].split() == ["2"]
        assert any("show 2" in r for r in open_order_rows(screen))

        expiry = (dt.datetime.now() + dt.timedelta(hours=2)).replace(second=0, microsecond=0)
        until_text = expiry.strftime("%Y-%m-%d %H:%M")
        await fill_in(pilot, screen, "d", "")  # no iceberg this time: the shown field emptied
        screen.query_one("#show", Input).value = ""
        await fill_in(pilot, screen, "u", until_text)  # u makes the order GTD
        assert entry.tif == "gtd"
        await fill_in(pilot, screen, "e", "98.00")
        await pilot.press("b")
        await until(pilot, lambda: len(model.orders) == 2, what="the GTD order acknowledged")
        gtd = next(o for o in model.orders.values() if o.price == 9800)
        assert gtd.tif == "gtd" and gtd.expire_ts is not None
        assert gtd.expire_ts == int(expiry.timestamp()) * 10**9  # local time, to the minute typed
        await until(pilot, lambda: any(f"till {fmt.until(gtd.expire_ts or 0)}" in r for r in open_order_rows(screen)),
                    what="the expiry in the open orders")
        link = app.link
        assert link is not None
        served = {o.order_id: o for o in (await link.session.orders()).orders}
        assert served[gtd.order_id].expire_ts == gtd.expire_ts and served[gtd.order_id].display_qty is None
        iceberg = next(o for o in served.values() if o.price == 9900)
        assert (iceberg.display_qty, iceberg.remaining) == (2, 10)
