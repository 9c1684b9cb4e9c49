"""``exch serve --detach`` / ``status`` / ``stop`` and ``exch user …``, running and stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client import ExchError, Session

from .conftest import MakeExchange, StartProc, read_info, run_exch


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def detached(tmp_path: Path) -> Iterator[list[int]]:
    """Pids of detached servers, killed at teardown if a test left them running."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def balance_of(url: str, home: Path, name: str, password: str) -> tuple[int, dict[str, int]]:
    async with Session.connect(url, home=home, proxy=None) as s:
        await s.login(name, password)
        bal = await s.balance()
    return bal.cash, {sym: p.qty for sym, p in bal.positions.items()}


def one_line_error(result: object) -> str:
    """The CLI failed the way users should see it: non-zero, one stderr line, no traceback."""
    rc, out, err = result.returncode, result.stdout, result.stderr  # type: ignore[attr-defined]
    assert rc != 0, (out, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("exch: error:"), err
    return lines[0]


async def test_detach_status_user_add_stop_then_offline_changes_survive_a_restart(
    tmp_path: Path, detached: list[int], proc_server: StartProc
) -> None:
    home = tmp_path / "home"
    started = await asyncio.to_thread(run_exch, "serve", "--detach", "--port", "0", "--bcrypt-rounds", "4", home=home)
    assert started.returncode == 0, started.stderr
    info = read_info(home)
    assert info is not None
    detached.append(info["pid"])
    assert info["url"] in started.stdout and alive(info["pid"])
    assert info["pid"] != os.getpid()

    status = await asyncio.to_thread(run_exch, "status", home=home)
    assert status.returncode == 0, status.stderr
    assert info["url"] in status.stdout

    added = await asyncio.to_thread(
        run_exch,
        "user",
        "add",
        "bob",
        "--cash",
        "50",
        "--shares",
        "ACME=7",
        "--password-stdin",
        home=home,
        input="bob-pw\n",
    )
    assert added.returncode == 0, added.stderr
    assert await balance_of(info["url"], home, "bob", "bob-pw") == (5000, {"ACME": 7})  # at once, no restart

    stopped = await asyncio.to_thread(run_exch, "stop", home=home)
    assert stopped.returncode == 0, stopped.stderr
    assert wait_gone(info["pid"]), "exch stop returned but the server still runs"
    status = await asyncio.to_thread(run_exch, "status", home=home)
    assert status.returncode != 0

    # while stopped, the CLI changes the home directly
    added = await asyncio.to_thread(
        run_exch,
        "user",
        "add",
        "carol",
        "--cash",
        "3",
        "--shares",
        "BOLT=4",
        "--password-stdin",
        home=home,
        input="carol-pw\n",
    )
    assert added.returncode == 0, added.stderr
    deposited = await asyncio.to_thread(
        run_exch, "user", "deposit", "bob", "--cash", "10", "--shares", "ACME=3", home=home
    )
    assert deposited.returncode == 0, deposited.stderr
    listed = await asyncio.to_thread(run_exch, "user", "list", home=home)
    assert listed.returncode == 0 and {"admin", "bob", "carol"} <= set(listed.stdout.split())

    server = proc_server(home)
    assert await balance_of(server.url, home, "bob", "bob-pw") == (6000, {"ACME": 10})
    assert await balance_of(server.url, home, "carol", "carol-pw") == (300, {"BOLT": 4})


async def test_cli_user_changes_reach_a_running_in_process_server(make_exchange: MakeExchange) -> None:
    ex = make_exchange()
    admin = await ex.admin()
    added = await asyncio.to_thread(
        run_exch, "user", "add", "dave", "--cash", "0.10", "--password-stdin", home=ex.home, input="d\n"
    )
    assert added.returncode == 0, added.stderr
    deposited = await asyncio.to_thread(run_exch, "user", "deposit", "dave", "--shares", "CHIP=2", home=ex.home)
    assert deposited.returncode == 0, deposited.stderr
    assert await balance_of(ex.url, ex.home, "dave", "d") == (10, {"CHIP": 2})
    s = await ex.connect()
    await s.login("dave", "d")
    disabled = await asyncio.to_thread(run_exch, "user", "disable", "dave", home=ex.home)
    assert disabled.returncode == 0, disabled.stderr
    assert (await s.wait_closed()).code == 1008
    assert {u.username: u.disabled for u in (await admin.user_list()).users}["dave"] is True
    enabled = await asyncio.to_thread(run_exch, "user", "enable", "dave", home=ex.home)
    assert enabled.returncode == 0, enabled.stderr
    assert await balance_of(ex.url, ex.home, "dave", "d") == (10, {"CHIP": 2})


async def test_exch_user_passwd_on_a_running_server_closes_the_users_sessions(
    tmp_path: Path, proc_server: StartProc
) -> None:
    server = proc_server(tmp_path / "home")
    home = server.home
    added = await asyncio.to_thread(run_exch, "user", "add", "fred", "--password-stdin", home=home, input="old-pw\n")
    assert added.returncode == 0, added.stderr
    async with Session.connect(server.url, home=home, proxy=None) as s:
        await s.login("fred", "old-pw")
        changed = await asyncio.to_thread(
            run_exch, "user", "passwd", "fred", "--password-stdin", home=home, input="new-pw\n"
        )
        assert changed.returncode == 0, changed.stderr
        closed = await asyncio.wait_for(s.wait_closed(), 10)
        assert (closed.code, closed.reason) == (1008, "password changed")
        assert "1 session closed" in changed.stdout, changed.stdout
    assert await balance_of(server.url, home, "fred", "new-pw") == (0, {})
    ghost = await asyncio.to_thread(run_exch, "user", "passwd", "ghost", "--password-stdin", home=home, input="x\n")
    assert "ghost" in one_line_error(ghost)


def assert_admin_password_file(home: Path, password: str) -> None:
    """``HOME/admin-password`` holds ``password``, is 0600, and no temporary file was left beside it."""
    path = home / "admin-password"
    assert path.read_text() == password + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p.name for p in home.iterdir() if p.name.startswith(".admin-password")]


