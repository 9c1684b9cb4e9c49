"""Churn a symbol's book at a steady rate and (optionally) measure a process's CPU meanwhile.

The load for the trading client's CPU figure (docs/trade.md): N driver
connections keep placing resting orders near the middle of ACME and canceling
their oldest ones, so the book changes ``--rate`` times a second (each order
and each cancel is one ``l3`` change; nothing trades: bids stay below 100.00,
asks above). With ``--pid`` it reads that process's CPU time from
``/proc/PID/stat`` over the run and prints the share of one core::

    python -m tests.trade.book_churn --home /tmp/x --rate 1000 --seconds 30 --pid $(pgrep -f 'exch trade')

The drivers are users ``churn1``, ``churn2``, … created (and funded) through the
local admin on first use.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import time
from pathlib import Path

from client import ExchError, Session
from exchange.info import read_server_info
from exchange.protocol import AckMessage, CancelRequest, ErrorMessage, Message, OrderRequest

PER_CONNECTION = 300
"""Book changes per second per driver connection (under the default 500 orders/s limit)."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def driver(url: str, home: Path, name: str, rate: float, stop: float, counts: list[int]) -> None:
    """Place and cancel resting ACME orders at ``rate`` changes per second until ``stop``."""
    s = await Session.connect(url, home=home, proxy=None)
    await s.login(name, f"pw-{name}")
    await s.cancel_all()
    resting: collections.deque[int] = collections.deque()
    rng = random.Random(name)
    tick = 0.02
    per_tick = max(2, round(rate * tick))
    inflight: set[asyncio.Task[None]] = set()

    async def send(reqs: list[OrderRequest | CancelRequest]) -> None:
        replies: list[Message] = await s.batch(reqs)
        for reply in replies:
            if isinstance(reply, AckMessage) and reply.status == "open":
                resting.append(reply.order_id)
            if not isinstance(reply, ErrorMessage):
                counts[0] += 1

    next_at = time.monotonic()
    try:
        while time.monotonic() < stop:
            reqs: list[OrderRequest | CancelRequest] = []
            while len(reqs) < per_tick:
                if len(resting) > 40:
                    reqs.append(CancelRequest(order_id=resting.popleft()))
                    continue
                side = rng.choice(("buy", "sell"))
                price = 10000 - rng.randint(1, 20) if side == "buy" else 10000 + rng.randint(1, 20)
                reqs.append(OrderRequest(symbol="ACME", side=side, qty=rng.randint(1, 50), price=price))
                if len(reqs) < per_tick and resting:
                    reqs.append(CancelRequest(order_id=resting.popleft()))
            task = asyncio.create_task(send(reqs))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            next_at += tick
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await asyncio.gather(*inflight, return_exceptions=True)
    finally:
        await s.cancel_all()
        await s.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=1000.0, help="book changes per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pid", type=int, help="process whose CPU to measure")
    args = parser.parse_args()
    info = read_server_info(args.home)
    if info is None:
        raise SystemExit(f"no server running on {args.home}")
    n = max(1, round(args.rate / PER_CONNECTION))
    admin = await Session.connect(info.url, home=args.home, proxy=None)
    await admin.login("admin", (args.home / "admin-password").read_text().strip())
    for i in range(1, n + 1):
        with contextlib.suppress(ExchError):  # created by an earlier run
            await admin.user_add(f"churn{i}", f"pw-churn{i}", cash=10**12, positions={"ACME": 10**7})
    await admin.close()
    counts = [0]
    warmup = 3.0
    stop = time.monotonic() + warmup + args.seconds
    tasks = [asyncio.create_task(driver(info.url, args.home, f"churn{i}", args.rate / n, stop, counts))
             for i in range(1, n + 1)]
    await asyncio.sleep(warmup)
    c0, t0 = counts[0], time.monotonic()
    cpu0 = cpu_seconds(args.pid) if args.pid else 0.0
    await asyncio.sleep(args.seconds - 0.5)
    c1, t1 = counts[0], time.monotonic()
    cpu1 = cpu_seconds(args.pid) if args.pid else 0.0
    await asyncio.gather(*tasks)
    rate = (c1 - c0) / (t1 - t0)
    print(f"book changes: {rate:,.0f}/s over {t1 - t0:.1f} s ({n} driver connections)")
    if args.pid:
        share = 100 * (cpu1 - cpu0) / (t1 - t0)
        print(f"process {args.pid}: {cpu1 - cpu0:.2f} CPU s in {t1 - t0:.1f} s = {share:.1f}% of one core")


if __name__ == "__main__":
    asyncio.run(main())
