"""What a batched order costs when only the unavoidable steps run: the floor under ``exch bench gateway``'s batch phase.

``exch bench gateway`` measures the whole server: TLS, WebSocket framing, the
gateway's checks, the engine, the journal, the release after the commit, the
private pushes and the public market data. This tool runs, in one process and
on one thread, only what no design of the exchange in Python can leave out for
an order that arrives in a ``batch`` frame, and adds the steps one at a time:

1. ``decode``: the frame (100 orders, the benchmark's) decoded into typed
   requests, as the gateway does (``decode_request``, ``decode_batch_item``);
2. ``+engine``: each order built as a ``NewOrder`` and applied to the engine
   (the one installed: run it with the compiled build's interpreter);
3. ``+journal``: each accepted command encoded, checksummed and inserted into a
   real SQLite file in WAL mode with ``synchronous=NORMAL``, one multi-row insert
   and one commit per frame (the records only: no catalog, no trades);
4. ``+replies``: each order's ``ack`` and every trade's two ``fill`` frames
   encoded.

No TLS, no framing, no delivery, no market data, no rate limits: the gateway can
only cost more than the last line. It prints one JSON object: microseconds per
order after each step (the best of ``--repeat`` rounds, each over ``-n`` orders),
and the machine's load average.

Usage::

    /path/to/venv/bin/python tools/gateway_floor.py [-n 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from exchange.engine.buildinfo import engine_build
from exchange.engine.commands import AddSymbol, Deposit, NewOrder, encode_command
from exchange.engine.core import Engine
from exchange.engine.events import Ack, Match
from exchange.gateway.private import fill_frames, reply_frame
from exchange.protocol.requests import BatchRequest, OrderRequest, decode_batch_item, decode_request
from exchange.store.base import checksum

STEPS = ("decode", "+engine", "+journal", "+replies")
FRAME_ORDERS = 100
_ORDER = b'{"op":"order","id":%d,"symbol":"ACME","side":"%s","type":"limit","price":10000,"qty":1}'


def frames(n: int) -> list[bytes]:
    """``n`` orders in ``batch`` frames of 100, sides alternating at one price (half of them trade)."""
    return [
        b'{"op":"batch","requests":['
        + b",".join(_ORDER % (r, (b"buy", b"sell")[r % 2]) for r in range(start, start + FRAME_ORDERS))
        + b"]}"
        for start in range(0, n, FRAME_ORDERS)
    ]


def funded_engine() -> Engine:
    """An engine with ACME listed and two users rich enough for any run."""
    engine = Engine()
    engine.apply(AddSymbol("ACME"), 1)
    for user in (1, 2):
        engine.apply(Deposit(user, cash=10**14), 1)
        engine.apply(Deposit(user, symbol="ACME", qty=10**9), 1)
    return engine


def journal(directory: Path) -> sqlite3.Connection:
    """A segment-like SQLite file: WAL, ``synchronous=NORMAL``, the records table."""
    conn = sqlite3.connect(directory / "floor.seg", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, crc INTEGER NOT NULL, "
                 "payload BLOB NOT NULL)")
    return conn


def run(batch_frames: Sequence[bytes], depth: int, conn: sqlite3.Connection) -> float:
    """Handle every frame doing the first ``depth`` steps; microseconds per order."""
    engine = funded_engine()
    orders = 0
    started = time.perf_counter()
    for frame in batch_frames:
        batch = decode_request(frame)
        assert isinstance(batch, BatchRequest)
        rows: list[tuple[int, int, int, bytes]] = []
        for raw in batch.requests:
            r = decode_batch_item(raw)
            assert isinstance(r, OrderRequest)
            orders += 1
            if depth < 2:
                continue
            command = NewOrder(1 + orders % 2, r.symbol, r.side, r.type, r.price, r.qty, r.tif, r.post_only,
                               r.client_order_id, r.stop_price, r.expire_ts, r.display_qty)
            ts = time.time_ns()
            events = engine.apply(command, ts)
            if depth >= 3:
                payload = encode_command(command)
                rows.append((engine.seq, ts, checksum(engine.seq, ts, payload), payload))
            if depth >= 4:
                first = events[0]
                assert isinstance(first, Ack)
                reply_frame(r.id, first, ts)
                for event in events:
                    if isinstance(event, Match):
                        fill_frames(event, ts)
        if rows:  # as the journal writes them: one multi-row INSERT in one transaction
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO records VALUES " + ",".join(["(?, ?, ?, ?)"] * len(rows)),
                         [value for row in rows for value in row])
            conn.execute("COMMIT")
    return (time.perf_counter() - started) / orders * 1e6


def main() -> None:
    """Parse the options, run every step ``--repeat`` times, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", type=int, default=100_000, help="orders per round (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per step; the best counts (default 3)")
    args = parser.parse_args()
    batch_frames = frames(args.n)
    result: dict[str, object] = {"tool": "gateway_floor", "orders": args.n, "engine": engine_build().description}
    with tempfile.TemporaryDirectory(prefix="exch-floor-") as tmp:
        for depth, step in enumerate(STEPS, start=1):
            rounds = []
            for i in range(args.repeat):
                directory = Path(tmp) / f"{depth}-{i}"
                directory.mkdir()
                conn = journal(directory)
                rounds.append(run(batch_frames, depth, conn))
                conn.close()
            result[f"{step}_us_per_order"] = round(min(rounds), 2)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
