"""Gateway authentication helpers: bcrypt off the loop, tokens, login throttling."""

from __future__ import annotations

import asyncio
import base64
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
import pytest

from exchange.auth import (
    LoginThrottle,
    TokenSigner,
    bcrypt_executor,
    hash_password,
    hash_password_async,
    load_or_create_secret,
    verify_or_dummy,
    verify_password,
)

FAST = 4  # bcrypt cost for correctness tests
NOW = 1_700_000_000.0
SECRET = b"s" * 32


@pytest.fixture(scope="module")
def hashed() -> bytes:
    return hash_password("correct horse", rounds=FAST)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = bcrypt_executor(max_workers=4)
    yield executor
    executor.shutdown(wait=True)


# --------------------------------------------------------------------------- passwords


async def test_verify_password_right_and_wrong(hashed: bytes, pool: ThreadPoolExecutor) -> None:
    assert await verify_password("correct horse", hashed, executor=pool)
    assert not await verify_password("correct horse!", hashed, executor=pool)
    assert not await verify_password("", hashed, executor=pool)
    assert await verify_password("correct horse", hashed)  # the loop's default pool


async def test_verify_password_odd_inputs(hashed: bytes) -> None:
    assert not await verify_password("x" * 73, hashed)  # bcrypt cannot take it: refused, not truncated
    assert not await verify_password("\ud800", hashed)  # not encodable
    assert not await verify_password("correct horse", b"not a bcrypt hash")
    unicode_hash = hash_password("pässwörd ✓", rounds=FAST)
    assert await verify_password("pässwörd ✓", unicode_hash)
    assert not await verify_password("passwort ✓", unicode_hash)


def test_hash_password_refuses_long_passwords() -> None:
    with pytest.raises(ValueError):
        hash_password("é" * 37)  # 74 bytes
    assert bcrypt.checkpw(b"x" * 72, hash_password("x" * 72, rounds=FAST))


async def test_hash_password_async(pool: ThreadPoolExecutor) -> None:
    hashed = await hash_password_async("pw", rounds=FAST, executor=pool)
    assert hashed.startswith(b"$2b$04$")
    assert await verify_password("pw", hashed, executor=pool)


async def test_verify_or_dummy(hashed: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert await verify_or_dummy("correct horse", hashed, rounds=FAST)
    assert not await verify_or_dummy("wrong", hashed, rounds=FAST)
    seen: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed_password: bytes) -> bool:
        seen.append(hashed_password)
        return real(password, hashed_password)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    # no such user: still one bcrypt check, at the cost asked for, and False
    assert not await verify_or_dummy("correct horse", None, rounds=FAST)
    assert not await verify_or_dummy("", None, rounds=FAST)
    assert not await verify_or_dummy("x" * 100, None, rounds=FAST)
    assert len(seen) == 3
    assert all(h.startswith(b"$2b$04$") and len(h) == 60 for h in seen)
    # an existing user with an over-long password also costs one check
    assert not await verify_or_dummy("x" * 100, hashed, rounds=FAST)
    assert len(seen) == 4


async def test_bcrypt_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = hash_password("pw", rounds=12)
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed_password: bytes) -> bool:
        threads.append(threading.get_ident())
        return real(password, hashed_password)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.01)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    with bcrypt_executor(max_workers=4) as pool:
        results = await asyncio.gather(
            verify_password("pw", hashed, executor=pool),
            verify_password("wrong", hashed, executor=pool),
            verify_or_dummy("pw", None, executor=pool),
            verify_or_dummy("pw", hashed, executor=pool),
        )
    done.set()
    await tick_task
    assert list(results) == [True, False, False, True]
    assert len(threads) == 4
    assert loop_thread not in threads
    assert ticks > 0  # the loop kept running while four cost-12 checks were in progress


# --------------------------------------------------------------------------- tokens


def test_token_round_trip() -> None:
    signer = TokenSigner(SECRET, ttl_s=3600)
    token, expiry_ns = signer.issue("alice", 3, NOW)
    assert expiry_ns == (int(NOW) + 3600) * 1_000_000_000
    assert signer.verify(token, NOW) == ("alice", 3)
    assert signer.verify(token, NOW + 3599) == ("alice", 3)
    assert len(token) < 100
    assert all(c.isalnum() or c in "-_." for c in token)


def test_token_odd_usernames() -> None:
    signer = TokenSigner(SECRET)
    for name in ["a.b.c", "ünïcødé", "x" * 64, "with space", "=/+"]:
        token, _ = signer.issue(name, 0, NOW)
        assert signer.verify(token, NOW) == (name, 0)
    with pytest.raises(ValueError):
        signer.issue("", 0, NOW)
    with pytest.raises(ValueError):
        signer.issue("bob", -1, NOW)


def test_token_expiry() -> None:
    signer = TokenSigner(SECRET, ttl_s=60)
    token, expiry_ns = signer.issue("alice", 0, NOW)
    assert signer.verify(token, expiry_ns / 1e9 - 0.5) is not None
    assert signer.verify(token, expiry_ns / 1e9) is None
    assert signer.verify(token, NOW + 10_000) is None


