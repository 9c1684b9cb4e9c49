"""Snapshots of the console with fixed data (no server, fixed clock, UTC): main screen and each panel.

Update after an intended change with ``pytest tests/console --snapshot-update``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input

from console.app import ConsoleApp
from console.config import ConsoleConfig
from console.screens.admin import AdminForm
from console.screens.login import LoginScreen

from .conftest import fixed_model

URL = "wss://exchange.example:8443/ws"
SIZE = (120, 34)


def app(**model: Any) -> ConsoleApp:
    return ConsoleApp(ConsoleConfig(url=URL), model=fixed_model(**model), connect=False)


async def fill(pilot: Pilot[Any], values: dict[str, str]) -> None:
    for selector, value in values.items():
        pilot.app.screen.query_one(selector, Input).value = value
    await pilot.pause()


async def steady(pilot: Pilot[Any]) -> None:
    """The form's text cursor shown steadily: a blink would make the snapshot depend on timing (seen under load)."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def test_main_screen(snap_compare: Any) -> None:
    assert snap_compare(app(halted="BOLT"), terminal_size=SIZE)


def test_main_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(app(), terminal_size=(80, 24))


def test_main_screen_200x50(snap_compare: Any) -> None:
    assert snap_compare(app(), terminal_size=(200, 50))


def test_shutdown_notice(snap_compare: Any) -> None:
    assert snap_compare(app(shutdown=True), terminal_size=SIZE)


def test_add_user_panel(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("a")
        await fill(pilot, {"#username": "carol", "#password": "s3cret", "#cash": "25,000", "#shares": "ACME=100"})
        pilot.app.screen.query_one(Checkbox).value = False
        screen = pilot.app.screen
        assert isinstance(screen, AdminForm)
        screen.show_answer("User carol added (trader); they can log in now.", True)
        await steady(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_gift_panel_with_refusal(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("g")
        await fill(pilot, {"#username": "dave", "#cash": "100", "#symbol": "ACME", "#qty": "50"})
        screen = pilot.app.screen
        assert isinstance(screen, AdminForm)
        screen.show_answer("Refused: no user 'dave' (field username) [bad_request]", False)
        await steady(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_disable_panel(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("d")
        await fill(pilot, {"#username": "bob"})
        screen = pilot.app.screen
        assert isinstance(screen, AdminForm)
        screen.show_answer("User bob disabled; 2 sessions closed.", True)
        await steady(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_password_panel_with_mismatch(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("p")
        await fill(pilot, {"#username": "alice", "#password": "s3cret-one", "#again": "s3cret-two"})
        screen = pilot.app.screen
        assert isinstance(screen, AdminForm)
        screen.submit()  # refused in the form: nothing is sent (there is no server here)
        await steady(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_halt_panel(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("h")  # the cursor's symbol (ACME) is filled in
        await steady(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_resume_panel_at_80x24(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("r")
        await fill(pilot, {"#symbol": "BOLT"})
        screen = pilot.app.screen
        assert isinstance(screen, AdminForm)
        screen.show_answer("BOLT is trading again.", True)
        await steady(pilot)

    assert snap_compare(app(halted="BOLT"), terminal_size=(80, 24), run_before=run_before)


def test_command_palette(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"halt")
        # the palette searches in a worker: wait for all four matches, however slow the machine
        results = pilot.app.screen.query_one(CommandList)
        async with asyncio.timeout(20):
            while results.option_count < 4:
                await pilot.pause(0.05)
        await pilot.pause(0.3)
        await steady(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_login_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(LoginScreen(ConsoleConfig(url=None)))
        await pilot.pause()
        await steady(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)
