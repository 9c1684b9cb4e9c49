"""Trading load for looking at and measuring the console: resting orders, cancels and some trades.

Usage (against the server running on a home)::

    python -m tests.console.drive --home HOME --rate 1000 [--seconds 60] [--trade-every 10]

It creates four funded traders with the admin password in ``HOME``, then,
every 10 ms, sends its share of ``--rate`` book changes per second: a resting
buy or sell near the middle of each symbol's book, or the cancel of the oldest
one, so the book keeps about 50 orders a side; one request in
``--trade-every`` is an order that crosses (a trade).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections import deque
from pathlib import Path

from client import ExchError, Session
from exchange.info import ADMIN_PASSWORD_FILE, read_server_info

__all__ = ["drive"]

SYMBOLS = ("ACME", "BOLT", "CHIP")
TRADERS = 4
"""Each connection may send 500 orders a second: 1,000 a second takes a few."""
MID = {"ACME": 10_000, "BOLT": 2_500, "CHIP": 40_000}


async def _trader(url: str, home: Path, admin: Session, name: str) -> Session:
    password = f"pw-{name}"
    try:
        await admin.user_add(name, password, cash=10**13, positions=dict.fromkeys(SYMBOLS, 10**9))
    except ExchError as exc:
        if exc.field != "username":
            raise
    session = await Session.connect(url, home=home, queue_size=0)
    await session.login(name, password)
    return session


async def drive(home: Path, *, rate: float = 1000.0, seconds: float = 60.0, trade_every: int = 10,
                prefix: str = "drv") -> int:
    """Send ``rate`` book changes a second for ``seconds``; return how many were sent."""
    info = read_server_info(home)
    if info is None:
        raise SystemExit(f"no server running on {home}")
    secret = (home / ADMIN_PASSWORD_FILE).read_text().strip()
    admin = await Session.connect(info.url, home=home)
    await admin.login("admin", secret)
    tag = f"{prefix}{int(time.time()) % 100000}"
    traders = [await _trader(info.url, home, admin, f"{tag}{i}") for i in range(TRADERS)]
    rng = random.Random(7)
    resting: dict[str, deque[tuple[Session, int]]] = {s: deque() for s in SYMBOLS}
    sent = 0
    tick = 0.01
    start = time.monotonic()
    counter = itertools.count()

    async def one(n: int) -> None:
        symbol = SYMBOLS[n % len(SYMBOLS)]
        trader = traders[n % TRADERS]
        book = resting[symbol]
        mid = MID[symbol] + rng.randint(-20, 20)
        try:
            if trade_every and n % trade_every == 0:
                side = rng.choice(("buy", "sell"))
                px = mid + 200 if side == "buy" else mid - 200
                await trader.order(symbol, side, rng.randint(1, 5), price=px, tif="ioc")
            elif len(book) > 100 or (book and rng.random() < 0.5):
                owner, oid = book.popleft()
                await owner.cancel(oid)
            else:
                side = rng.choice(("buy", "sell"))
                px = mid - rng.randint(5, 60) if side == "buy" else mid + rng.randint(5, 60)
                ack = await trader.order(symbol, side, rng.randint(1, 20), price=px)
                book.append((trader, ack.order_id))
        except ExchError:
            pass  # filled before the cancel, halted symbol, …

    while time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * rate) - sent
        if due > 0:
            await asyncio.gather(*(one(next(counter)) for _ in range(due)))
            sent += due
        await asyncio.sleep(tick)
    elapsed = time.monotonic() - start
    for t in traders:
        await t.close()
    await admin.close()
    print(f"sent {sent} requests in {elapsed:.1f} s ({sent / elapsed:.0f}/s)", flush=True)
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--trade-every", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(drive(args.home, rate=args.rate, seconds=args.seconds, trade_every=args.trade_every))


if __name__ == "__main__":
    main()
