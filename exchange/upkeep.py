"""The server's upkeep around serving: listings at start, the collector, loop lag, archiving.

None of it is on an order's path; :mod:`exchange.server` calls these once at
start or runs them as background tasks.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from exchange.engine.commands import AddSymbol
from exchange.journal.archive import ArchiveResult, archive
from exchange.ledger import Ledger
from exchange.store import open_store
from exchange.store.base import Store, StoreError

if TYPE_CHECKING:
    from exchange.gateway.stats import Stats
    from exchange.server import ServerConfig

__all__ = [
    "DEFAULT_SYMBOLS",
    "archive_forever",
    "archive_once",
    "ensure_symbols",
    "quiet_collector",
    "record_symbols",
    "watch_loop_lag",
]

log = logging.getLogger("exch.server")

DEFAULT_SYMBOLS: tuple[tuple[str, int, int], ...] = (("ACME", 1, 1), ("BOLT", 1, 1), ("CHIP", 1, 1))
"""Listed on a first start that names no symbols: ``(symbol, tick, lot)``."""


def quiet_collector() -> None:
    """Keep what lives as long as the server out of the collector's scans.

    Everything built so far (the recovered engine, the hub) is frozen, and the
    young generation is collected less often, so that a full collection does not
    hold replies back for milliseconds.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def ensure_symbols(ledger: Ledger, wanted: Sequence[str], say: Callable[[str], None]) -> None:
    """List ``wanted`` (or, on a first start with none, the defaults) that the engine lacks."""
    books = ledger.engine.books
    if wanted:
        todo = [(s, 1, 1) for s in wanted if s not in books]
    elif not books:
        todo = list(DEFAULT_SYMBOLS)
        say("first start: listing the default symbols " + ", ".join(s for s, _, _ in todo))
    else:
        todo = []
    for symbol, tick, lot in todo:
        _, events = ledger.submit(AddSymbol(symbol, tick, lot))
        reply = events[0]
        if getattr(reply, "code", None):
            raise ValueError(f"cannot list symbol {symbol!r}: {getattr(reply, 'message', '')}")


def record_symbols(store: Store, ledger: Ledger) -> None:
    """Copy the engine's listings into the store's symbol catalog (the journal stays the truth)."""
    known = {info.symbol for info in store.symbols()}
    for symbol, book in sorted(ledger.engine.books.items()):
        if symbol not in known:
            store.add_symbol(symbol, tick=book.tick, lot=book.lot)


async def watch_loop_lag(stats: Stats, interval: float = 0.1) -> None:
    """Measure how late the event loop wakes up, for ``stats`` (forever)."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(interval)
        stats.loop_lag_ms = max(0.0, (loop.time() - start - interval) * 1000)


async def archive_forever(
    config: ServerConfig, home: Path, note: Callable[[str, str], None], say: Callable[[str], None]
) -> None:
    """``--archive-to``: at start and every ``archive_interval_s``, archive what no kept checkpoint needs.

    The work runs in a thread on a store connection of its own, as ``exch journal
    archive`` would from another process; trading goes on meanwhile.
    """
    assert config.archive_to is not None
    dest = config.archive_to
    while True:
        try:
            result = await asyncio.to_thread(archive_once, config, home, dest)
        except (StoreError, OSError) as exc:
            log.error("journal archive to %s failed: %s", dest, exc)
            note("admin", f"journal archive to {dest} failed: {exc}")
        else:
            if result.moved:
                first, last = result.moved[0].segment.first_seq, result.moved[-1].segment.last_seq
                text = (f"archived {len(result.moved)} journal segment(s), records {first}..{last} "
                        f"({result.freed:,} bytes), to {dest}")
                say(text)
                note("admin", text)
        await asyncio.sleep(config.archive_interval_s)


def archive_once(config: ServerConfig, home: Path, dest: Path) -> ArchiveResult:
    """Archive into ``dest`` once, on a store connection of its own."""
    store = open_store(config.db, home=home, bcrypt_rounds=config.bcrypt_rounds)
    try:
        return archive(store, dest, report=log.warning)
    finally:
        store.close()


