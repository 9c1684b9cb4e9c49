"""The trading client's ticket checks for stop, stop-limit, good-till-date and iceberg orders (no server).

What a trader types is checked before anything is sent, with the field to fix;
the server checks again (tests/gateway covers its refusals).
"""

from __future__ import annotations

import datetime as dt

import pytest

from client import format as fmt
from client.trade.validate import OrderTicket, TicketError, check_ticket, collar_breach, describe_ticket
from exchange.types import OrderType, TimeInForce

NOW = dt.datetime(2026, 12, 3, 14, 0, 0).astimezone()


def ticket(type: OrderType = "limit", tif: TimeInForce = "gtc", *, price: str = "100.00", qty: str = "10",
           stop: str = "", until: str = "", show: str = "", post_only: bool = False) -> OrderTicket:
    return check_ticket(symbol="ACME", side="buy", price_text=price, qty_text=qty, type=type, tif=tif,
                        post_only=post_only, tick=1, lot=1, stop_text=stop, until_text=until, show_text=show,
                        now=NOW)


def refused(field: str, **kwargs: object) -> str:
    with pytest.raises(TicketError) as caught:
        ticket(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    return str(caught.value)


def test_a_stop_order_has_a_trigger_and_no_price() -> None:
    t = ticket("stop", "ioc", price="", stop="101.50")
    assert (t.type, t.price, t.stop_price, t.tif) == ("stop", None, 10150, "ioc")
    assert describe_ticket(t) == "buy 10 ACME at market when 101.50 trades IOC"
    assert "enter" in refused("stop", type="stop", tif="ioc", stop="")


def test_a_stop_limit_order_has_both_prices_and_its_collar_is_its_trigger() -> None:
    t = ticket("stop_limit", price="102.00", stop="101.50")
    assert (t.price, t.stop_price) == (10200, 10150)
    assert describe_ticket(t) == "buy 10 ACME @ 102.00 when 101.50 trades"
    # far from the market is what a stop is for: the limit is compared with the trigger, not the last trade
    assert collar_breach(t, reference=5000, collar=0.1) is None
    far = ticket("stop_limit", price="150.00", stop="101.50")
    assert collar_breach(far, reference=10150, collar=0.1) == pytest.approx((15000 - 10150) / 10150)
    with pytest.raises(TicketError) as caught:
        check_ticket(symbol="ACME", side="sell", price_text="", qty_text="1", type="stop", tif="ioc", tick=5,
                     lot=1, stop_text="101.52", now=NOW)
    assert caught.value.field == "stop" and "not a multiple of the tick 0.05" in str(caught.value)


def test_good_till_date_reads_a_local_time_today_or_a_date() -> None:
    t = ticket("limit", "gtd", until="15:30")
    assert t.expire_ts == int(NOW.replace(hour=15, minute=30).timestamp()) * 1_000_000_000
    later = ticket("stop_limit", "gtd", stop="101.00", until="2026-12-24 09:15")
    assert later.expire_ts == int(NOW.replace(month=12, day=24, hour=9, minute=15).timestamp()) * 10**9
    assert describe_ticket(later).endswith(", until 2026-12-24 09:15")
    assert "has passed" in refused("until", tif="gtd", until="13:59")
    assert "not a time" in refused("until", tif="gtd", until="25:99")
    assert "enter an expiry" in refused("until", tif="gtd", until=" ")
    assert "limit or stop-limit" in refused("type", type="market", tif="gtd", until="15:30")


def test_an_iceberg_shows_part_of_a_resting_limit_order() -> None:
    t = ticket(show="2")
    assert t.display_qty == 2 and describe_ticket(t) == "buy 10 ACME @ 100.00, showing 2"
    assert ticket(show="").display_qty is None  # empty shows all of it
    assert "less than the whole" in refused("show", show="10")
    assert "resting" in refused("show", tif="ioc", show="2")
    with pytest.raises(TicketError) as caught:
        check_ticket(symbol="ACME", side="buy", price_text="1", qty_text="100", lot=10, show_text="15", now=NOW)
    assert caught.value.field == "show" and "lot 10" in str(caught.value)


def test_post_only_goes_with_resting_limit_orders_only() -> None:
    assert ticket(tif="gtd", until="15:00", post_only=True).post_only
    assert "post-only" in refused("type", type="stop_limit", stop="99.00", post_only=True)


def test_an_expiry_reads_as_a_clock_time_today_and_with_its_date_otherwise() -> None:
    today = dt.datetime.now().astimezone().replace(hour=23, minute=59, second=0, microsecond=0)
    assert fmt.until(int(today.timestamp()) * 10**9) == "23:59"
    assert fmt.until(int(dt.datetime(2030, 1, 2, 3, 4).timestamp()) * 10**9) == "2030-01-02 03:04"
