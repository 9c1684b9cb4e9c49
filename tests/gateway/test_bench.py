"""``exch bench gateway``: every phase bounded and reported, batches pipelined, clean closes."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import exchange.bench.gateway as bench
from exchange.bench.wsclient import LeanClient
from exchange.cli import app


def test_a_short_run_pipelines_batches_and_closes_every_connection_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[LeanClient] = []
    real_open = bench._open_load

    async def recording_open(url: str, home: Path) -> LeanClient:
        ws = await real_open(url, home)
        opened.append(ws)
        return ws

    monkeypatch.setattr(bench, "_open_load", recording_open)
    result = bench.run(connections=8, window=8, seconds=1.0, rate=300)

    # Every client connection finished its closing handshake (none waited out
    # close_timeout behind pushes it had stopped reading, then was aborted).
    assert opened and all(ws.close_received for ws in opened)
    assert result["failed"] == {}
    assert result["acks_lost"] == 0 and result["orders_refused"] == 0
    assert result["ratio_vs_echo"] is not None and result["ratio_vs_echo"] > 0
    batch = result["batch"]
    assert batch["frames_in_flight_seen"] > 1  # several batch frames in flight on a connection
    assert batch["acked"] == batch["sent"] > 0
    for phase in (result["fixed_rate"], result["echo_fixed_rate"]):
        assert phase["lost"] == 0 and phase["p99_ms"] > 0
    assert result["p99_vs_echo"] == round(result["fixed_rate"]["p99_ms"] / result["echo_fixed_rate"]["p99_ms"], 2)
    # How busy each server was, per phase: it did work, and no more than the machine has.
    for phase in ("closed_loop", "echo_closed_loop", "fixed_rate", "echo_fixed_rate", "batch"):
        assert 0 < result[phase]["server_cores"] <= result["cpus"] + 0.5, phase
        assert result[phase]["server_cpu_us"] > 0, phase
        assert result[phase]["client_cpu_us"] > 0, phase  # the load client's own share of the cores


def test_process_cpu_counts_every_thread_of_a_busy_process() -> None:
    pid = os.getpid()
    before = bench.process_cpu_s(pid)
    assert before is not None

    def spin() -> None:
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    after = bench.process_cpu_s(pid)
    assert after is not None and after - before >= 0.25  # the other thread's CPU counts too
    assert bench.process_cpu_s(2**22 + 12345) is None  # no such process


def test_a_failed_phase_is_reported_and_the_others_still_run() -> None:
    failed: dict[str, str] = {}

    async def broken() -> dict[str, Any]:
        raise ConnectionRefusedError("connection refused")

    async def stuck() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {}

    async def lossy() -> dict[str, Any]:
        return {"sent": 10, "lost": 3, "errors": 0}

    async def fine() -> dict[str, Any]:
        return {"sent": 10, "lost": 0, "errors": 0}

    assert bench.measure("a", broken, 5, failed) is None
    assert bench.measure("b", stuck, 0.2, failed) is None
    assert bench.measure("c", lossy, 5, failed) == {"sent": 10, "lost": 3, "errors": 0}
    assert bench.measure("d", fine, 5, failed) == {"sent": 10, "lost": 0, "errors": 0}
    assert failed == {
        "a": "ConnectionRefusedError: connection refused",
        "b": "did not finish within 0.2 s",
        "c": "3 of 10 requests got no reply",
    }


def test_the_cli_prints_the_json_and_exits_1_when_a_phase_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refused(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ConnectionRefusedError("the exchange went away")

    monkeypatch.setattr(bench, "_batches", refused)  # the batch phase fails; the rest is real
    out = CliRunner().invoke(app, ["bench", "gateway", "--connections", "2", "--window", "2", "--seconds", "1",
                                   "--rate", "300"])
    assert out.exit_code == 1
    result = json.loads(out.stdout)
    assert result["failed"] == {"batch": "ConnectionRefusedError: the exchange went away"}
    assert result["ratio_vs_echo"] > 0 and result["fixed_rate"]["lost"] == 0
    assert result["batch"] is None and result["batch_orders_per_s"] is None
