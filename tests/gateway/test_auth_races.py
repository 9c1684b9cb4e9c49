"""Logins racing ``user_disable`` and password changes; what revokes a reconnect token.

Real in-process servers over real TLS. bcrypt runs at cost 4 here, so the races
are widened on purpose: several logins at once, repeated, and for the password
change a bcrypt pool kept busy by logins of a user whose hash is costly. Those
widened races almost always let the store's one thread finish a racing login
first, so they pass without the gateway's revocation count; the last test holds a
login on a real store between its read and its decision, and fails without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
import pytest

from client import ClientError, ExchError, Session
from client.errors import SessionClosed
from exchange.auth import LoginThrottle, TokenSigner
from exchange.gateway.login import Logins
from exchange.paths import db_path
from exchange.store.base import User
from exchange.store.sqlite import SQLiteStore

from .conftest import ROUNDS, Exchange, MakeExchange, run_exch, unique

CASH = 1_000_000
LOGINS = 5
"""Password logins of one user in flight at once (the per-user throttle's limit)."""


def _set_password(home: Path, name: str, password: str, rounds: int) -> None:
    """A password change written to the store by another process, behind the server's back
    (``exch user passwd`` itself goes through the running server's ``user_passwd``)."""
    store = SQLiteStore(home, bcrypt_rounds=rounds)
    try:
        store.set_password(name, password)
    finally:
        store.close()


async def _auth_failed(session: Session, **login: str) -> None:
    with pytest.raises(ExchError) as info:
        await (session.login_token(login["token"]) if "token" in login
               else session.login(login["username"], login["password"]))
    assert info.value.code == "auth_failed"


async def _race_disable(exchange: Exchange, logins: list[asyncio.Task[object]], conns: list[Session],
                        name: str, *logged_in: Session, passwd: bool = False) -> None:
    """Disable ``name`` (or with ``passwd`` give it a new password) while ``logins`` are in
    flight on ``conns``; then nobody of ``name`` trades.

    ``logged_in``: sessions of ``name`` logged in before (the change closes them).
    """
    admin = await exchange.admin()
    await asyncio.sleep(0.01)  # let the login tasks send their frames first
    disabled = await (admin.user_passwd(name, "changed-pw") if passwd else admin.user_disable(name))
    # Every connection tries to trade once the disable is answered; on one whose login
    # is still in flight the server reads the order after the login is done.
    orders = await asyncio.gather(*(c.order("ACME", "buy", 1, price=100) for c in conns), return_exceptions=True)
    assert [o for o in orders if not isinstance(o, ClientError)] == []
    results = await asyncio.gather(*logins, return_exceptions=True)
    admitted = 0
    for conn, result in zip(conns, results, strict=True):
        if isinstance(result, ExchError):
            assert result.code == "auth_failed"
        else:  # logged in before the disable: the disable closed it
            assert result is None or isinstance(result, SessionClosed) or hasattr(result, "token")
            assert (await conn.wait_closed()).code == 1008
            admitted += 1
    for conn in logged_in:
        assert (await conn.wait_closed()).code == 1008
    assert disabled.sessions_closed >= admitted + len(logged_in)
    assert name not in {x.user for x in (await admin.sessions()).sessions}


async def test_password_logins_in_flight_when_the_user_is_disabled_never_trade(exchange: Exchange) -> None:
    for _ in range(3):  # 3 x 5 refused logins stay under the per-address throttle (20)
        name, password = await exchange.add_user(cash=CASH)
        # A hash of cost 10 (production's is 12) takes long enough to check that the
        # disable is answered while the logins are in bcrypt.
        await asyncio.to_thread(_set_password, exchange.home, name, password, 10)
        conns = [await exchange.connect() for _ in range(LOGINS)]
        logins: list[asyncio.Task[object]] = [asyncio.create_task(c.login(name, password)) for c in conns]
        await _race_disable(exchange, logins, conns, name)


@pytest.mark.parametrize("change", ["disable", "passwd"])
async def test_token_logins_in_flight_when_the_user_is_disabled_or_the_password_changed_never_trade(
    exchange: Exchange, change: str
) -> None:
    passwd = change == "passwd"
    for _ in range(3):
        name, password = await exchange.add_user(cash=CASH)
        first = await exchange.connect()
        token = (await first.login(name, password)).token
        conns = [await exchange.connect() for _ in range(LOGINS)]
        logins: list[asyncio.Task[object]] = [asyncio.create_task(c.login_token(token)) for c in conns]
        await _race_disable(exchange, logins, conns, name, first, passwd=passwd)
        if passwd:  # the new password works, and the account is untouched
            s = await exchange.connect()
            assert (await s.login(name, "changed-pw")).user == name and (await s.balance()).cash == CASH


async def test_a_token_issued_before_a_disable_never_works_again(exchange: Exchange) -> None:
    admin = await exchange.admin()
    name, password = await exchange.add_user(cash=CASH)
    first = (await (await exchange.connect()).login(name, password)).token
    second = (await (await exchange.connect()).login_token(first)).token  # a token from a token login
    await admin.user_disable(name)
    for token in (first, second):
        await _auth_failed(await exchange.connect(), token=token)
    await admin.user_enable(name)
    for token in (first, second):  # enabling does not bring them back
        await _auth_failed(await exchange.connect(), token=token)
    fresh = await exchange.connect()
    third = (await fresh.login(name, password)).token
    again = await exchange.connect()
    assert (await again.login_token(third)).user == name
    assert (await again.balance()).cash == CASH


async def test_an_offline_disable_and_enable_revoke_tokens(exchange: Exchange, make_exchange: MakeExchange) -> None:
    name, password = await exchange.add_user(cash=CASH)
    token = (await (await exchange.connect()).login(name, password)).token
    await exchange.close_sessions()
    await asyncio.to_thread(exchange.server.stop)
    for action in ("disable", "enable"):  # no server: the CLI changes the store itself
        result = await asyncio.to_thread(run_exch, "user", action, name, home=exchange.home)
        assert result.returncode == 0, result.stderr
    restarted = make_exchange(exchange.home)
    await _auth_failed(await restarted.connect(), token=token)
    s = await restarted.connect()
    assert (await s.login(name, password)).user == name


async def test_exch_user_passwd_revokes_tokens_even_back_to_the_same_password(exchange: Exchange) -> None:
    name, password = await exchange.add_user(cash=CASH)
    token = (await (await exchange.connect()).login(name, password)).token
    result = await asyncio.to_thread(
        run_exch, "user", "passwd", name, "--password-stdin", home=exchange.home, input=f"{password}\n"
    )
    assert result.returncode == 0, result.stderr
    await _auth_failed(await exchange.connect(), token=token)
    assert (await (await exchange.connect()).login(name, password)).user == name


async def test_a_password_change_during_a_password_login_refuses_it(exchange: Exchange) -> None:
    slow, slow_pw = await exchange.add_user()
    # Checking this hash takes ~0.5 s: two such logins hold both of the server's bcrypt threads.
    await asyncio.to_thread(_set_password, exchange.home, slow, slow_pw, 13)
    for _ in range(3):
        victim, old_pw = await exchange.add_user(cash=CASH)
        busy = [asyncio.create_task((await exchange.connect()).login(slow, slow_pw)) for _ in range(2)]
        await asyncio.sleep(0.1)
        v = await exchange.connect()
        login = asyncio.create_task(v.login(victim, old_pw))
        await asyncio.sleep(0.1)  # its hash has been read; its check waits for a bcrypt thread
        await asyncio.to_thread(_set_password, exchange.home, victim, "brand-new", ROUNDS)
        if any(t.done() for t in busy):  # bcrypt was free before the change: try again
            await asyncio.gather(login, *busy, return_exceptions=True)
            continue
        with pytest.raises(ExchError) as info:
            await login
        assert info.value.code == "auth_failed"
        await asyncio.gather(*busy)
        with pytest.raises(ClientError):
            await v.order("ACME", "buy", 1, price=100)
        assert (await (await exchange.connect()).login(victim, "brand-new")).user == victim
        return
    pytest.fail("the bcrypt threads were never busy long enough to race a password change")


# Users as an older version stored them (before users.generation).
_OLD_USERS = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    pw_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('trader', 'admin')),
    disabled INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);
