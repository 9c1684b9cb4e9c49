"""Issue #13, the operator's side: the console against a real server (in-process), driven by Pilot."""

from __future__ import annotations

import pytest
from textual.widgets import Input, OptionList

from client import Session
from console.app import ConsoleApp
from console.screens.admin import AdminForm
from console.widgets.sessions import SessionsTable
from console.widgets.symbols import SymbolTable
from tests.gateway.conftest import Exchange

from .conftest import console_config, wait_for
from .test_live import SIZE, answer, type_into

pytestmark = pytest.mark.timeout(60)


async def cash_of(ex: Exchange, name: str, password: str) -> int:
    async with Session.connect(ex.url, home=ex.home, proxy=None) as s:
        await s.login(name, password)
        return (await s.balance()).cash


async def test_a_form_is_emptied_after_success_so_enter_cannot_repeat_it(exchange: Exchange) -> None:
    """A gift succeeds; the form is empty, and a second Enter sends nothing (#13.6)."""
    name, password = await exchange.add_user()
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.feed is not None and app.feed.session is not None)
        await pilot.press("g")
        form = app.screen
        assert isinstance(form, AdminForm)
        form.query_one("#username", Input).value = name
        await type_into(pilot, "#cash", "10")
        await pilot.press("enter")
        await answer(app)
        assert form.ok and form.answer == f"Gave $10.00 to {name}.", form.answer
        assert form.query_one("#username", Input).value == "" and form.query_one("#cash", Input).value == ""
        await pilot.press("enter")  # the operator presses Enter again
        await pilot.pause(0.3)
        assert form.ok is False and "Give the user name" in form.answer, form.answer
    assert await cash_of(exchange, name, password) == 1000  # one gift, not two


async def test_disable_and_enable_users_picked_from_a_list(exchange: Exchange) -> None:
    """Disable picks from the active users, Enable (n) from the disabled ones (#13.7)."""
    name, password = await exchange.add_user(cash=500)
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.feed is not None and name in (app.model.users or {}))
        await pilot.press("d")
        form = app.screen
        assert isinstance(form, AdminForm)
        await type_into(pilot, "#username", name[:-1])  # part of the name filters the list
        picker = form.query_one("#user-picker", OptionList)
        assert [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)] == [name]
        await pilot.press("tab", "enter")  # to the list; pick the highlighted user
        assert form.query_one("#username", Input).value == name
        await pilot.press("enter")  # the Disable button has the focus now
        await answer(app)
        assert form.ok, form.answer
        await pilot.press("escape")

        await wait_for(lambda: (app.model.users or {})[name].disabled)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, AdminForm) and form.form_title == "Enable a user"
        picker = form.query_one("#user-picker", OptionList)
        assert [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)] == [name]
        await pilot.press("tab", "enter", "enter")  # only the disabled users: the one there
        await answer(app)
        assert form.ok and form.answer == f"User {name} enabled; they can log in again.", form.answer
    assert await cash_of(exchange, name, password) == 500


async def test_long_session_names_and_plain_column_names(exchange: Exchange) -> None:
    """A 24-character user shows whole in the sessions table when there is room; the symbols table says what
    it counts (#13.7, #13.8)."""
    long_name = "trader-with-long-name-24"
    await exchange.trader(name=long_name)
    app = ConsoleApp(console_config(exchange))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(lambda: any(s.user == long_name for s in app.model.sessions))
        await pilot.pause(0.5)
        table = app.query_one(SessionsTable)
        assert table.columns["user"].width >= len(long_name), table.columns["user"].width  # type: ignore[index]
        row = next(str(s.session_id) for s in app.model.sessions if s.user == long_name)
        assert str(table.get_cell(row, "user")) == long_name
        labels = [str(c.label) for c in app.query_one(SymbolTable).columns.values()]
        assert "Open int" not in labels and "Rest qty" in labels, labels
