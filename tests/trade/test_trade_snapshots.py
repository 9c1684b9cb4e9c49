"""Snapshots of the trading client with fixed data (no server): ``pytest --snapshot-update`` to accept.

The main screen (ladder with own orders highlighted, open orders with queue
positions, fills, tape, wallet), the login screen and the replace modal, each
at 80x24 and 120x34. Times are shown in UTC (the ``utc`` fixture).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from client.trade import TradeApp, TradeSettings
from tests.trade.demo import demo_app

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 34), id="120x34")]


def steady_cursor(pilot: Pilot[object]) -> None:
    """The modal's text cursor shown steadily: a blink would make the snapshot depend on timing."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


@pytest.mark.parametrize("size", [*SIZES, pytest.param((180, 40), id="180x40")])
def test_main_screen(snap_compare, utc, size) -> None:  # type: ignore[no-untyped-def]
    async def settle(pilot: Pilot[object]) -> None:
        await pilot.press("down", "down")  # the ladder cursor on the best ask's neighbour
        await pilot.pause(0.2)

    assert snap_compare(demo_app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_login_screen(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    settings = TradeSettings(home=Path("/home/alice/.local/share/exch"), url="wss://exch.example:8443/ws",
                             user="alice")
    assert snap_compare(TradeApp(settings), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_replace_modal(snap_compare, utc, size) -> None:  # type: ignore[no-untyped-def]
    async def open_replace(pilot: Pilot[object]) -> None:
        await pilot.press("o", "down", "r")  # the second open order
        await pilot.pause(0.2)
        steady_cursor(pilot)
        await pilot.pause(0.05)

    assert snap_compare(demo_app(), terminal_size=size, run_before=open_replace)


def test_symbol_switcher(snap_compare, utc) -> None:  # type: ignore[no-untyped-def]
    async def open_switcher(pilot: Pilot[object]) -> None:
        await pilot.press("slash")
        await pilot.pause(0.2)
        steady_cursor(pilot)
        await pilot.pause(0.05)

    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=open_switcher)
