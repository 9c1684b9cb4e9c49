"""A farm of robots: who they are, how they are funded, and running them together.

:func:`roster` names the bots for a count (makers, a momentum trader, noise
traders); :func:`provision` creates the missing users through an admin session
with their starting cash and shares (:data:`FUNDING`) and keeps their passwords
in a :class:`PasswordBook`; :class:`BotFarm` connects them, tops them up,
runs them under one :class:`~client.bots.pacer.Pacer` and stops them cleanly,
cancelling their orders.

Everything random comes from generators seeded by ``(seed, name)``, so the same
seed gives every bot the same decisions for the same market.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.bots.base import Bot, BotLink
from client.bots.fair import FairValues
from client.bots.maker import MarketMaker
from client.bots.momentum import MomentumTrader
from client.bots.noise import NoiseTrader
from client.bots.pacer import Pacer
from exchange.money import price

__all__ = [
    "FUNDING",
    "BotFarm",
    "FarmConfig",
    "Funding",
    "PasswordBook",
    "provision",
    "roster",
    "top_up",
]

PASSWORD_FILE = "bot-passwords.json"


@dataclass(frozen=True)
class Funding:
    """What a new bot user is given: cash in cents and shares of every symbol."""

    cash: int
    shares: int


FUNDING: Mapping[str, Funding] = {
    "maker": Funding(cash=50_000_000, shares=1_000),
    "noise": Funding(cash=5_000_000, shares=300),
    "momentum": Funding(cash=5_000_000, shares=300),
}
"""Starting wallets per kind of bot (the maker's 1,000 shares cover its ±200 limit)."""

KINDS: Mapping[str, type[Bot]] = {"maker": MarketMaker, "noise": NoiseTrader, "momentum": MomentumTrader}
_SHORT = {"maker": "maker", "noise": "noise", "momentum": "momo"}


def roster(count: int, prefix: str = "bot") -> list[tuple[str, str]]:
    """``(username, kind)`` of ``count`` bots: 1 maker per 10 bots (at least one), 1 momentum
    trader per 10 from 3 bots on, and noise traders for the rest.

    Raises:
        ValueError: ``count`` < 1.
    """
    if count < 1:
        raise ValueError("at least one bot")
    makers = 1 + (count - 1) // 10
    momentum = 0 if count < 3 else 1 + (count - 3) // 10
    kinds = ["maker"] * makers + ["momentum"] * momentum + ["noise"] * (count - makers - momentum)
    seen: dict[str, int] = {}
    out = []
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        out.append((f"{prefix}-{_SHORT[kind]}-{seen[kind]}", kind))
    return out


class PasswordBook:
    """The bots' passwords, in ``HOME/bot-passwords.json`` (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            data = {}
        except ValueError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
        self.passwords: dict[str, str] = {str(k): str(v) for k, v in dict(data).items()}

    @classmethod
    def in_home(cls, home: Path) -> PasswordBook:
        """The book kept in an exch home."""
        return cls(home / PASSWORD_FILE)

    def get(self, name: str) -> str | None:
        """The password of ``name``, if known."""
        return self.passwords.get(name)

    def new(self, name: str) -> str:
        """Make, remember and save a random password for ``name``."""
        password = secrets.token_urlsafe(12)
        self.passwords[name] = password
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.passwords, f, indent=1)
        tmp.replace(self.path)
        return password


async def provision(
    admin: Any, bots: Sequence[tuple[str, str]], symbols: Sequence[str], book: PasswordBook
) -> tuple[dict[str, str], list[str]]:
    """Create the bots' users that do not exist yet, funded per :data:`FUNDING`.

    Args:
        admin: a logged-in admin :class:`client.Session`.
        bots: ``(username, kind)`` pairs (see :func:`roster`).
        symbols: the symbols whose shares new bots get.
        book: where the passwords are kept.

    Returns:
        ``(passwords by name, names created now)``.

    Raises:
        ValueError: a bot user exists but its password is not in the book.
    """
    existing = {u.username for u in (await admin.user_list()).users}
    passwords: dict[str, str] = {}
    created: list[str] = []
    for name, kind in bots:
        known = book.get(name)
        if name in existing:
            if known is None:
                raise ValueError(f"user {name} exists but its password is not in {book.path}; "
                                 "use another --prefix")
            passwords[name] = known
            continue
        password = book.new(name)
        fund = FUNDING[kind]
        await admin.user_add(name, password, role="trader", cash=fund.cash,
                             positions={s: fund.shares for s in symbols})
        passwords[name] = password
        created.append(name)
    return passwords, created


async def top_up(admin: Any, bots: Sequence[Bot]) -> int:
    """Give connected bots that spent more than half of their funding what brings them back to it.

    Returns:
        The number of deposits made.
    """
    deposits = 0
    for bot in bots:
        fund = FUNDING[bot.kind]
        if bot.cash < fund.cash // 2:
            await admin.deposit(bot.name, cash=fund.cash - bot.cash)
            deposits += 1
        for symbol in bot.symbols:
            have = bot.positions.get(symbol, 0)
            if have < fund.shares // 2:
                await admin.deposit(bot.name, symbol=symbol, qty=fund.shares - have)
                deposits += 1
    if deposits:
        await asyncio.gather(*(bot.refresh_wallet() for bot in bots))
    return deposits


@dataclass
class FarmConfig:
    """How to run a farm."""

    url: str
    symbols: Sequence[str]
    count: int = 5
    seed: int = 1
    rate: float = 20.0
    prefix: str = "bot"
    cafile: Path | None = None
    home: Path | None = None
    maker_limit: int = 200


class BotFarm:
    """Bots of one :func:`roster`, run together at one aggregate rate.

    Args:
        config: where to connect, which symbols, how many bots, seed and rate.
        passwords: each bot's password (see :func:`provision`).
    """

    def __init__(self, config: FarmConfig, passwords: Mapping[str, str]) -> None:
        self.config = config
        self.fair = FairValues(config.symbols, random.Random(f"{config.seed}:fair"))
        self.pacer = Pacer(config.rate, random.Random(f"{config.seed}:pacer"))
        self.bots: list[Bot] = []
        for name, kind in roster(config.count, config.prefix):
            common: BotLink = {
                "url": config.url, "symbols": list(config.symbols), "rng": random.Random(f"{config.seed}:{name}"),
                "cafile": config.cafile, "home": config.home,
            }
            if kind == "maker":
                self.bots.append(MarketMaker(name, passwords[name], fair=self.fair, limit=config.maker_limit,
                                             **common))
            else:
                self.bots.append(KINDS[kind](name, passwords[name], **common))
        self._tasks: list[asyncio.Task[None]] = []
        self.started = 0.0

    @property
    def makers(self) -> list[MarketMaker]:
        """The market makers."""
        return [b for b in self.bots if isinstance(b, MarketMaker)]

    async def start(self, timeout: float = 30.0) -> None:
        """Connect every bot and wait until each has its clean state and market data.

        Raises:
            ValueError: a bot could not log in (with why).
            TimeoutError: not every bot was ready within ``timeout`` seconds.
        """
        self._tasks = [asyncio.create_task(bot.run(), name=f"bot {bot.name}") for bot in self.bots]
        deadline = time.monotonic() + timeout
        for bot, task in zip(self.bots, self._tasks, strict=True):
            ready = asyncio.ensure_future(bot.wait_ready(max(0.1, deadline - time.monotonic())))
            await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
            if not ready.done():
                ready.cancel()
                if task.done() and task.exception() is not None:
                    raise ValueError(f"{bot.name}: {task.exception()}")
                raise ValueError(f"{bot.name} could not log in: {bot.link.detail or bot.link.state.value}")
            ready.result()  # TimeoutError
        self.started = time.monotonic()

    async def run(self, stop: asyncio.Event, duration: float | None = None) -> None:
        """Trade until ``stop`` is set (or ``duration`` seconds passed); the bots stay connected."""
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)
        await self.pacer.run(self.bots, stop, on_tick=self.fair.advance)

    async def stop(self) -> None:
        """Cancel every bot's orders and close their links."""
        await asyncio.gather(*(bot.stop() for bot in self.bots), return_exceptions=True)
        for task in self._tasks:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=5)
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def totals(self) -> dict[str, int]:
        """Requests sent and refused, fills and shares traded, over every bot."""
        return {
            "sent": sum(b.stats.sent for b in self.bots),
            "rejected": sum(b.stats.rejected for b in self.bots),
            "fills": sum(b.stats.fills for b in self.bots),
            "up": sum(1 for b in self.bots if b.ready),
            "open": sum(len(b.orders) for b in self.bots),
        }

    def status_line(self) -> str:
        """One line: bots up, requests and their rate, fills, last prices."""
        t = self.totals()
        elapsed = max(1e-9, time.monotonic() - self.started) if self.started else 0.0
        rate = t["sent"] / elapsed if elapsed else 0.0
        prices = []
        for symbol in self.config.symbols:
            book = self.bots[0].book(symbol) if self.bots else None
            last = book.ticker.last if book is not None and book.ticker is not None else None
            prices.append(f"{symbol} {price(last)}")
        return (f"bots {t['up']}/{len(self.bots)} up, {t['sent']} orders ({rate:.1f}/s), {t['fills']} fills, "
                f"{t['rejected']} refused, {t['open']} open | " + "  ".join(prices))