async def test_exch_user_passwd_admin_keeps_the_admin_password_file_current(
    tmp_path: Path, proc_server: StartProc
) -> None:
    server = proc_server(tmp_path / "home")
    home, old = server.home, server.admin_password
    added = await asyncio.to_thread(run_exch, "user", "add", "fred", "--password-stdin", home=home, input="f-pw\n")
    assert added.returncode == 0, added.stderr
    other = await asyncio.to_thread(run_exch, "user", "passwd", "fred", "--password-stdin", home=home, input="f2\n")
    assert other.returncode == 0 and "admin-password" not in other.stdout, (other.stdout, other.stderr)
    assert (home / "admin-password").read_text().strip() == old  # another user's password: the file stays

    changed = await asyncio.to_thread(
        run_exch, "user", "passwd", "admin", "--password-stdin", home=home, input="new-admin-pw\n"
    )
    assert changed.returncode == 0, changed.stderr
    assert_admin_password_file(home, "new-admin-pw")
    assert f"Saved the new password to {home / 'admin-password'} (mode 0600)" in changed.stdout, changed.stdout
    # the next admin command on this machine logs in with the file, no prompt, no EXCH_ADMIN_PASSWORD
    after = await asyncio.to_thread(run_exch, "user", "add", "gina", "--password-stdin", home=home, input="g\n")
    assert after.returncode == 0, after.stderr
    with pytest.raises(ExchError) as refused:
        await balance_of(server.url, home, "admin", old)
    assert refused.value.code == "auth_failed"


async def test_exch_user_passwd_admin_offline_keeps_the_admin_password_file_current(
    tmp_path: Path, proc_server: StartProc
) -> None:
    home = tmp_path / "home"
    first = proc_server(home)
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    changed = await asyncio.to_thread(
        run_exch, "user", "passwd", "admin", "--password-stdin", home=home, input="offline-pw\n"
    )
    assert changed.returncode == 0, changed.stderr
    assert_admin_password_file(home, "offline-pw")
    assert "Saved the new password to" in changed.stdout, changed.stdout
    proc_server(home)
    after = await asyncio.to_thread(run_exch, "user", "add", "hal", "--password-stdin", home=home, input="h\n")
    assert after.returncode == 0, after.stderr


