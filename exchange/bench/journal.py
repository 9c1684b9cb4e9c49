"""``exch bench journal``: append, replay and restart on real stores.

* ``append_sqlite_per_s`` / ``append_postgres_per_s``: records appended
  through the group-commit writer (checksummed, committed, rotated) until the
  last is durable, with no engine in the loop.
* ``ledger_sqlite_per_s``: the engine and the journal together
  (``Ledger.submit`` until durable), next to ``engine_per_s``, the engine alone
  on the same commands: the journal's cost on the engine thread.
* ``replay_per_s`` and ``restart_s``: ``Ledger.open`` on a store whose newest
  checkpoint is followed by ``records`` journal records (read, checksummed,
  decoded, applied, seq-checked), reading ahead in a helper process as a
  start-up does; ``replay_in_process_per_s`` is the same replay with every
  record read and checked on the replaying thread (``read_ahead=False``, what
  PostgreSQL stores and short replays do). ``read_verify_per_s`` is reading,
  checking and decoding without applying: what the journal alone costs in a
  replay.

The commands are the engine benchmark's standard mix, keeping only the ones
the engine accepts (a journal holds accepted commands only).
"""

from __future__ import annotations

import gc
import json
import platform
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from exchange.bench.engine import generate
from exchange.engine import Command, Engine, Limits, decode_command, encode_command, engine_build, snapshot
from exchange.journal.checkpoint import encode_checkpoint
from exchange.journal.config import JournalConfig
from exchange.journal.recovery import LIMITS_KEY, recover
from exchange.journal.writer import JournalWriter
from exchange.ledger import Ledger
from exchange.store.base import Store, checksum
from exchange.store.sqlite import SQLiteStore

__all__ = ["run"]

TARGETS = {"replay_per_s": 500_000, "restart_s": 5.0, "append_sqlite_per_s": 200_000}
_LIMITS = Limits(max_open_orders=100_000)


Stamped = list[tuple[Command, int]]


def _accepted(n: int, seed: int) -> tuple[Stamped, Stamped]:
    """(setup, stream): the standard mix's commands the engine accepts, with their ts."""
    setup, stream = generate(n, seed=seed)
    engine = Engine(limits=_LIMITS)
    kept: Stamped = []
    for ts, c in enumerate(setup + stream):
        before = engine.seq
        engine.apply(c, ts)
        if engine.seq != before:
            kept.append((c, ts))
    return kept[: len(setup)], kept[len(setup) :]


def _append(store: Store, items: list[tuple[int, int, bytes]], config: JournalConfig) -> float:
    """Records/s through the writer until the last is durable."""
    writer = JournalWriter(store.open_sink(fsync=config.fsync), segment=None, last_seq=0, config=config)
    append = writer.append
    started = time.perf_counter()
    for seq, ts, payload in items:
        append(seq, ts, payload)
    writer.flush()
    elapsed = time.perf_counter() - started
    writer.close()
    return len(items) / elapsed


def _postgres(url: str, items: list[tuple[int, int, bytes]], config: JournalConfig) -> float | str:
    import psycopg
    from psycopg import sql

    from exchange.store.postgres import PostgresStore

    schema = f"exch_bench_{uuid.uuid4().hex[:10]}"
    try:
        store = PostgresStore(url, schema=schema)
    except Exception as exc:  # report, don't fail the whole benchmark
        return f"unavailable: {exc}"
    try:
        return _append(store, items, config)
    finally:
        store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _read_verify(store: Store) -> float:
    n = 0
    started = time.perf_counter()
    for seg in store.segments():
        for chunk in store.read_records(seg):
            for seq, ts, crc, payload in chunk:
                if checksum(seq, ts, payload) != crc:
                    raise AssertionError(seq)
                decode_command(payload)
                n += 1
    return n / (time.perf_counter() - started)


