"""The console's CPU while the book changes 1,000 times a second.

Usage::

    python -m tests.console.measure_cpu [--rate 1000] [--seconds 30] [--size 120x34]

Starts ``exch serve`` on a fresh home (a child process), the trading driver
(:mod:`tests.console.drive`, another child) at ``--rate`` book changes a
second, and the console in this process, headless (``App.run_test``), with
the same rendering and repaint rate as in a terminal. After a warm-up it
reads this process's CPU time over ``--seconds`` and prints it as a share
of one core, with what the console saw (orders/s, trades/s, tape lines).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from console.app import ConsoleApp
from console.config import resolve

__all__ = ["measure"]


def _start_server(home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    env.pop("EXCH_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange", "serve", "--home", str(home), "--port", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if json.loads((home / "server.json").read_text()).get("pid") == proc.pid:
                return proc
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


async def measure(*, rate: float, seconds: float, size: tuple[int, int], warmup: float = 5.0) -> dict[str, Any]:
    """Run server, driver and console; return the console's CPU share and what it saw."""
    with tempfile.TemporaryDirectory(prefix="exch-cpu-") as tmp:
        home = Path(tmp) / "home"
        server = _start_server(home)
        driver = subprocess.Popen(
            [sys.executable, "-m", "tests.console.drive", "--home", str(home), "--rate", str(rate),
             "--seconds", str(seconds + warmup + 1)],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            app = ConsoleApp(resolve(home, env={}))
            async with app.run_test(size=size) as pilot:
                await pilot.pause(warmup)
                tape0, cpu0, wall0 = app.model.tape_version, time.process_time(), time.monotonic()
                orders: list[float] = []
                trades: list[float] = []
                while time.monotonic() - wall0 < seconds:
                    await asyncio.sleep(1.0)
                    if app.model.stats is not None:
                        orders.append(app.model.stats.orders_per_s)
                        trades.append(app.model.stats.trades_per_s)
                cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
                tape = app.model.tape_version - tape0
            out, _ = driver.communicate(timeout=30)
        finally:
            driver.kill()
            server.terminate()
            driver.wait(10)
            server.wait(30)
    return {
        "cpu_share": cpu / wall,
        "seconds": wall,
        "orders_per_s": sum(orders) / max(len(orders), 1),
        "trades_per_s": sum(trades) / max(len(trades), 1),
        "tape_lines_per_s": tape / wall,
        "driver": out.strip(),  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", default="120x34")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    r = asyncio.run(measure(rate=args.rate, seconds=args.seconds, size=(width, height)))
    print(f"console CPU {r['cpu_share']:.1%} of a core over {r['seconds']:.0f} s at {args.size}; "
          f"server saw {r['orders_per_s']:.0f} orders/s (the driver's book changes are orders + cancels), "
          f"{r['trades_per_s']:.0f} trades/s; tape {r['tape_lines_per_s']:.0f} lines/s; driver: {r['driver']}")


if __name__ == "__main__":
    main()