async def test_cli_errors_are_one_line_on_stderr(make_exchange: MakeExchange, tmp_path: Path) -> None:
    ex = make_exchange()
    await ex.add_user("erin", cash=5)
    home = ex.home
    await asyncio.to_thread(ex.server.stop)  # the offline half of the CLI
    cases = [
        (("user", "add", "x1", "--shares", "ACME=abc", "--password-stdin"), "pw\n", "--shares"),
        (("user", "add", "x2", "--shares", "ACME=-3", "--password-stdin"), "pw\n", "--shares"),
        (("user", "add", "x3", "--role", "king", "--password-stdin"), "pw\n", "--role"),
        (("user", "add", "x4", "--shares", "NOPE=1", "--password-stdin"), "pw\n", "NOPE"),
        (("user", "add", "erin", "--password-stdin"), "pw\n", "erin"),
        (("user", "add", "x5", "--password-stdin"), "\n", "password"),
        (("user", "deposit", "ghost", "--cash", "5"), None, "ghost"),
        (("user", "deposit", "erin"), None, "--cash"),
        (("user", "disable", "ghost"), None, "ghost"),
        (("user", "passwd", "ghost", "--password-stdin"), "pw\n", "ghost"),
        (("serve", "--certfile", str(tmp_path / "nope.pem")), None, "--keyfile"),
    ]
    for args, stdin, mention in cases:
        result = await asyncio.to_thread(run_exch, *args, home=home, input=stdin)
        line = one_line_error(result)
        assert mention in line, (args, line)
    listed = await asyncio.to_thread(run_exch, "user", "list", home=home)
    assert set(listed.stdout.split()) & {"x1", "x2", "x3", "x4", "x5"} == set()  # nothing half-done


async def test_status_when_not_running_exits_non_zero(tmp_path: Path) -> None:
    result = await asyncio.to_thread(run_exch, "status", home=tmp_path / "never")
    assert result.returncode != 0 and "not running" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


async def test_stop_when_not_running_is_an_error(tmp_path: Path) -> None:
    one_line_error(await asyncio.to_thread(run_exch, "stop", home=tmp_path / "never"))


async def test_a_second_server_on_the_same_home_is_refused(tmp_path: Path, proc_server: StartProc) -> None:
    server = proc_server(tmp_path / "home")
    again = await asyncio.to_thread(run_exch, "serve", "--port", "0", home=server.home, timeout=60)
    one_line_error(again)
    detach = await asyncio.to_thread(run_exch, "serve", "--detach", "--port", "0", home=server.home)
    one_line_error(detach)
    assert server.proc.poll() is None


@pytest.mark.parametrize("command", ["serve", "marketdata"])
@pytest.mark.parametrize(
    ("value", "mention"),
    [("not-a-cidr", "'not-a-cidr' is not an IP network"), ("10.0.0.1/8", "did you mean 10.0.0.0/8")],
)
async def test_a_bad_trusted_proxy_is_one_line_and_nothing_starts(
    tmp_path: Path, command: str, value: str, mention: str
) -> None:
    args = (command, "--trusted-proxy", "127.0.0.1/32", "--trusted-proxy", value, "--port", "0")
    line = one_line_error(await asyncio.to_thread(run_exch, *args, home=tmp_path / "home"))
    assert line.startswith("exch: error: --trusted-proxy:") and mention in line, line
    assert not (tmp_path / "home" / "server.json").exists()


@pytest.mark.parametrize("command", ["serve", "marketdata"])
@pytest.mark.parametrize(
    ("args", "mention"),
    [
        (("--trusted-proxy", "127.0.0.1/32", "--proxy-header", "x-client-ip"),
         "--proxy-header: 'x-client-ip' is not one of x-forwarded-for, forwarded, fly-client-ip, x-real-ip"),
        (("--trusted-proxy", "127.0.0.1/32", "--proxy-header", ""), "--proxy-header: '' is not one of"),
        (("--proxy-header", "forwarded"), "--proxy-header needs --trusted-proxy"),
        (("--proxy-header", "nonsense"), "--proxy-header: 'nonsense' is not one of"),
    ],
    ids=["unknown", "empty", "without-trusted-proxy", "unknown-without-trusted-proxy"],
)
async def test_a_bad_proxy_header_is_one_line_and_nothing_starts(
    tmp_path: Path, command: str, args: tuple[str, ...], mention: str
) -> None:
    line = one_line_error(await asyncio.to_thread(run_exch, command, *args, "--port", "0", home=tmp_path / "home"))
    assert line.startswith("exch: error: ") and mention in line, line
    assert not (tmp_path / "home" / "server.json").exists()


async def test_the_proxy_header_reaches_the_server_in_any_case(tmp_path: Path, proc_server: StartProc) -> None:
    server = await asyncio.to_thread(
        proc_server, tmp_path / "home", "--trusted-proxy", "127.0.0.1/32", "--proxy-header", "Fly-Client-IP"
    )
    assert "client addresses from Fly-Client-IP of trusted proxies 127.0.0.1/32" in server.output()