def test_token_wrong_secret_and_tampering() -> None:
    signer = TokenSigner(SECRET)
    token, _ = signer.issue("alice", 1, NOW)
    assert TokenSigner(b"t" * 32).verify(token, NOW) is None
    version, user, generation, expiry, mac = token.split(".")
    mallory = base64.urlsafe_b64encode(b"mallory").rstrip(b"=").decode()
    forged = [
        ".".join([version, mallory, generation, expiry, mac]),  # other user
        ".".join([version, user, "2", expiry, mac]),  # other generation
        ".".join([version, user, generation, str(int(expiry) + 86_400), mac]),  # longer life
        ".".join(["2", user, generation, expiry, mac]),  # other version
        ".".join([version, user, generation, expiry, mac[:-1] + ("A" if mac[-1] != "A" else "B")]),
        ".".join([version, user, generation, expiry]),  # no mac
        token + ".",
        token + "x",
    ]
    for bad in forged:
        assert signer.verify(bad, NOW) is None, bad


def test_token_generation_is_returned_for_revocation() -> None:
    signer = TokenSigner(SECRET)
    old, _ = signer.issue("alice", 1, NOW)
    new, _ = signer.issue("alice", 2, NOW)
    current_generation = 2  # the gateway bumped it on a password change
    assert signer.verify(old, NOW) == ("alice", 1)
    verified = [signer.verify(t, NOW) for t in (old, new)]
    accepted = [v for v in verified if v is not None and v[1] == current_generation]
    assert accepted == [("alice", 2)]


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "....",
        "1....",
        "1.YWxpY2U.1.1.",
        "1.YWxpY2U.-1.99999999999.AAAA",
        "not a token",
        "é" * 10,
        "\x00",
        "\ud800",
        "1." * 600,
        "x" * 5000,
    ],
)
def test_token_garbage(garbage: str) -> None:
    assert TokenSigner(SECRET).verify(garbage, NOW) is None


def test_token_signer_config() -> None:
    with pytest.raises(ValueError):
        TokenSigner(b"short")
    with pytest.raises(ValueError):
        TokenSigner(SECRET, ttl_s=0)
    assert TokenSigner(SECRET).ttl_s == 86_400


def test_load_or_create_secret(tmp_path: Path) -> None:
    path = tmp_path / "home" / "token-secret"
    secret = load_or_create_secret(path)
    assert len(secret) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == secret  # reused
    assert [p.name for p in path.parent.iterdir()] == ["token-secret"]  # no temporary files left
    path.chmod(0o644)
    assert load_or_create_secret(path) == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(tmp_path / "other") != secret
    path.write_bytes(b"short")
    with pytest.raises(ValueError):
        load_or_create_secret(path)


# --------------------------------------------------------------------------- throttling


def _fail(throttle: LoginThrottle, user: str, address: str, now: float, times: int) -> None:
    for _ in range(times):
        assert throttle.check(user, address, now) == 0.0
        throttle.failure(user, address, now)


def test_throttle_per_user() -> None:
    throttle = LoginThrottle(per_user=5, per_address=100, window_s=60, lockout_s=60)
    _fail(throttle, "alice", "10.0.0.1", NOW, 4)
    assert throttle.check("alice", "10.0.0.2", NOW) == 0.0  # fifth attempt allowed
    throttle.failure("alice", "10.0.0.2", NOW + 1)
    # locked for 60 s from the fifth failure, from every address
    assert throttle.check("alice", "10.0.0.3", NOW + 1) == pytest.approx(60.0)
    assert throttle.check("alice", "10.0.0.1", NOW + 31) == pytest.approx(30.0)
    # other users are not affected
    assert throttle.check("bob", "10.0.0.1", NOW + 2) == 0.0
    # unlocked after the lockout
    assert throttle.check("alice", "10.0.0.1", NOW + 61) == 0.0


def test_throttle_unknown_users_are_throttled_the_same() -> None:
    throttle = LoginThrottle(per_user=3, per_address=100)
    _fail(throttle, "nobody", "10.0.0.1", NOW, 3)
    assert throttle.check("nobody", "10.0.0.1", NOW) > 0


def test_throttle_window_forgets_old_failures() -> None:
    throttle = LoginThrottle(per_user=5, per_address=100, window_s=60)
    _fail(throttle, "alice", "10.0.0.1", NOW, 4)
    _fail(throttle, "alice", "10.0.0.1", NOW + 60, 4)  # a new window: four more are fine
    assert throttle.check("alice", "10.0.0.1", NOW + 60) == 0.0


def test_throttle_exponential_backoff() -> None:
    throttle = LoginThrottle(per_user=2, per_address=100, window_s=60, lockout_s=60, max_lockout_s=300)
    now = NOW
    waits = []
    for _ in range(5):
        _fail(throttle, "alice", "10.0.0.1", now, 2)
        wait = throttle.check("alice", "10.0.0.1", now)
        waits.append(wait)
        now += wait
    assert waits == [60, 120, 240, 300, 300]


