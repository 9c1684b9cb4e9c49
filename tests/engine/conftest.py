"""Fixtures and helpers for the pure matching engine's tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from exchange.engine import (
    AddSymbol,
    Command,
    Deposit,
    Engine,
    Event,
    Limits,
    NewOrder,
    Reject,
    snapshot,
)
from exchange.engine.events import Done, Match, Open

SYM = "ACME"
"""The default test symbol: tick 1, lot 1."""
LOT_SYM = "LOTS"
"""A symbol with tick 5 and lot 10."""

ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4

RICH_CASH = 10_000_000
RICH_SHARES = 100_000


class Exchange:
    """An engine with a clock: every ``do`` stamps the next timestamp."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._clock: Iterator[int] = itertools.count(1_000)

    def do(self, command: Command) -> list[Event]:
        """Apply ``command`` and return its events."""
        return self.engine.apply(command, next(self._clock))

    def ok(self, command: Command) -> list[Event]:
        """Apply ``command``, asserting it is accepted (seq advances by one)."""
        before = self.engine.seq
        events = self.do(command)
        assert not isinstance(events[0], Reject), events[0]
        assert self.engine.seq == before + 1
        return events

    def reject(self, command: Command, code: str) -> Reject:
        """Apply ``command``, asserting it is refused with ``code`` and changes nothing."""
        before = snapshot(self.engine)
        seq = self.engine.seq
        events = self.do(command)
        assert len(events) == 1, events
        reply = events[0]
        assert isinstance(reply, Reject), reply
        assert reply.code == code, reply
        assert reply.message
        assert self.engine.seq == seq
        assert snapshot(self.engine) == before
        return reply

    def limit(
        self,
        user: int,
        side: str,
        price: int,
        qty: int,
        *,
        symbol: str = SYM,
        tif: str = "gtc",
        post_only: bool = False,
        coid: str | None = None,
    ) -> list[Event]:
        """Place an accepted limit order."""
        return self.ok(NewOrder(user, symbol, side, "limit", price, qty, tif, post_only, coid))  # type: ignore[arg-type]

    def market(self, user: int, side: str, qty: int, *, symbol: str = SYM, tif: str = "gtc") -> list[Event]:
        """Place an accepted market order."""
        return self.ok(NewOrder(user, symbol, side, "market", None, qty, tif))  # type: ignore[arg-type]

    def fund(self, user: int, cash: int = 0, **shares: int) -> None:
        """Deposit cash and shares (keyword per symbol) for ``user``."""
        if cash:
            self.ok(Deposit(user, cash=cash))
        for symbol, qty in shares.items():
            self.ok(Deposit(user, symbol=symbol, qty=qty))

    def account(self, user: int) -> dict[str, Any]:
        """The user's account as the snapshot shows it."""
        for acct in snapshot(self.engine)["accounts"]:
            if acct["user"] == user:
                return dict(acct)
        raise KeyError(user)

    def cash(self, user: int) -> tuple[int, int]:
        """(cash, cash_held) of ``user``."""
        acct = self.engine.accounts[user]
        return acct.cash, acct.cash_held

    def shares(self, user: int, symbol: str = SYM) -> tuple[int, int]:
        """(position, held) of ``user`` in ``symbol``."""
        acct = self.engine.accounts[user]
        return acct.positions.get(symbol, 0), acct.held.get(symbol, 0)


def make_exchange(max_open_orders: int = 1_000) -> Exchange:
    """An exchange with ACME (tick 1, lot 1) and LOTS (tick 5, lot 10) listed, and four funded users."""
    ex = Exchange(Engine(limits=Limits(max_open_orders=max_open_orders)))
    ex.ok(AddSymbol(SYM, 1, 1))
    ex.ok(AddSymbol(LOT_SYM, 5, 10))
    for user in (ALICE, BOB, CAROL, DAVE):
        ex.fund(user, RICH_CASH, **{SYM: RICH_SHARES, LOT_SYM: RICH_SHARES})
    return ex


@pytest.fixture
def ex() -> Exchange:
    """A fresh exchange (see :func:`make_exchange`)."""
    return make_exchange()


def of_type(events: list[Event], kind: type[Any]) -> list[Any]:
    """The events of one type, in order."""
    return [e for e in events if isinstance(e, kind)]


def matches(events: list[Event]) -> list[Match]:
    """The trades among ``events``."""
    return of_type(events, Match)


def dones(events: list[Event]) -> list[Done]:
    """The ``Done`` events among ``events``."""
    return of_type(events, Done)


def opens(events: list[Event]) -> list[Open]:
    """The ``Open`` events among ``events``."""
    return of_type(events, Open)


def book_l3(ex: Exchange, symbol: str = SYM) -> dict[str, list[list[int]]]:
    """Resting orders per side as ``[order_id, price, qty]`` in priority order."""
    from exchange.engine.queries import level3

    view = level3(ex.engine.books[symbol])
    return {"bids": view["bids"], "asks": view["asks"]}
