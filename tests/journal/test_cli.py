"""``exch journal info``, ``exch replay --verify`` and ``exch trades`` on a real data directory."""

from __future__ import annotations

import re
import sqlite3
import time
import zlib
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from exchange.cli import app
from exchange.engine import NewOrder
from exchange.journal import JournalConfig
from exchange.ledger import Ledger
from exchange.store.sqlite import SQLiteStore
from tests.conftest import TEST_ROUNDS
from tests.journal.streams import SETUP

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("reader")  # in-process and read-ahead replays


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A data directory with 3 segments, 2 checkpoints and a few trades."""
    store = SQLiteStore(tmp_path, bcrypt_rounds=TEST_ROUNDS)
    with Ledger.open(store, config=JournalConfig(segment_records=20, checkpoint_every=25)) as ledger:
        for i, command in enumerate(SETUP):
            ledger.submit(command, ts=1_700_000_000_000_000_000 + i)
        for i in range(20):
            side = "buy" if i % 2 else "sell"
            symbol = "AAA" if i < 10 else "BBB"
            order = NewOrder(1 + i % 2, symbol, side, "limit", 100, 2)
            seq, _ = ledger.submit(order, ts=1_800_000_000_000_000_000 + i)
            if seq == 25:  # the writer keeps one pending checkpoint: let it save this one before the next
                deadline = time.monotonic() + 30
                while ledger.writer.checkpoint_seq < 25 and time.monotonic() < deadline:
                    time.sleep(0.005)
    store.close()
    return tmp_path


def _one_line_error(result: object) -> str:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 1, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_journal_info_lists_segments_and_checkpoints(home: Path) -> None:
    result = runner.invoke(app, ["journal", "info", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert result.output.count(".seg") == 2
    assert "30 committed records" in result.output
    assert "checkpoints" in result.output and "25" in result.output


def test_replay_verify_passes_on_a_sound_journal(home: Path) -> None:
    result = runner.invoke(app, ["replay", "--verify", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "OK: replayed records 1..30; the state at seq 30 equals the newest checkpoint" in result.output


def test_replay_verify_fails_when_the_checkpoint_disagrees(home: Path) -> None:
    conn = sqlite3.connect(home / "exch.db")
    data = conn.execute("SELECT data FROM checkpoints ORDER BY seq DESC").fetchone()[0]
    state = msgspec.msgpack.decode(data)
    state["accounts"][0]["cash"] += 1
    forged = msgspec.msgpack.encode(state)
    conn.execute("UPDATE checkpoints SET data = ?, crc = ? WHERE seq = 30", (forged, zlib.crc32(forged)))
    conn.commit()
    conn.close()
    result = runner.invoke(app, ["replay", "--verify", "--home", str(home)])
    assert result.exit_code == 1
    assert "MISMATCH" in result.output and "accounts[0].cash" in result.output


def test_a_corrupted_committed_record_is_one_line_and_exit_1(home: Path) -> None:
    store = SQLiteStore(home)
    path = store.segment_file(store.segments()[0])
    store.close()
    data = bytearray(path.read_bytes())
    at = data.find(b"AAA")  # inside the payload of some command of the first segment
    data[at] ^= 0x20
    path.write_bytes(bytes(data))
    line = _one_line_error(runner.invoke(app, ["replay", "--verify", "--home", str(home)]))
    assert re.fullmatch(
        rf"exch: error: journal/{path.name}: committed record \d+ is corrupted or missing "
        r"\(checksum mismatch\); refusing to start without it",
        line,
    ), line


def test_trades_table_csv_and_filters(home: Path) -> None:
    result = runner.invoke(app, ["trades", "--home", str(home), "--csv"])
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()
    assert rows[0].startswith("trade_id,time,symbol,price,qty,side")
    assert len(rows) == 1 + 10
    assert rows[1].split(",")[1].startswith("2027-01-15T08:00:00.0000")
    aaa = runner.invoke(app, ["trades", "--home", str(home), "--csv", "--symbol", "aaa"]).output
    assert len(aaa.splitlines()) == 1 + 5
    late = runner.invoke(app, ["trades", "--home", str(home), "--csv", "--since", "2030-01-01"]).output
    assert late.splitlines() == [rows[0]]
    recent = runner.invoke(app, ["trades", "--home", str(home), "--csv", "--since", "1000w"]).output
    assert len(recent.splitlines()) == 11
    table = runner.invoke(app, ["trades", "--home", str(home)])
    assert table.exit_code == 0 and "trades (10 of 10)" in table.output


def test_cli_errors_are_one_line(home: Path) -> None:
    line = _one_line_error(runner.invoke(app, ["trades", "--home", str(home), "--since", "yesterday"]))
    assert "--since takes a duration" in line
    line = _one_line_error(runner.invoke(app, ["journal", "info", "--db", "postgresql://x@127.0.0.1:1/none"]))
    assert line.startswith("exch: error: cannot connect to postgresql://x@127.0.0.1:1/none")
    line = _one_line_error(runner.invoke(app, ["trades", "--db", "mysql://x"]))
    assert "--db must be" in line