def run(
    records: int = 1_000_000,
    *,
    postgres_records: int = 200_000,
    ledger_records: int = 200_000,
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/test",
    seed: int = 1,
) -> dict[str, Any]:
    """Run every phase and return the JSON-ready result."""
    setup, stream = _accepted(records, seed)
    config = JournalConfig(checkpoint_every=10**12, checkpoint_interval=10**9)
    result: dict[str, Any] = {"bench": "journal", "records": len(stream)}
    with tempfile.TemporaryDirectory(prefix="exch-bench-") as tmp:
        # 1. append to SQLite: the setup, a checkpoint after it, then the stream
        home = Path(tmp) / "sqlite"
        store = SQLiteStore(home)
        store.set_meta(LIMITS_KEY, json.dumps(_LIMITS.as_dict()))
        engine = Engine(limits=_LIMITS)
        items: list[tuple[int, int, bytes]] = []
        for c, ts in setup + stream:
            engine.apply(c, ts)
            items.append((engine.seq, ts, encode_command(c)))
        final = snapshot(engine)
        result["append_sqlite_per_s"] = round(_append(store, items, config))
        setup_engine = Engine(limits=_LIMITS)
        for c, ts in setup:
            setup_engine.apply(c, ts)
        sink = store.open_sink()
        sink.save_checkpoint(setup_engine.seq, encode_checkpoint(snapshot(setup_engine)), keep=3)
        sink.close()
        result["segments"] = len(store.segments())
        # 2. replay and restart: newest checkpoint, then `records` journal records
        result["read_verify_per_s"] = round(_read_verify(store))
        gc.collect()
        started = time.perf_counter()
        ledger = Ledger.open(store, config=config)
        result["restart_s"] = round(time.perf_counter() - started, 3)
        recovery = ledger.recovery
        assert snapshot(ledger.engine) == final, "replay did not reproduce the state"
        ledger.close(checkpoint=False)
        result["replayed"] = recovery.replayed
        result["replay_per_s"] = round(recovery.replayed / recovery.seconds)
        gc.collect()
        inline = recover(store, repair=False, read_ahead=False)
        assert snapshot(inline.engine) == final, "replay did not reproduce the state"
        result["replay_in_process_per_s"] = round(inline.replayed / inline.seconds)
        result["engine_per_s"] = round(_engine_rate(setup, stream))
        store.close()
        # 3. engine + journal together
        ledger_home = Path(tmp) / "ledger"
        lstore = SQLiteStore(ledger_home)
        lstore.set_meta(LIMITS_KEY, json.dumps(_LIMITS.as_dict()))
        part = (setup + stream)[: len(setup) + ledger_records]
        with Ledger.open(lstore, config=config) as led:
            submit = led.submit
            gc.disable()
            started = time.perf_counter()
            for c, ts in part:
                submit(c, ts)
            led.writer.flush()
            elapsed = time.perf_counter() - started
            gc.enable()
        result["ledger_sqlite_per_s"] = round(len(part) / elapsed)
        lstore.close()
    # 4. append to PostgreSQL
    pg = _postgres(postgres_url, items[:postgres_records], config)
    result["append_postgres_records"] = min(postgres_records, len(items))
    result["append_postgres_per_s"] = round(pg) if isinstance(pg, float) else pg

    result["ratios"] = {
        "replay_vs_target": round(result["replay_per_s"] / TARGETS["replay_per_s"], 2),
        "restart_target_vs_measured": round(TARGETS["restart_s"] / result["restart_s"], 2),
        "append_sqlite_vs_target": round(result["append_sqlite_per_s"] / TARGETS["append_sqlite_per_s"], 2),
        "replay_vs_engine_alone": round(result["replay_per_s"] / result["engine_per_s"], 2),
        "replay_vs_in_process": round(result["replay_per_s"] / result["replay_in_process_per_s"], 2),
    }
    result["targets"] = TARGETS
    result["engine_compiled"] = engine_build().compiled
    result["python"] = platform.python_version()
    return result


def _engine_rate(setup: Stamped, stream: Stamped) -> float:
    """Commands/s of the engine alone on ``stream`` (after ``setup``)."""
    engine = Engine(limits=_LIMITS)
    for c, ts in setup:
        engine.apply(c, ts)
    apply = engine.apply
    gc.disable()
    try:
        started = time.perf_counter()
        for c, ts in stream:
            apply(c, ts)
        return len(stream) / (time.perf_counter() - started)
    finally:
        gc.enable()