"""


async def test_an_older_homes_users_log_in_after_the_upgrade(tmp_path: Path, make_exchange: MakeExchange) -> None:
    home = tmp_path / "old"
    db_path(home).parent.mkdir(parents=True)
    name, password = unique("old"), "old-password"
    pw_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt(ROUNDS)).decode()
    with contextlib.closing(sqlite3.connect(db_path(home))) as conn, conn:
        conn.executescript(_OLD_USERS)
        conn.execute("INSERT INTO users (name, pw_hash, role, disabled, created) VALUES (?, ?, 'trader', 0, 1)",
                     (name, pw_hash))
    exchange = make_exchange(home)
    s = await exchange.connect()
    token = (await s.login(name, password)).token
    assert (await (await exchange.connect()).login_token(token)).user == name
    await (await exchange.admin()).user_disable(name)
    await _auth_failed(await exchange.connect(), token=token)


class _PausingStore(SQLiteStore):
    """A real store whose ``get_user`` hands back what it read only when the test says so: a login
    is held between reading its user and deciding, where a change can be answered meanwhile."""

    def __init__(self, home: Path) -> None:
        super().__init__(home, bcrypt_rounds=ROUNDS)
        self.read = threading.Event()
        self.go = threading.Event()

    def get_user(self, name: str) -> User | None:
        user = super().get_user(name)
        self.read.set()
        assert self.go.wait(10)
        return user


@pytest.mark.parametrize("change", ["disable", "passwd", None])
@pytest.mark.parametrize("by", ["token", "password"])
async def test_a_login_that_read_its_user_before_a_change_was_answered_is_refused(
    tmp_path: Path, by: str, change: str | None
) -> None:
    """Deterministic: the login has read ``fred`` (enabled, old generation) when the change is
    written and answered (the admin handler's store write, then ``Logins.revoke``); the login then
    decides on what it read. Only the revocation count can refuse it. ``None``: no change, the
    paused login goes through (the pause alone refuses nothing)."""
    store = _PausingStore(tmp_path)
    fred = store.add_user("fred", "fred-pw")
    with ThreadPoolExecutor(1) as store_thread:
        logins = Logins(store=store, store_executor=store_thread, bcrypt_executor=None,
                        signer=TokenSigner(b"k" * 32), throttle=LoginThrottle(), bcrypt_rounds=ROUNDS)
        token, _ = logins.issue(fred)
        login = asyncio.create_task(
            logins.by_token(token) if by == "token" else logins.by_password("fred", "fred-pw", "10.0.0.1"))
        assert await asyncio.to_thread(store.read.wait, 10)  # it has read fred, still as before
        if change is not None:
            writer = SQLiteStore(tmp_path, bcrypt_rounds=ROUNDS)  # the change, through another connection
            try:
                if change == "disable":
                    writer.set_disabled("fred", True)
                else:
                    writer.set_password("fred", "new-pw")
            finally:
                writer.close()
            logins.revoke("fred")  # answered: the sessions are closed, logins in flight must fail
        store.go.set()
        user = await login
    store.close()
    if change is None:
        assert user is not None and user.name == "fred"
    else:
        assert user is None
