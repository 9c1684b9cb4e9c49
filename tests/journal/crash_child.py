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

from exchange.engine import Cancel, Deposit, NewOrder
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

    ledger.writer.add_listener(committed)
    if ledger.seq == 0:
        for command in SETUP:
            ledger.submit(command)
    out.write(f"ready {ledger.seq}\n")
    out.flush()
    submit = ledger.submit
    while True:
        r = rng.random()
        user = rng.randrange(1, 5)
        symbol = "AAA" if r < 0.5 else "BBB"
        if r < 0.6:
            side = "buy" if rng.random() < 0.5 else "sell"
            submit(NewOrder(user, symbol, side, "limit", rng.randrange(95, 106), rng.randrange(1, 9)))
        elif r < 0.9:
            submit(Cancel(user, max(1, ledger.engine.next_order_id - rng.randrange(1, 50))))
        else:
            submit(Deposit(user, cash=1_000, symbol=symbol, qty=10))


if __name__ == "__main__":
    main()
