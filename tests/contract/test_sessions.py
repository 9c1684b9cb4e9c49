"""Issue #14: docs/examples/sessions/*.jsonl are what a real server sends today.

The test records every scenario again and compares the shapes (every key and
every JSON type, values aside) line by line with the committed files; every
received frame must also keep the published schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.contract.frames import frame_problem
from tests.contract.sessions import DOCS, SCENARIOS, record_all, shape

pytestmark = pytest.mark.timeout(120)


async def test_the_recorded_sessions_match_a_fresh_recording(tmp_path: Path) -> None:
    fresh = await record_all(tmp_path)
    for name, lines in fresh.items():
        committed = [json.loads(line) for line in (DOCS / f"{name}.jsonl").read_text().splitlines()]
        assert [shape(line) for line in committed] == [shape(line) for line in lines], (
            f"docs/examples/sessions/{name}.jsonl is stale: run python -m tests.contract.sessions"
        )
        for line in lines:
            if line["dir"] == "recv":
                assert frame_problem(json.dumps(line["frame"])) is None, line


def test_every_scenario_the_issue_asks_for_is_recorded() -> None:
    assert set(SCENARIOS) == {p.stem for p in DOCS.glob("*.jsonl")}
    assert {"login", "order_that_trades", "replace", "self_trade", "gap_and_resync", "halt", "shutdown"} <= set(
        SCENARIOS
    )
