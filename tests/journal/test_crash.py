"""Crash tests: a real child process appends under load and is killed with SIGKILL.

After each kill, every seq the child reported committed must be in the
journal, and the state rebuilt at start-up (checkpoint + journal) must equal
a clean replay of the journal alone. Each test kills the same data directory
several times, so restarts also resume after a kill.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from exchange.engine import snapshot
from exchange.journal import recover
from exchange.store.sqlite import SQLiteStore
from tests.conftest import TEST_ROUNDS

pytestmark = pytest.mark.usefixtures("reader")

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("crash_child.py")


def _run_and_kill(home: Path, seed: int, delay: float) -> tuple[int, int]:
    """Start the child, kill it ``delay`` s after it is ready; return (start seq, last reported seq)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    errors = home.with_name(f"{home.name}-child-{seed}.err")
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(home), str(seed)],
        stdout=subprocess.PIPE,
        stderr=errors.open("w"),
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        ready = child.stdout.readline()
        assert ready.startswith("ready "), f"{ready!r}; child stderr in {errors}"
        start = int(ready.split()[1])
        reported: list[int] = []
        stdout = child.stdout
        reader = threading.Thread(target=lambda: reported.extend(int(line) for line in stdout))
        reader.start()
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)  # also when something above failed: never leak the child
        child.wait()
    reader.join()
    assert child.returncode == -signal.SIGKILL
    return start, max(reported, default=start)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_committed_records_survive_sigkill(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    last_reported = 0
    for round_ in range(3):
        start, reported = _run_and_kill(tmp_path, seed * 10 + round_, rng.uniform(0.05, 0.6))
        assert start >= last_reported  # the restart kept everything reported before
        last_reported = reported
        store = SQLiteStore(tmp_path, bcrypt_rounds=TEST_ROUNDS)
        try:
            rebuilt = recover(store)
            assert rebuilt.engine.seq >= reported, rebuilt.notes
            seqs = [r[0] for s in store.segments() for chunk in store.read_records(s) for r in chunk]
            assert seqs == list(range(1, rebuilt.engine.seq + 1))
            assert store.segments()[-1].last_seq == rebuilt.engine.seq
            clean = recover(store, use_checkpoint=False, repair=False)
            assert snapshot(clean.engine) == snapshot(rebuilt.engine)
        finally:
            store.close()
    assert last_reported > 0
