"""The home is its owner's only: 0700 directories, 0600 files, whatever the umask, new or upgraded."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from client import Session
from exchange.protocol import UserAddRequest

from .conftest import MakeExchange, StartProc, read_info, run_exch, unique, wait_healthy
from .test_archive_to import SMALL, trade


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Run the test (and the servers it starts) under the common umask 022."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """``relative path: permission bits`` of ``root`` and everything under it (symlinks skipped)."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(root: Path) -> None:
    loose = {p: oct(m) for p, m in modes(root).items() if m != (0o700 if (root / p).is_dir() else 0o600)}
    assert not loose, f"not owner-only (0700 directories, 0600 files): {loose}"


async def trade_a_little(url: str, home: Path) -> None:
    """Two funded traders cross once, so the journal has segments, fills and WAL files."""
    async with Session.connect(url, home=home, proxy=None) as admin:
        await admin.login("admin", (home / "admin-password").read_text().strip())
        names = [unique("p") for _ in range(2)]
        await admin.batch([UserAddRequest(username=n, password=f"pw-{n}", cash=10**6, positions={"ACME": 100})
                           for n in names])
        for name, side in zip(names, ("buy", "sell"), strict=True):
            async with Session.connect(url, home=home, proxy=None) as s:
                await s.login(name, f"pw-{name}")
                await s.order("ACME", side, 5, price=100)


async def test_a_fresh_home_is_private_while_serving_and_after(
    tmp_path: Path, proc_server: StartProc, loose_umask: None
) -> None:
    home = tmp_path / "home"
    server = proc_server(home)
    await trade_a_little(server.url, home)
    names = set(modes(home))
    assert {"exch.db", "exch.db-wal", "journal", "server.json", "tls/ca.pem", "admin-password"} <= names
    assert any(n.startswith("journal/") and n.endswith(".seg") for n in names)
    assert_private(home)  # while it runs: the WAL and shared-memory files too
    server.signal(signal.SIGTERM)
    assert await asyncio.to_thread(server.wait) == 0
    assert_private(home)


async def test_an_existing_world_readable_home_is_tightened_at_start(
    tmp_path: Path, proc_server: StartProc, loose_umask: None
) -> None:
    home = tmp_path / "home"
    server = proc_server(home)
    await trade_a_little(server.url, home)
    server.signal(signal.SIGTERM)
    assert await asyncio.to_thread(server.wait) == 0
    # what an older exch left under umask 022
    for path in (home, *home.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (home / "notes.txt").write_text("the operator's own file\n")
    (home / "link").symlink_to(tmp_path)  # a symlink: not followed, its target untouched
    tmp_path.chmod(0o755)

    restarted = proc_server(home)
    assert_private(home)
    await trade_a_little(restarted.url, home)
    assert_private(home)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_detached_server_pid_and_log_are_private(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    started = run_exch("serve", "--detach", "--port", "0", "--bcrypt-rounds", "4", home=home)
    try:
        assert started.returncode == 0, started.stderr
        info = read_info(home)
        assert info is not None
        wait_healthy(home, int(info["pid"]))
        assert {"exch.pid", "exch.log"} <= set(modes(home))
        assert_private(home)
    finally:
        stopped = run_exch("stop", home=home)
    assert stopped.returncode == 0, stopped.stderr


async def test_archived_and_restored_segments_are_private_and_so_is_a_new_archive_directory(
    make_exchange: MakeExchange, tmp_path: Path, loose_umask: None
) -> None:
    ex = make_exchange(journal=SMALL)
    await trade(ex, 150)
    await ex.close_sessions()
    await asyncio.to_thread(ex.server.stop)
    os.umask(0o022)  # the in-process server made this process's umask 077: the CLI runs under 022
    dest = tmp_path / "archive"
    moved = run_exch("journal", "archive", "--to", str(dest), home=ex.home)
    assert moved.returncode == 0, moved.stderr
    assert list(dest.glob("*.seg")), moved.stdout
    assert_private(dest)
    back = run_exch("journal", "restore", "--from", str(dest), home=ex.home)  # the segments, live again
    assert back.returncode == 0 and "restored" in back.stdout, back.stderr
    assert_private(ex.home)
