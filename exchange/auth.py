"""Authentication helpers for the gateway: passwords, reconnect tokens, login throttling.

No I/O here except bcrypt on a thread pool and reading/creating the token secret.
Nothing reads a clock: the caller passes ``now_s`` (seconds since the epoch, the
gateway's ``time.time()``), which keeps tokens and throttling deterministic in tests.

How the gateway logs someone in (PROTOCOL.md ``login``)::

    wait = throttle.check(username, address, now)       # reserves an attempt
    if wait: reply auth_failed                          # same code and text as a bad password
    ok = await verify_or_dummy(password, user.hash if user else None, executor=pool)
    if ok and user enabled: throttle.success(...); token, exp = signer.issue(name, user.generation, now)
    else: throttle.failure(...); reply auth_failed

and a token login: ``signer.verify(token, now)`` gives ``(username, generation)``;
the gateway accepts it only if the user exists, is enabled and its current
``generation`` equals the token's. The store moves a user's generation whenever
the user is disabled, enabled or gets a new password (``users.generation``), which
revokes every token issued before.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import ipaddress
import os
import secrets
import tempfile
from collections import OrderedDict
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Final

import bcrypt

from exchange.bounds import MAX_PASSWORD_BYTES

__all__ = [
    "BCRYPT_ROUNDS",
    "MAX_PASSWORD_BYTES",
    "SECRET_BYTES",
    "LoginThrottle",
    "TokenSigner",
    "bcrypt_executor",
    "check_password",
    "hash_password",
    "hash_password_async",
    "load_or_create_secret",
    "verify_or_dummy",
    "verify_password",
]

BCRYPT_ROUNDS: Final = 12
"""bcrypt cost for new hashes: about 0.25 s of one core here."""
SECRET_BYTES: Final = 32
_MIN_SECRET_BYTES: Final = 16


# --------------------------------------------------------------------------- passwords


def bcrypt_executor(*, max_workers: int = 2) -> ThreadPoolExecutor:
    """A small thread pool for bcrypt, so login floods cannot take every core.

    bcrypt releases the GIL; with ``max_workers`` threads at most that many cores
    hash at once and further logins queue (the throttle bounds the queue).
    """
    return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bcrypt")


def _password_bytes(password: str) -> bytes | None:
    try:
        data = password.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return None
    return data if len(data) <= MAX_PASSWORD_BYTES else None


def hash_password(password: str, *, rounds: int = BCRYPT_ROUNDS) -> bytes:
    """Hash ``password`` with bcrypt. Blocking (about 0.25 s at cost 12): CLI use.

    Args:
        password: The password; at most 72 bytes in UTF-8.
        rounds: bcrypt cost (4 to 31).

    Returns:
        The bcrypt hash (``$2b$…``, 60 bytes).

    Raises:
        ValueError: The password is longer than 72 bytes in UTF-8, or not encodable.
    """
    data = _password_bytes(password)
    if data is None:
        raise ValueError(f"password must be valid UTF-8 of at most {MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds))


async def hash_password_async(
    password: str, *, rounds: int = BCRYPT_ROUNDS, executor: Executor | None = None
) -> bytes:
    """:func:`hash_password` on ``executor`` (the loop's default pool if None).

    Raises:
        ValueError: As :func:`hash_password`.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(hash_password, password, rounds=rounds))


def check_password(password: str, hashed: str | bytes) -> bool:
    """Whether ``password`` matches the bcrypt ``hashed``. Blocking: off the event loop only."""
    data = _password_bytes(password)
    return data is not None and _checkpw(data, hashed.encode() if isinstance(hashed, str) else hashed)


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # malformed stored hash
        return False


async def verify_password(password: str, hashed: bytes, *, executor: Executor | None = None) -> bool:
    """Check ``password`` against a bcrypt hash, on a worker thread, never on the event loop.

    Args:
        password: What the client sent.
        hashed: The stored bcrypt hash.
        executor: Where to run bcrypt; the loop's default pool if None
            (see :func:`bcrypt_executor`).

    Returns:
        True if the password matches. A malformed hash or a password bcrypt
        cannot take (over 72 bytes) gives False.
    """
    data = _password_bytes(password)
    loop = asyncio.get_running_loop()
    if data is None:  # spend the same time as a real check, then refuse
        await loop.run_in_executor(executor, _checkpw, b"", hashed)
        return False
    return await loop.run_in_executor(executor, _checkpw, data, hashed)


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    # A well-formed hash nobody's password matches: checking it costs exactly
    # what checking a real hash of the same cost costs (bcrypt's time depends
    # only on the cost in the prefix).
    return bcrypt.gensalt(rounds) + b"." * 31


