"""Fixtures of the trading client's tests: a real in-process exchange (tests/gateway) and helpers."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.gateway.conftest import Exchange, exchange, make_exchange  # noqa: F401  (fixtures)

__all__ = ["Exchange", "until"]


async def until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Let the app run until ``predicate()`` is true.

    Raises:
        AssertionError: it did not become true within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            screen = pilot.app.screen
            detail = getattr(screen.query("OrderEntry").first(), "message", "") if screen.query("OrderEntry") else ""
            raise AssertionError(f"timed out waiting for {what or predicate} (order entry says {detail!r})")
        await pilot.pause(0.02)
    await asyncio.sleep(0)


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC for the test (snapshots show wall-clock times)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()
