"""``exch serve --archive-to DIR``: the running exchange moves old journal segments out by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

from exchange.journal.config import JournalConfig
from exchange.protocol import StatsMessage
from exchange.store import open_store

from .conftest import Exchange, MakeExchange, Pushes, run_exch

SMALL = JournalConfig(segment_records=40, checkpoint_every=100, flush_interval=0.0005)


async def trade(ex: Exchange, rounds: int) -> tuple[str, str]:
    """``rounds`` crossing pairs of orders: four journal records each."""
    seller = await ex.trader(shares={"ACME": 10_000})
    buyer = await ex.trader(cash=10**9)
    for i in range(rounds):
        await seller.order("ACME", "sell", 1, price=1_000 + i % 7)
        await buyer.order("ACME", "buy", 1, price=1_010)
    return seller.user or "", buyer.user or ""


async def test_the_server_archives_what_no_checkpoint_needs_and_everything_still_replays(
    make_exchange: MakeExchange, tmp_path: Path
) -> None:
    archive_dir = tmp_path / "archive"
    ex = make_exchange(journal=SMALL, archive_to=archive_dir, archive_interval_s=0.3)
    admin = await ex.admin()
    pushes = Pushes(admin)
    await admin.subscribe("stats")
    _, buyer = await trade(ex, 150)

    def archived() -> list[str]:
        return [e.text for m in pushes.of(StatsMessage) for e in m.events if e.text.startswith("archived ")]

    await pushes.wait_until(lambda _: bool(archived()), timeout=30)
    assert f"to {archive_dir}" in archived()[0]
    files = sorted(archive_dir.glob("*.seg"))
    assert files, "the event said archived, but no file is there"
    live_before = {p.name for p in (ex.home / "journal").glob("*.seg")}
    assert not live_before & {p.name for p in files}  # moved, not copied

    await admin.close()
    await ex.close_sessions()
    await asyncio.to_thread(ex.server.stop)

    # the whole history still verifies with the archive, and a plain replay says where it is
    verified = await asyncio.to_thread(run_exch, "replay", "--verify", "--archive", str(archive_dir), home=ex.home)
    assert verified.returncode == 0, verified.stderr
    without = await asyncio.to_thread(run_exch, "replay", "--verify", home=ex.home)
    assert without.returncode != 0 and str(archive_dir) in without.stderr and "Traceback" not in without.stderr

    # and the exchange restarts from its checkpoint with every position intact
    store = open_store(home=ex.home)
    try:
        archived_rows = store.archived_segments()
    finally:
        store.close()
    # the server went on archiving every 0.3 s until it stopped: compare what is there now
    archived_files = {p.name for p in archive_dir.glob("*.seg")}
    assert {p.name for p in files} <= archived_files
    assert {f"{a.name}.seg" for a in archived_rows} == archived_files
    again = make_exchange(home=ex.home, journal=SMALL)
    trader = await again.connect()
    await trader.login(buyer, f"pw-{buyer}")
    assert (await trader.balance()).positions["ACME"].qty == 150


async def test_archive_to_inside_the_journal_is_refused_before_starting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = await asyncio.to_thread(run_exch, "serve", "--archive-to", str(home / "journal" / "old"), home=home)
    assert result.returncode != 0
    assert result.stderr.strip().startswith("exch: error: --archive-to must be outside the live journal")
    assert "Traceback" not in result.stderr
