"""Who a ``login`` is: passwords (bcrypt), reconnect tokens, throttling and revocation.

The gateway answers the ``login`` request and indexes the session; this module
only decides which user, if any, the credentials name. A user's state is read
again after every await (store reads, bcrypt): a ``user_disable`` or ``user_passwd``
answered while a login was in flight (:meth:`Logins.revoke`) makes that login fail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from exchange.auth import LoginThrottle, TokenSigner, verify_or_dummy
from exchange.store.base import User, UserStore

__all__ = ["AUTH_FAILED", "Logins"]

AUTH_FAILED = "invalid username or password"
_LOGIN_QUEUE_S = 10.0  # how long a login waits behind others in flight from the same place
T = TypeVar("T")


class Logins:
    """Checks credentials against the store, and issues tokens.

    Args:
        store: users (called only on ``store_executor``'s single thread).
        store_executor: the one thread the store is used from.
        bcrypt_executor: threads for password checks.
        signer: issues and checks reconnect tokens.
        throttle: failed-login throttling.
        bcrypt_rounds: the cost of the dummy check that hides unknown users.
        monotonic: clock for the throttle (s).
    """

    def __init__(
        self,
        *,
        store: UserStore,
        store_executor: Executor,
        bcrypt_executor: Executor | None,
        signer: TokenSigner,
        throttle: LoginThrottle,
        bcrypt_rounds: int = 12,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.store_executor = store_executor
        self.bcrypt_executor = bcrypt_executor
        self.signer = signer
        self.throttle = throttle
        self.bcrypt_rounds = bcrypt_rounds
        self.monotonic = monotonic
        self._revocations: dict[str, int] = {}
        """Per username: ``user_disable``s and ``user_passwd``s answered since start (logins in flight compare it)."""

    async def in_store(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the store's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.store_executor, fn, *args)

    def revoke(self, name: str) -> None:
        """``name`` was disabled or got a new password: every login of it in flight now fails."""
        self._revocations[name] = self._revocations.get(name, 0) + 1

    def issue(self, user: User) -> tuple[str, int]:
        """A reconnect token for ``user`` and when it expires (ns)."""
        return self.signer.issue(user.name, user.generation, time.time())

    async def allowed(self, name: str, ip: str) -> bool:
        """Ask the throttle; while only other logins in flight block this one, wait for them."""
        now = self.monotonic()
        deadline = now + _LOGIN_QUEUE_S
        while self.throttle.check(name, ip, now) > 0:
            if self.throttle.locked_for(name, ip, now) > 0 or now >= deadline:
                return False
            await asyncio.sleep(0.01)
            now = self.monotonic()
        return True

    async def by_password(self, name: str, password: str, ip: str) -> User | None:
        """The user ``name`` if ``password`` is theirs and they may log in now (the throttle is told)."""
        revocations = self._revocations.get(name, 0)
        found = await self.in_store(self.store.credentials, name)
        ok = await verify_or_dummy(password, found[1].encode() if found else None,
                                   rounds=self.bcrypt_rounds, executor=self.bcrypt_executor)
        user = None
        if ok and found is not None:
            # bcrypt took a while: read the user again (a change by another process, e.g. `exch user passwd`)
            again = await self.in_store(self.store.get_user, name)
            user = self._current(again, name, revocations, found[0].generation)
        if user is not None:
            self.throttle.success(name, ip, self.monotonic())
        else:
            self.throttle.failure(name, ip, self.monotonic())
        return user

    async def by_token(self, token: str) -> User | None:
        """The user a token logs in, if it is genuine, unexpired and of the user's current generation."""
        verified = self.signer.verify(token, time.time())
        if verified is None:
            return None
        name, generation = verified
        revocations = self._revocations.get(name, 0)
        user = await self.in_store(self.store.get_user, name)
        return self._current(user, name, revocations, generation)

    def _current(self, user: User | None, name: str, revocations: int, generation: int) -> User | None:
        """``user`` (as just read) if it may log in: enabled, still at ``generation``, and not
        disabled or given a new password through this gateway since the login began
        (``revocations`` was read then).

        The last check covers what the store read alone cannot: a ``user_disable`` or
        ``user_passwd`` whose store write the read missed but whose reply goes out before
        this login's (the admin handler calls :meth:`revoke` as it closes the sessions).
        """
        if user is None or user.disabled or user.generation != generation:
            return None
        return user if self._revocations.get(name, 0) == revocations else None