async def verify_or_dummy(
    password: str,
    hashed: bytes | None,
    *,
    rounds: int = BCRYPT_ROUNDS,
    executor: Executor | None = None,
) -> bool:
    """:func:`verify_password`, or the same bcrypt work when the user does not exist.

    Answering "no such user" faster than "wrong password" would tell an
    attacker which usernames exist; this spends one bcrypt check at cost
    ``rounds`` (use the cost of the stored hashes) and returns False.

    Args:
        password: What the client sent.
        hashed: The user's stored hash, or None when there is no such user.
        rounds: The bcrypt cost the dummy check runs at.
        executor: Where to run bcrypt; the loop's default pool if None.

    Returns:
        True only if the user exists and the password matches.
    """
    if hashed is not None:
        return await verify_password(password, hashed, executor=executor)
    data = _password_bytes(password) or b""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(executor, _checkpw, data, _dummy_hash(rounds))
    return False


# --------------------------------------------------------------------------- tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Signed, expiring login tokens for reconnects.

    A token is ``1.<user>.<generation>.<expiry>.<mac>``: the username in urlsafe
    base64, the user's generation and the expiry (Unix seconds) in decimal, and
    an HMAC-SHA256 of everything before it, urlsafe base64 without padding. About
    70 characters for a short username. Verification recomputes the MAC and
    compares in constant time before reading any field.

    Revocation: a token carries the user's ``generation``, a counter the store
    keeps per user and moves when the user is disabled, enabled or gets a new
    password. A
    verified token is accepted only if that generation still equals the user's
    current one, so bumping it revokes every token issued before. Changing the
    secret revokes every token of every user.

    Args:
        secret: The HMAC key, at least 16 bytes (see :func:`load_or_create_secret`).
        ttl_s: Lifetime of an issued token in seconds (default one day).

    Raises:
        ValueError: The secret is too short or ``ttl_s`` is not positive.
    """

    VERSION: Final = "1"
    MAX_TOKEN_CHARS: Final = 1024
    _DOMAIN: Final = b"exch-login-token\x00"

    __slots__ = ("_secret", "_ttl_s")

    def __init__(self, secret: bytes, *, ttl_s: int = 86_400) -> None:
        if len(secret) < _MIN_SECRET_BYTES:
            raise ValueError(f"token secret must be at least {_MIN_SECRET_BYTES} bytes")
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._secret = bytes(secret)
        self._ttl_s = ttl_s

    @property
    def ttl_s(self) -> int:
        """Lifetime of issued tokens in seconds."""
        return self._ttl_s

    def _mac(self, payload: bytes) -> str:
        return _b64(hmac.new(self._secret, self._DOMAIN + payload, hashlib.sha256).digest())

    def issue(self, username: str, generation: int, now_s: float) -> tuple[str, int]:
        """A token for ``username`` at ``generation``, valid for ``ttl_s`` from ``now_s``.

        Args:
            username: The user (non-empty).
            generation: The user's current generation (≥ 0).
            now_s: The current time, Unix seconds.

        Returns:
            The token and its expiry in Unix nanoseconds (a whole second).

        Raises:
            ValueError: Empty username, negative generation, or a username that
                is not encodable as UTF-8.
        """
        if not username:
            raise ValueError("username must not be empty")
        if generation < 0:
            raise ValueError("generation must be >= 0")
        expiry_s = int(now_s) + self._ttl_s
        payload = f"{self.VERSION}.{_b64(username.encode('utf-8'))}.{generation}.{expiry_s}"
        return f"{payload}.{self._mac(payload.encode('ascii'))}", expiry_s * 1_000_000_000

    def verify(self, token: str, now_s: float) -> tuple[str, int] | None:
        """Check a token's signature and expiry.

        Args:
            token: What the client sent (any string; garbage is rejected).
            now_s: The current time, Unix seconds.

        Returns:
            ``(username, generation)``, or None if the token is forged, tampered
            with, expired (``now_s >= expiry``), malformed, or of another version.
            The caller still compares the generation with the user's current one.
        """
        if not isinstance(token, str) or len(token) > self.MAX_TOKEN_CHARS or not token.isascii():
            return None
        payload, sep, mac = token.rpartition(".")
        expected = self._mac(payload.encode("ascii"))
        if not sep or not hmac.compare_digest(mac.encode("ascii"), expected.encode("ascii")):
            return None
        parts = payload.split(".")
        if len(parts) != 4 or parts[0] != self.VERSION:
            return None
        _, user_b64, generation_text, expiry_text = parts
        if not (generation_text.isdigit() and expiry_text.isdigit()):
            return None
        if now_s >= int(expiry_text):
            return None
        try:
            username = _unb64(user_b64).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        return (username, int(generation_text)) if username else None


def load_or_create_secret(path: Path) -> bytes:
    """The token secret in ``path``: read it, or create 32 random bytes (file 0600).

    Creation is atomic and race-free (write a temporary file, then hard-link it
    into place): of two processes starting at once, both end up with the secret
    that landed first. A file with looser permissions is tightened to 0600.

    Args:
        path: The secret file, e.g. ``$EXCH_HOME/token-secret``.

    Returns:
        The secret bytes.

    Raises:
        ValueError: The existing file holds fewer than 16 bytes.
        OSError: The file cannot be read or created.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(SECRET_BYTES))
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        path.chmod(mode & 0o600)
    secret = path.read_bytes()
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"{path} holds {len(secret)} bytes, need at least {_MIN_SECRET_BYTES}; delete it")
    return secret


