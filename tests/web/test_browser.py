"""The web client in a real Chromium against ``exch serve`` run as a subprocess.

A trader logs in in the browser and buys from a second trader whose offer was
placed through ``client.Session``; the page shows the fill, the ladder, the
depth chart, the candles, the balance and the tape change. Screenshots land in
``tests/artifacts/web/``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from client import Session
from tests.gateway.conftest import ProcServer, StartProc
from tests.web.conftest import Browser, OpenBrowser


async def _admin(server: ProcServer) -> Session:
    s = await Session.connect(server.url, home=server.home, proxy=None)
    await s.login("admin", server.admin_password)
    return s


async def _trader(server: ProcServer, name: str) -> Session:
    """A logged-in session of ``name`` (password ``NAME-password``), from the Python client."""
    s = await Session.connect(server.url, home=server.home, proxy=None)
    await s.login(name, f"{name}-password")
    return s


async def _page(browser: Browser, server: ProcServer) -> None:
    """Open the page (anonymous) and wait until the ACME book is synced."""
    await asyncio.to_thread(browser.call, "goto", f"https://127.0.0.1:{server.port}/#ACME")
    await browser.until("() => document.querySelector('#book-state').textContent.startsWith('seq')")


def _no_page_errors(browser: Browser) -> None:
    logs: list[dict[str, Any]] = browser.call("logs")
    bad = [entry for entry in logs if entry["kind"] in ("error", "pageerror")]
    assert not bad, f"console errors (CSP violations show here): {bad}"


async def test_log_in_buy_from_another_trader_see_fill_ladder_and_charts(
    proc_server: StartProc, open_browser: OpenBrowser
) -> None:
    server = proc_server()
    admin = await _admin(server)
    await admin.user_add("alice", "alice-password", cash=1_000_000)  # $10,000.00
    await admin.user_add("bob", "bob-password", positions={"ACME": 100})
    bob = await _trader(server, "bob")
    browser = open_browser(server.home)
    try:
        with pytest.raises(AssertionError, match="Timeout"):  # the harness's waits do wait, and can fail
            browser.wait_for("() => false", None, 300)
        await _page(browser, server)
        # Read-only market view without login: an empty book, the order form locked.
        assert browser.text("#o-submit") == "Log in to trade"
        assert "bids 0 levels" in str(browser.call("getAttribute", "#depth", "aria-label"))

        # Bob offers 40 @ 101.25 and 60 @ 101.50 from the Python client: the ladder shows both live.
        await bob.order("ACME", "sell", 40, price=10125)
        far_ask = await bob.order("ACME", "sell", 60, price=10150)
        await browser.until("(n) => document.querySelectorAll('#ladder .row.ask').length === n", 2)
        assert browser.call("getAttribute", "#ladder .row.ask[data-price='10125']", "data-qty") == "40"
        assert "asks 2 levels 100 shares from 101.25" in str(browser.call("getAttribute", "#depth", "aria-label"))
        browser.screenshot("1-market-view")

        # A wrong password gets the server's one refusal; alice then logs in and buys 25 at $101.30
        # (limit, GTC): it trades 25 @ 101.25 with bob.
        browser.call("fill", "#login-user", "alice")
        browser.call("fill", "#login-pass", "not-her-password")
        browser.call("click", "#login-go")
        await browser.until_text("#login-msg", "invalid username or password")
        browser.call("fill", "#login-pass", "alice-password")
        browser.call("click", "#login-go")
        await browser.until("() => !document.querySelector('#who').hidden")
        assert browser.text("#who-name") == "alice"
        await browser.until_text("#balance", "$10,000.00")
        browser.call("fill", "#o-price", "101.30")
        browser.call("fill", "#o-qty", "25")
        await browser.until_text("#o-est", "cost $2,532.50")
        browser.call("click", "#o-submit")
        await browser.until("() => document.querySelectorAll('#fills tr').length === 1")
        fill_row = browser.text("#fills tr")
        assert "101.25" in fill_row and "25" in fill_row and "taker" in fill_row
        assert "filled" in browser.text("#o-msg")

        # The ladder now shows 15 left at 101.25; the depth chart, tape, candles and balance moved.
        await browser.until("() => document.querySelector(\"#ladder .row.ask[data-price='10125']\")"
                            "?.dataset.qty === '15'")
        assert "asks 2 levels 75 shares" in str(browser.call("getAttribute", "#depth", "aria-label"))
        await browser.until("() => document.querySelector('#candles').getAttribute('aria-label')"
                            ".includes('last close 101.25 volume 25')")
        await browser.until_text("#tape", "101.25")
        await browser.until_text("#balance", "$7,468.75")
        assert "25 sh" in browser.text("#balance")
        assert (await bob.balance()).cash == 25 * 10125  # the other side, seen from the Python client

        # A resting bid of alice's shows in the ladder with its queue position, then is replaced and canceled.
        browser.call("fill", "#o-price", "100.00")
        browser.call("fill", "#o-qty", "10")
        browser.call("click", "#o-submit")
        await browser.until("() => document.querySelectorAll('#orders tr[data-order-id]').length === 1")
        await browser.until("() => document.querySelector(\"#ladder .row.bid[data-price='10000'] .mine\")"
                            "?.textContent === '10 #1/1'")
        browser.screenshot("2-after-fill")
        browser.call("click", "#orders tr[data-order-id] button:has-text('Modify')")
        browser.call("fill", "#orders input[aria-label='price']", "99.50")
        # The book moves while the new price is being typed: the rows are rebuilt, the typing is kept.
        await bob.cancel(far_ask.order_id)
        await browser.until("() => !document.querySelector(\"#ladder .row.ask[data-price='10150']\")")
        assert browser.call("evaluate", "() => [document.activeElement.getAttribute('aria-label'), "
                                        "document.activeElement.value]") == ["price", "99.50"]
        browser.call("click", "#orders button:has-text('Save')")
        await browser.until("() => document.querySelector(\"#ladder .row.bid[data-price='9950']\")"
                            "?.classList.contains('own')")
        open_orders = await _orders_of(server, "alice", "alice-password")
        assert [(o.price, o.remaining) for o in open_orders] == [(9950, 10)]
        browser.call("click", "#orders tr[data-order-id] button:has-text('Cancel')")
        await browser.until("() => !document.querySelector('#orders tr[data-order-id]')")
        assert await _orders_of(server, "alice", "alice-password") == []

        # A refused order shows the server's precise error and changes nothing.
        browser.call("fill", "#o-price", "1000.00")
        browser.call("fill", "#o-qty", "1000")
        browser.call("click", "#o-submit")
        await browser.until("() => document.querySelector('#o-msg').textContent.startsWith('insufficient_funds')")
        browser.screenshot("3-refused")
        assert await _orders_of(server, "alice", "alice-password") == []
        assert "$7,468.75" in browser.text("#balance")

        # A reload logs in again with the session's token (no password) and shows the same account.
        browser.call("reload")
        await browser.until("() => !document.querySelector('#who').hidden")
        await browser.until_text("#balance", "$7,468.75")
        assert browser.text("#who-name") == "alice"
        _no_page_errors(browser)
    finally:
        await bob.close()
        await admin.close()


async def _orders_of(server: ProcServer, user: str, password: str) -> list[Any]:
    async with Session.connect(server.url, home=server.home, proxy=None) as s:
        await s.login(user, password)
        return list((await s.orders()).orders)


async def test_a_lost_l3_message_is_a_gap_the_page_resubscribes_and_resyncs(
    proc_server: StartProc, open_browser: OpenBrowser
) -> None:
    """docs/protocol.md "Building a local book": on a gap, resubscribe; the new snapshot is the truth."""
    server = proc_server()
    admin = await _admin(server)
    await admin.user_add("bob", "bob-password", positions={"ACME": 100})
    bob = await _trader(server, "bob")
    browser = open_browser(server.home)
    try:
        browser.call("routeWs")
        await _page(browser, server)
        browser.call("wsFrames")  # forget the start-up frames
        browser.call("dropNext", '"type":"l3"')
        await bob.order("ACME", "sell", 10, price=10200)  # its l3 never reaches the page
        frames = browser.call("wsFrames")
        while not frames["dropped"]:
            await asyncio.sleep(0.05)
            frames = browser.call("wsFrames")
        assert '"price":10200' in frames["dropped"][0]
        assert browser.call("evaluate", "() => document.querySelector(\"#ladder .row[data-price='10200']\")") is None
        await bob.order("ACME", "sell", 20, price=10300)  # seq 2 after 0: a gap
        await browser.until("() => document.querySelector(\"#ladder .row[data-price='10200']\")?.dataset.qty === '10'")
        await browser.until("() => document.querySelector(\"#ladder .row[data-price='10300']\")?.dataset.qty === '20'")
        await browser.until_text("#book-state", "seq 2")
        sent = [json.loads(f) for f in browser.call("wsFrames")["sent"]]
        ops = [(f["op"], f.get("channels"), f.get("symbols")) for f in sent]
        assert ("unsubscribe", ["level3"], ["ACME"]) in ops
        assert ops.index(("subscribe", ["level3"], ["ACME"])) > ops.index(("unsubscribe", ["level3"], ["ACME"]))
        browser.screenshot("resynced")
        _no_page_errors(browser)
    finally:
        await bob.close()
        await admin.close()


async def test_stop_limit_iceberg_and_good_till_date_from_the_order_form(
    proc_server: StartProc, open_browser: OpenBrowser
) -> None:
    server = proc_server()
    admin = await _admin(server)
    await admin.user_add("alice", "alice-password", cash=1_000_000)  # $10,000.00
    await admin.user_add("bob", "bob-password", positions={"ACME": 100})
    await admin.user_add("carol", "carol-password", cash=1_000_000)
    bob, carol = await _trader(server, "bob"), await _trader(server, "carol")
    browser = open_browser(server.home)
    try:
        await bob.order("ACME", "sell", 5, price=10100)
        await _page(browser, server)
        browser.call("fill", "#login-user", "alice")
        browser.call("fill", "#login-pass", "alice-password")
        browser.call("click", "#login-go")
        await browser.until_text("#balance", "$10,000.00")

        # A stop-limit buy: 5 at up to 101.50 once a trade prints at 101.00 or above. It waits off the book.
        browser.call("selectOption", "#o-type", "stop_limit")
        await browser.until("() => !document.querySelector('#o-stop-row').hidden")
        browser.call("fill", "#o-stop", "101.00")
        browser.call("fill", "#o-price", "101.50")
        browser.call("fill", "#o-qty", "5")
        await browser.until_text("#o-est", "once a trade prints at 101.00 or above")
        browser.call("click", "#o-submit")
        await browser.until_text("#o-msg", "pending")
        await browser.until_text("#orders", "waiting for its trigger")
        assert "stop ≥ 101.00" in browser.text("#orders") and "stop-limit" in browser.text("#orders")
        assert browser.call("evaluate", "() => !!document.querySelector(\"#ladder .row.bid[data-price='10150']\")") \
            is False
        browser.screenshot("4-stop-waiting")
        # Modify moves the waiting stop's trigger.
        browser.call("click", "#orders tr[data-order-id] button:has-text('Modify')")
        browser.call("fill", "#orders input[aria-label='stop_price']", "100.90")
        browser.call("click", "#orders button:has-text('Save')")
        await browser.until_text("#orders", "stop ≥ 100.90")
        (waiting,) = await _orders_of(server, "alice", "alice-password")
        assert (waiting.stop_price, waiting.price, waiting.status) == (10090, 10150, "pending")

        # Carol buys 1 at 101.00 from bob: the trade triggers alice's stop, which takes bob's other 4.
        await carol.order("ACME", "buy", 1, price=10100)
        await browser.until_text("#o-msg", "triggered at 100.90")
        await browser.until("() => document.querySelectorAll('#fills tr[data-trade-id]').length === 1")
        assert "101.00" in browser.text("#fills tr") and "4" in browser.text("#fills tr")
        await browser.until("() => document.querySelector(\"#ladder .row.bid[data-price='10150']\")"
                            "?.classList.contains('own')")
        assert "waiting" not in browser.text("#orders")

        # An iceberg: 10 at 99.00 showing 2; the book shows the slice only.
        browser.call("selectOption", "#o-type", "limit")
        browser.call("fill", "#o-price", "99.00")
        browser.call("fill", "#o-qty", "10")
        browser.call("fill", "#o-show", "2")
        browser.call("click", "#o-submit")
        await browser.until("() => document.querySelector(\"#ladder .row.bid[data-price='9900']\")?.dataset.qty"
                            " === '2'")
        await browser.until_text("#orders", "show 2")

        # Good till date, two hours from now (the form's datetime is local time).
        expiry = browser.call("evaluate", "() => { const d = new Date(Date.now() + 7200e3); d.setSeconds(0, 0);"
                                          " return d.getTime(); }")
        local = browser.call("evaluate", f"() => {{ const d = new Date({expiry});"
                                         " d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
                                         " return d.toISOString().slice(0, 16); }")
        browser.call("fill", "#o-show", "")
        browser.call("selectOption", "#o-tif", "gtd")
        await browser.until("() => !document.querySelector('#o-until-row').hidden")
        browser.call("fill", "#o-until", local)
        browser.call("fill", "#o-price", "98.00")
        browser.call("fill", "#o-qty", "1")
        browser.call("click", "#o-submit")
        await browser.until("() => document.querySelectorAll('#orders tr[data-order-id]').length === 3")
        assert "gtd until" in browser.text("#orders")
        browser.screenshot("5-order-types")
        served = {o.price: o for o in await _orders_of(server, "alice", "alice-password")}
        assert served[9800].tif == "gtd" and served[9800].expire_ts == expiry * 1_000_000
        assert (served[9900].display_qty, served[9900].remaining) == (2, 10)
        assert (served[10150].triggered, served[10150].remaining) == (True, 1)
        _no_page_errors(browser)
    finally:
        await bob.close()
        await carol.close()
        await admin.close()
