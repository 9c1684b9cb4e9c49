"""Fixtures of the journal tests."""

from __future__ import annotations

import pytest

from exchange.journal import readahead, recovery


@pytest.fixture(params=["in-process", "helper"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Replays read every record here, or through the read-ahead helper process (in chunks of 7)."""
    if request.param == "helper":
        monkeypatch.setattr(recovery, "READAHEAD_MIN", 0)
        monkeypatch.setattr(recovery, "helper_available", lambda: True)  # even on one CPU
        monkeypatch.setattr(readahead, "CHUNK", 7)
    else:
        monkeypatch.setattr(recovery, "READAHEAD_MIN", 1 << 62)
    return str(request.param)
