"""Child process for the crash tests: append under load until killed.

Usage: ``python crash_child.py HOME SEED``. Opens (recovering) the SQLite store
in HOME, prints ``ready SEQ``, then submits random orders, cancels and
deposits as fast as it can and prints every committed seq (one line per
commit, from the writer thread). The parent kills it with SIGKILL.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from exchange.engine import Cancel, Command, Deposit, Done, NewOrder, Open
from exchange.journal import JournalConfig
from exchange.ledger import Ledger
from exchange.store.sqlite import SQLiteStore
from tests.journal.streams import SETUP


def main() -> None:
    home, seed = Path(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    out = sys.stdout
    store = SQLiteStore(home, bcrypt_rounds=4)
    config = JournalConfig(
        segment_records=2_000, flush_records=500, flush_interval=0.001, checkpoint_every=3_000
    )
    ledger = Ledger.open(store, config=config)

    def committed(seq: int) -> None:
        out.write(f"{seq}\n")
        out.flush()

    if ledger.seq == 0:
        for command in SETUP:
            ledger.submit(command)
    ledger.writer.flush()  # "ready N" promises that N is durable
    out.write(f"ready {ledger.seq}\n")
    out.flush()
    ledger.writer.add_listener(committed)
    submit = ledger.submit
    resting: dict[int, int] = {}  # order id -> user, from the engine's own events
    while True:
        r = rng.random()
        user = rng.randrange(1, 5)
        symbol = "AAA" if r < 0.5 else "BBB"
        if resting and r < 0.3:
            order_id = rng.choice(list(resting)) if len(resting) < 64 else next(iter(resting))
            command: Command = Cancel(resting[order_id], order_id)
        elif r < 0.8:
            side = "buy" if rng.random() < 0.5 else "sell"
            command = NewOrder(user, symbol, side, "limit", rng.randrange(95, 106), rng.randrange(1, 9))
        else:
            command = Deposit(user, cash=10_000, symbol=symbol, qty=100)
        for event in submit(command)[1]:
            if type(event) is Open:
                resting[event.order_id] = command.user  # type: ignore[union-attr]
            elif type(event) is Done and event.seq:
                resting.pop(event.order_id, None)


if __name__ == "__main__":
    main()