# --------------------------------------------------------------------------- throttling


class _Entry:
    """Failures of one key (a username or an address) in the current window."""

    __slots__ = ("failures", "inflight", "last_touch", "locked_until", "strikes", "window_start")

    def __init__(self, now_s: float) -> None:
        self.failures = 0
        self.window_start = now_s
        self.locked_until = 0.0
        self.strikes = 0
        self.inflight = 0
        self.last_touch = now_s


class LoginThrottle:
    """Limits failed logins per username and per client address.

    Numbers (the defaults):

    - ``per_user=5`` failures of one username within ``window_s=60`` s lock that
      username; ``per_address=20`` failures from one address lock that address.
    - A lock lasts ``lockout_s=60`` s and doubles with each further lock of the
      same key (60, 120, 240, 480 s …) up to ``max_lockout_s=900`` s. A key's
      history is forgotten ``max(window_s, max_lockout_s)`` after its last
      attempt, and a successful login clears its username's history.
    - Addresses: IPv6 addresses count per /64 (one host usually owns a whole
      /64); IPv4-mapped IPv6 counts as the IPv4 address.
    - Attempts in flight count: :meth:`check` reserves an attempt, so a burst of
      parallel logins cannot run more bcrypt checks than the limit before the
      first failure is recorded. A reservation never resolved by
      :meth:`failure` or :meth:`success` (dropped connection) lapses after
      ``inflight_timeout_s``.
    - At most ``max_keys`` keys (usernames + addresses) are tracked; beyond
      that the least recently attempted key is forgotten. A key costs about
      300 bytes, so the default cap is about 30 MB at worst.

    A username lock applies to usernames that do not exist too, and the gateway
    answers a throttled login with the same ``auth_failed`` code and text as a
    wrong password, so throttling reveals nothing about which users exist. The
    price of per-username locks: anyone can keep a known username locked (at
    most ``max_lockout_s`` at a time); its owner can still log in by token.

    No method reads a clock: ``now_s`` is passed in.
    """

    __slots__ = (
        "_entries",
        "_forget_s",
        "_inflight_timeout_s",
        "_lockout_s",
        "_max_keys",
        "_max_lockout_s",
        "_per_address",
        "_per_user",
        "_window_s",
    )

    BUSY_RETRY_S: Final = 1.0
    """What :meth:`check` returns when only attempts in flight fill the limit."""

    def __init__(
        self,
        *,
        per_user: int = 5,
        per_address: int = 20,
        window_s: float = 60.0,
        lockout_s: float = 60.0,
        max_lockout_s: float = 900.0,
        inflight_timeout_s: float = 30.0,
        max_keys: int = 100_000,
    ) -> None:
        """Configure the limits (see the class docstring).

        Raises:
            ValueError: A limit or duration is not positive, or
                ``max_lockout_s < lockout_s``.
        """
        if min(per_user, per_address, max_keys) < 1:
            raise ValueError("per_user, per_address and max_keys must be >= 1")
        if min(window_s, lockout_s, inflight_timeout_s) <= 0 or max_lockout_s < lockout_s:
            raise ValueError("durations must be positive and max_lockout_s >= lockout_s")
        self._per_user = per_user
        self._per_address = per_address
        self._window_s = window_s
        self._lockout_s = lockout_s
        self._max_lockout_s = max_lockout_s
        self._inflight_timeout_s = inflight_timeout_s
        self._forget_s = max(window_s, max_lockout_s, inflight_timeout_s)
        self._max_keys = max_keys
        # least recently touched first; an entry expires at last_touch + _forget_s,
        # so expired entries are always at the front
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        """How many keys (usernames and addresses) are tracked."""
        return len(self._entries)

    # -- keys

    @staticmethod
    def _user_key(username: str) -> str:
        if len(username) > 128:
            username = "#" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
        return "u:" + username

    @staticmethod
    def _address_key(address: str) -> str:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "a:" + address[:128]
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return f"a:{ip.ipv4_mapped}"
            return f"a:{ipaddress.IPv6Network((ip, 64), strict=False)}"
        return f"a:{ip}"

    def _keys(self, username: str, address: str) -> tuple[tuple[str, int], tuple[str, int]]:
        return (self._user_key(username), self._per_user), (self._address_key(address), self._per_address)

    # -- bookkeeping

    def _prune(self, now_s: float) -> None:
        entries = self._entries
        while entries:
            entry = next(iter(entries.values()))
            if now_s - entry.last_touch < self._forget_s:
                break
            entries.popitem(last=False)

    def _touch(self, key: str, now_s: float) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            self._prune(now_s)
            if len(self._entries) >= self._max_keys:
                self._entries.popitem(last=False)
            entry = self._entries[key] = _Entry(now_s)
            return entry
        self._entries.move_to_end(key)
        self._refresh(entry, now_s)
        entry.last_touch = max(entry.last_touch, now_s)
        return entry

    def _refresh(self, entry: _Entry, now_s: float) -> None:
        if now_s - entry.window_start >= self._window_s and now_s >= entry.locked_until:
            entry.failures = 0
            entry.window_start = now_s
        if now_s - entry.last_touch >= self._inflight_timeout_s:
            entry.inflight = 0

    def _wait(self, key: str, limit: int, now_s: float) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        if now_s < entry.locked_until:
            return entry.locked_until - now_s
        failures = entry.failures if now_s - entry.window_start < self._window_s else 0
        inflight = entry.inflight if now_s - entry.last_touch < self._inflight_timeout_s else 0
        return self.BUSY_RETRY_S if failures + inflight >= limit else 0.0

    # -- API

    def check(self, username: str, address: str, now_s: float) -> float:
        """May ``username`` try to log in from ``address`` now?

        When allowed, the attempt is reserved (counted as in flight) until
        :meth:`failure` or :meth:`success` is called for it.

        Args:
            username: The username sent (existing or not).
            address: The client's IP address (or any peer identifier).
            now_s: The current time, Unix seconds.

        Returns:
            0.0 when the attempt may go ahead, else the seconds until it may
            (the gateway answers ``auth_failed`` without checking the password).
        """
        keys = self._keys(username, address)
        wait = max(self._wait(key, limit, now_s) for key, limit in keys)
        if wait > 0.0:
            return wait
        for key, _ in keys:
            self._touch(key, now_s).inflight += 1
        return 0.0

    def locked_for(self, username: str, address: str, now_s: float) -> float:
        """Seconds until ``username``/``address`` may try again because of *failures*.

        0.0 when :meth:`check` refuses only because other attempts are still in
        flight: the caller may wait a moment and check again.
        """
        wait = 0.0
        for key, limit in self._keys(username, address):
            entry = self._entries.get(key)
            if entry is None:
                continue
            if now_s < entry.locked_until:
                wait = max(wait, entry.locked_until - now_s)
            elif now_s - entry.window_start < self._window_s and entry.failures >= limit:
                wait = max(wait, self.BUSY_RETRY_S)
        return wait

    def failure(self, username: str, address: str, now_s: float) -> None:
        """Record a failed attempt (wrong password, unknown or disabled user).

        Args:
            username: The username sent.
            address: The client's address.
            now_s: The current time, Unix seconds.
        """
        for key, limit in self._keys(username, address):
            entry = self._touch(key, now_s)
            entry.inflight = max(0, entry.inflight - 1)
            entry.failures += 1
            if entry.failures >= limit:
                entry.strikes = min(entry.strikes + 1, 32)
                duration = min(self._lockout_s * 2 ** (entry.strikes - 1), self._max_lockout_s)
                entry.locked_until = max(entry.locked_until, now_s + duration)
                entry.failures = 0
                entry.window_start = entry.locked_until

    def success(self, username: str, address: str, now_s: float) -> None:
        """Record a successful login: the username's history is cleared.

        The address keeps its failures, so one valid account does not reset an
        address that is guessing at others.

        Args:
            username: The username that logged in.
            address: The client's address.
            now_s: The current time, Unix seconds.
        """
        user_key, address_key = (key for key, _ in self._keys(username, address))
        self._entries.pop(user_key, None)
        entry = self._entries.get(address_key)
        if entry is not None:
            self._refresh(entry, now_s)
            entry.inflight = max(0, entry.inflight - 1)