def test_throttle_success_clears_user_not_address() -> None:
    throttle = LoginThrottle(per_user=3, per_address=5)
    _fail(throttle, "alice", "10.0.0.1", NOW, 2)
    assert throttle.check("alice", "10.0.0.1", NOW) == 0.0
    throttle.success("alice", "10.0.0.1", NOW)
    _fail(throttle, "alice", "10.0.0.9", NOW, 2)  # user history was cleared: two more allowed
    # the address still counts its two failures: three more lock it
    _fail(throttle, "bob", "10.0.0.1", NOW, 2)
    assert throttle.check("carol", "10.0.0.1", NOW) == 0.0
    throttle.failure("carol", "10.0.0.1", NOW)
    assert throttle.check("dave", "10.0.0.1", NOW) > 0


def test_throttle_per_address() -> None:
    throttle = LoginThrottle(per_user=5, per_address=20, window_s=60, lockout_s=60)
    for i in range(20):
        _fail(throttle, f"user{i}", "203.0.113.9", NOW, 1)
    assert throttle.check("someone", "203.0.113.9", NOW) == pytest.approx(60.0)
    assert throttle.check("someone", "203.0.113.10", NOW) == 0.0
    assert throttle.check("someone", "203.0.113.9", NOW + 60) == 0.0


def test_throttle_ipv6_counts_per_64() -> None:
    throttle = LoginThrottle(per_user=100, per_address=3)
    for i in range(3):
        _fail(throttle, f"u{i}", f"2001:db8:1:2::{i + 1}", NOW, 1)
    assert throttle.check("x", "2001:db8:1:2:ffff::1", NOW) > 0  # same /64
    assert throttle.check("x", "2001:db8:1:3::1", NOW) == 0.0  # another /64
    _fail(throttle, "a", "::ffff:192.0.2.1", NOW, 2)
    _fail(throttle, "b", "192.0.2.1", NOW, 1)
    assert throttle.check("x", "192.0.2.1", NOW) > 0  # IPv4-mapped is the IPv4 address


def test_throttle_counts_attempts_in_flight() -> None:
    throttle = LoginThrottle(per_user=3, per_address=100, inflight_timeout_s=30)
    # a burst of parallel logins: only three bcrypt checks may start
    allowed = [throttle.check("alice", f"10.0.0.{i}", NOW) == 0.0 for i in range(10)]
    assert allowed == [True] * 3 + [False] * 7
    assert throttle.check("alice", "10.0.0.1", NOW) == LoginThrottle.BUSY_RETRY_S
    for i in range(3):
        throttle.failure("alice", f"10.0.0.{i}", NOW + 0.3)
    assert throttle.check("alice", "10.0.0.1", NOW + 0.3) == pytest.approx(60.0)


def test_throttle_abandoned_reservations_lapse() -> None:
    throttle = LoginThrottle(per_user=2, per_address=100, inflight_timeout_s=30)
    assert throttle.check("alice", "10.0.0.1", NOW) == 0.0
    assert throttle.check("alice", "10.0.0.1", NOW) == 0.0
    assert throttle.check("alice", "10.0.0.1", NOW + 1) > 0  # two in flight, never resolved
    assert throttle.check("alice", "10.0.0.1", NOW + 30) == 0.0


def test_throttle_success_releases_reservation() -> None:
    throttle = LoginThrottle(per_user=5, per_address=2)
    assert throttle.check("alice", "10.0.0.1", NOW) == 0.0
    throttle.success("alice", "10.0.0.1", NOW)
    assert throttle.check("bob", "10.0.0.1", NOW) == 0.0
    throttle.success("bob", "10.0.0.1", NOW)
    assert throttle.check("carol", "10.0.0.1", NOW) == 0.0  # two successes used nothing up


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_keys=100_000)
    for i in range(200_000):
        throttle.failure(f"user{i}", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", NOW + i * 0.001)
        assert len(throttle) <= 100_000
    assert len(throttle) == 100_000
    # the newest keys are the ones kept
    _fail(throttle, "user199999", "10.3.13.63", NOW + 200, 4)
    assert throttle.check("user199999", "192.0.2.1", NOW + 200) > 0


def test_throttle_prunes_expired_entries() -> None:
    throttle = LoginThrottle(window_s=60, max_lockout_s=900)
    for i in range(1000):
        throttle.failure(f"user{i}", "10.0.0.1", NOW)
    assert len(throttle) == 1001
    throttle.failure("late", "10.0.0.2", NOW + 901)
    assert len(throttle) == 2


def test_throttle_config_errors() -> None:
    with pytest.raises(ValueError):
        LoginThrottle(per_user=0)
    with pytest.raises(ValueError):
        LoginThrottle(window_s=0)
    with pytest.raises(ValueError):
        LoginThrottle(lockout_s=600, max_lockout_s=60)
