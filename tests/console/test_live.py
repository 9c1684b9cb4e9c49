"""The console against a real server (in-process, on a thread): Pilot drives it like an operator."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button, Checkbox, Input, OptionList
from textual.widgets._footer import FooterKey

from client import ExchError, Session
from client.live import LinkState
from client.widgets.linkbar import LinkBar
from client.widgets.tape import Tape
from console.app import ConsoleApp
from console.screens.admin import AddUserForm, AdminForm, Call, PasswordForm, SymbolForm
from console.widgets.symbols import SymbolTable
from tests.gateway.conftest import Exchange, run_exch, unique

from .conftest import console_config, wait_for

pytestmark = pytest.mark.timeout(60)
SIZE = (120, 34)


def cell(app: ConsoleApp, symbol: str, column: str) -> str:
    value = app.query_one(SymbolTable).get_cell(symbol, column)
    return getattr(value, "plain", str(value))


async def type_into(pilot, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    await pilot.pause()
    await pilot.press(*text)


async def answer(app: ConsoleApp) -> AdminForm:
    form = app.screen
    assert isinstance(form, AdminForm)
    await wait_for(lambda: form.ok is not None)
    return form


async def test_stats_change_after_orders(exchange: Exchange) -> None:
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.model.stats is not None and app.query_one(LinkBar).state is LinkState.UP)
        await pilot.pause(0.3)
        assert cell(app, "ACME", "bid") == "-"
        assert cell(app, "ACME", "resting") == "0"

        seller = await exchange.trader(shares={"ACME": 100})
        buyer = await exchange.trader(cash=10_000_000)
        await buyer.order("ACME", "buy", 5, price=10_120)
        await seller.order("ACME", "sell", 7, price=10_130)
        await seller.order("ACME", "sell", 2, price=10_120)  # trades 2 with the resting buy

        await wait_for(lambda: cell(app, "ACME", "volume") == "2")
        assert cell(app, "ACME", "bid") == "101.20"
        assert cell(app, "ACME", "ask") == "101.30"
        assert cell(app, "ACME", "last") == "101.20"
        assert cell(app, "ACME", "resting") == "2"
        await wait_for(lambda: any(e.kind == "sell" and "ACME" in e.text for e in app.model.tape))
        await wait_for(lambda: (app.model.stats or pytest.fail()).journal_seq > 0)
        assert app.model.stats.clients >= 3  # type: ignore[union-attr]
        # the sessions poll shows the traders
        await wait_for(lambda: {buyer.user, seller.user} <= {s.user for s in app.model.sessions})


async def test_add_user_from_the_panel_lets_them_log_in(exchange: Exchange) -> None:
    app = ConsoleApp(console_config(exchange))
    name = unique("new")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.feed is not None and app.feed.session is not None)
        await pilot.press("a")
        assert isinstance(app.screen, AddUserForm)
        await type_into(pilot, "#username", name)
        form = app.screen
        form.query_one("#password", Input).value = "hunter2-pass"  # typing is slow under Pilot
        form.query_one("#cash", Input).value = "1,500.25"
        await type_into(pilot, "#shares", "ACME=40")
        await pilot.click("#submit")
        await answer(app)
        assert form.ok, form.answer  # type: ignore[attr-defined]
        assert form.answer == f"User {name} added (trader); they can log in now."

        # the form is emptied after a success; the same name again: the server's refusal, in words
        assert form.query_one("#username", Input).value == ""
        form.query_one("#username", Input).value = name
        form.query_one("#password", Input).value = "hunter2-pass"
        await pilot.pause(0.3)  # the button ignores clicks during its 0.2 s press effect
        await pilot.click("#submit")
        await wait_for(lambda: form.ok is False)
        assert "already exists" in form.answer and "bad_request" in form.answer
        await pilot.press("escape")
        assert not isinstance(app.screen, AdminForm)
        assert any(name in e.text and e.kind == "admin" for e in app.model.tape)

    async with Session.connect(exchange.url, home=exchange.home, proxy=None) as s:
        await s.login(name, "hunter2-pass")
        balance = await s.balance()
    assert balance.cash == 150_025
    assert balance.positions["ACME"].qty == 40


async def test_halt_from_the_panel_makes_orders_fail_halted(exchange: Exchange) -> None:
    trader = await exchange.trader(cash=10_000_000)
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.feed is not None and app.feed.session is not None and "BOLT" in app.model.symbols)
        await pilot.pause(0.3)
        table = app.query_one(SymbolTable)
        table.move_cursor(row=table.get_row_index("BOLT"))
        await pilot.press("h")
        form = app.screen
        assert isinstance(form, SymbolForm) and form.action == "halt"
        assert form.query_one("#symbol", Input).value == "BOLT"
        await pilot.click("#submit")
        await answer(app)
        assert form.ok, form.answer
        assert "BOLT is halted" in form.answer
        with pytest.raises(ExchError) as refused:
            await trader.order("BOLT", "buy", 1, price=1000)
        assert refused.value.code == "halted"
        await wait_for(lambda: cell(app, "BOLT", "status") == "HALTED")
        assert any(e.kind == "halt" and "BOLT" in e.text for e in app.model.tape)
        await pilot.press("escape")

        # resume from the command palette
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"resume bolt")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, SymbolForm))
        assert app.screen.action == "resume"  # type: ignore[attr-defined]
        await pilot.click("#submit")
        resumed = await answer(app)
        assert resumed.ok, resumed.answer
        await trader.order("BOLT", "buy", 1, price=1000)


async def test_bad_input_is_refused_in_words_before_sending(exchange: Exchange) -> None:
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.feed is not None and app.feed.session is not None)
        await pilot.press("g")
        await type_into(pilot, "#username", "nobody-here")
        await type_into(pilot, "#cash", "12.345")
        await pilot.click("#submit")
        form = app.screen
        assert isinstance(form, AdminForm)
        assert form.ok is False and "more than 2 decimals" in form.answer
        form.query_one("#cash", Input).value = "10"
        await pilot.pause(0.3)
        await pilot.click("#submit")
        await wait_for(lambda: form.ok is False and "Refused" in form.answer)
        assert "no user 'nobody-here'" in form.answer
        await pilot.press("escape")
        await pilot.press("a")
        assert app.screen.query_one("#admin", Checkbox).value is False
        app.screen.query_one(Button)  # the form is up


async def test_stopping_the_server_shows_the_shutdown_notice(exchange: Exchange) -> None:
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one(LinkBar)
        await wait_for(lambda: app.model.stats is not None and bar.state is LinkState.UP)
        await asyncio.to_thread(exchange.server.stop)
        await wait_for(lambda: "shutdown at" in bar.notice)
        assert "shutting down" in bar.notice
        await wait_for(lambda: bar.state in (LinkState.DOWN, LinkState.CONNECTING))
        await pilot.pause(0.3)
        assert app.query_one("#main").has_class("-stale")
        assert any(e.kind == "shutdown" for e in app.model.tape)


async def test_login_screen_when_the_home_has_no_password(exchange: Exchange) -> None:
    config = console_config(exchange)
    app = ConsoleApp(type(config)(url=exchange.url, home=exchange.home))  # a remote operator: no password
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert type(screen).__name__ == "LoginScreen"
        screen.query_one("#password", Input).value = "wrong-password"
        await pilot.click("#connect")
        answer_line = screen.query_one("#answer")
        await wait_for(lambda: "Could not connect" in str(answer_line.render()))
        assert "auth_failed" in str(answer_line.render())
        screen.query_one("#password", Input).value = exchange.admin_password
        await pilot.pause(0.3)
        await pilot.click("#connect")
        await wait_for(lambda: app.model.stats is not None and app.query_one(LinkBar).state is LinkState.UP)
        assert type(app.screen).__name__ != "LoginScreen"


async def test_a_failed_login_elsewhere_shows_on_the_tape_with_its_address(exchange: Exchange) -> None:
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.model.stats is not None)
        intruder = await exchange.connect()
        with pytest.raises(ExchError):
            await intruder.login("admin", "guess")
        await wait_for(lambda: any(e.kind == "security" and "login failed: admin from 127.0.0.1:" in e.text
                                   for e in app.model.tape))
        await pilot.pause(0.5)  # a repaint
        tape = app.query_one(Tape)
        shown = [tape.entry(i).text for i in range(len(tape.entries))]
        assert any("login failed: admin from 127.0.0.1:" in text for text in shown)

        # trades bury events on a busy tape: `e` shows the events alone
        seller = await exchange.trader(shares={"ACME": 10})
        buyer = await exchange.trader(cash=10_000_000)
        await seller.order("ACME", "sell", 1, price=10_000)
        await buyer.order("ACME", "buy", 1, price=10_000)
        await wait_for(lambda: any(e.kind in ("buy", "sell") for e in app.model.tape))
        await pilot.press("e")
        await pilot.pause(0.3)
        shown = [tape.entry(i) for i in range(len(tape.entries))]
        assert shown and all(e.kind not in ("buy", "sell") for e in shown)
        assert any("login failed: admin" in e.text for e in shown)
        assert "events only" in str(app.query_one("#tape-panel").border_title)
        await pilot.press("e")
        await pilot.pause(0.3)
        assert any(tape.entry(i).kind in ("buy", "sell") for i in range(len(tape.entries)))


async def test_change_password_from_the_panel(exchange: Exchange) -> None:
    name, old = await exchange.add_user(unique("pw"), password="old-password")
    victim = await exchange.connect()
    await victim.login(name, old)
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.feed is not None and app.feed.session is not None
                       and name in (app.model.users or {}))
        await pilot.press("p")
        form = app.screen
        assert isinstance(form, PasswordForm)
        await type_into(pilot, "#username", name[:-1])
        picker = form.query_one("#user-picker", OptionList)
        assert [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)] == [name]
        picker.focus()
        await pilot.press("enter")  # picks the user and moves to the first password field
        assert form.field("username") == name
        assert app.focused is form.query_one("#password", Input)
        assert form.query_one("#password", Input).password and form.query_one("#again", Input).password
        form.query_one("#password", Input).value = "new-password"
        form.query_one("#again", Input).value = "new-password"
        await pilot.click("#submit")
        await answer(app)
        assert form.ok, form.answer
        assert form.answer == f"Password of {name} changed; 1 session closed."
        closed = await asyncio.wait_for(victim.wait_closed(), 10)
        assert (closed.code, closed.reason) == (1008, "password changed")
        assert form.query_one("#password", Input).value == form.query_one("#again", Input).value == ""
        assert any(e.kind == "admin" and form.answer in e.text for e in app.model.tape)

        # the server's refusal comes back in words
        form.query_one("#username", Input).value = "nobody-here"
        form.query_one("#password", Input).value = form.query_one("#again", Input).value = "whatever"
        await pilot.pause(0.3)  # the button ignores clicks during its 0.2 s press effect
        await pilot.click("#submit")
        await wait_for(lambda: form.ok is False)
        assert form.answer == "Refused: no user 'nobody-here' (field username) [bad_request]"

    async with Session.connect(exchange.url, home=exchange.home, proxy=None) as s:
        with pytest.raises(ExchError) as refused:
            await s.login(name, old)
        assert refused.value.code == "auth_failed"
    async with Session.connect(exchange.url, home=exchange.home, proxy=None) as s:
        await s.login(name, "new-password")


@pytest.mark.parametrize(
    ("password", "again", "refusal"),
    [
        ("new-password", "new-passwort", "The two passwords differ; type the same one twice."),
        ("new-password", "", "Type the new password again in the second field."),
        ("", "", "Give a password."),
        ("é" * 37, "é" * 37, "The password is 74 bytes of UTF-8; at most 72 are allowed."),
    ],
    ids=["mismatch", "no-confirmation", "empty", "over-72-bytes"],
)
async def test_change_password_refuses_bad_input_before_sending(
    exchange: Exchange, monkeypatch: pytest.MonkeyPatch, password: str, again: str, refusal: str
) -> None:
    name, old = await exchange.add_user(unique("pw"), password="old-password")
    app = ConsoleApp(console_config(exchange))
    calls: list[object] = []
    admin_call = app.admin_call

    async def counted(call: Call) -> object:
        calls.append(call)
        return await admin_call(call)

    monkeypatch.setattr(app, "admin_call", counted)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.feed is not None and app.feed.session is not None)
        await pilot.press("p")
        form = app.screen
        assert isinstance(form, PasswordForm)
        form.query_one("#username", Input).value = name
        form.query_one("#password", Input).value = password
        form.query_one("#again", Input).value = again
        await pilot.click("#submit")
        assert (form.ok, form.answer) == (False, refusal)
        await pilot.pause(0.3)
        assert calls == []
    async with Session.connect(exchange.url, home=exchange.home, proxy=None) as s:
        await s.login(name, old)  # unchanged


async def test_the_password_key_is_in_the_footer(exchange: Exchange) -> None:
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        keys = {k.key: k.description for k in app.query(FooterKey)}
        assert keys.get("p") == "Password"


async def test_changing_its_own_password_the_console_reconnects_with_the_new_one(exchange: Exchange) -> None:
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.feed is not None and app.feed.session is not None)
        assert app.feed is not None
        await pilot.press("p")
        form = app.screen
        assert isinstance(form, PasswordForm)
        form.query_one("#username", Input).value = "admin"
        form.query_one("#password", Input).value = form.query_one("#again", Input).value = "console-new-pw"
        await pilot.click("#submit")
        await answer(app)
        assert form.ok and form.answer.startswith("Password of admin changed;"), form.answer
        assert app.feed.session is not None  # the session that asked stays
        # the file on the home is not the console's to change
        assert (exchange.home / "admin-password").read_text().strip() == exchange.admin_password
        await app.feed.session.close()  # a lost link: the token is revoked, the new password logs in
        await wait_for(lambda: app.feed is not None and app.feed.live.connects >= 2 and app.feed.session is not None)


async def test_the_console_follows_exch_user_passwd_admin_on_its_home(exchange: Exchange) -> None:
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE):
        await wait_for(lambda: app.feed is not None and app.feed.session is not None)
        assert app.feed is not None
        changed = await asyncio.to_thread(
            run_exch, "user", "passwd", "admin", "--password-stdin", home=exchange.home, input="cli-new-pw\n"
        )
        assert changed.returncode == 0, changed.stderr
        # the server closed the console's session; it reconnects with the password the CLI saved
        await wait_for(lambda: app.feed is not None and app.feed.live.connects >= 2 and app.feed.session is not None,
                       timeout=20)
        assert app.feed.live.password == "cli-new-pw"
