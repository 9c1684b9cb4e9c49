"""The engine's hard maxima: nothing it accepts can make a checkpoint fail.

The numbers are written out here as the docs state them (docs/protocol.md,
"Numbers and ids"); ``test_the_maxima_are_the_documented_numbers`` ties them to
``exchange.engine.limits``.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from exchange.engine import (
    AddSymbol,
    Deposit,
    Engine,
    Limits,
    NewOrder,
    Reject,
    Replace,
    restore,
    snapshot,
)
from exchange.engine.events import Match
from exchange.journal.checkpoint import encode_checkpoint, load_engine
from exchange.money import dollars
from tests.engine.conftest import ALICE, BOB, SYM, Exchange

MAX_PRICE = 10**9
MAX_QTY = 10**9
MAX_DEPOSIT = 10**15
MAX_CASH = 10**18
MAX_SHARES = 10**18
MAX_VOLUME = 2**63 - 1
WHALE, SHARK = 7, 8


def _round_trip(engine: Engine) -> Engine:
    """Checkpoint ``engine`` as the journal does and load it back."""
    data = encode_checkpoint(snapshot(engine))
    copy = load_engine(data, seq=engine.seq, crc=zlib.crc32(data))
    assert snapshot(copy) == snapshot(engine)
    return copy


def _fill_to_cap(ex: Exchange, user: int, *, symbol: str | None = None, attempts: int = 20_000) -> Reject:
    """Deposit the largest amount again and again until refused; return the refusal."""
    for _ in range(attempts):
        cash, qty = (0, MAX_DEPOSIT) if symbol else (MAX_DEPOSIT, 0)
        reply = ex.do(Deposit(user, cash=cash, symbol=symbol, qty=qty))[0]
        if isinstance(reply, Reject):
            return reply
    raise AssertionError(f"{attempts} deposits of {MAX_DEPOSIT} were all accepted")


@pytest.fixture
def bare() -> Exchange:
    """An engine with ACME listed and nobody funded."""
    ex = Exchange(Engine())
    ex.ok(AddSymbol(SYM, 1, 1))
    return ex


def test_the_maxima_are_the_documented_numbers() -> None:
    from exchange.engine import limits

    assert (limits.MAX_PRICE, limits.MAX_QTY, limits.MAX_DEPOSIT) == (MAX_PRICE, MAX_QTY, MAX_DEPOSIT)
    assert (limits.MAX_CASH, limits.MAX_SHARES, limits.MAX_VOLUME) == (MAX_CASH, MAX_SHARES, MAX_VOLUME)
    assert (limits.MAX_TICK, limits.MAX_LOT) == (MAX_PRICE, MAX_QTY)
    # The arithmetic of the module doc: every derived sum stays a signed 64-bit integer.
    assert MAX_PRICE * MAX_QTY <= MAX_CASH
    assert MAX_CASH + MAX_SHARES < 2**63
    assert dollars(MAX_CASH) == "$10,000,000,000,000,000.00"
    assert dollars(-5) == "-$0.05"


def test_the_exchange_cash_stops_at_its_maximum_and_the_checkpoint_round_trips(bare: Exchange) -> None:
    """The audit: thousands of maximum deposits; the total is refused past 10^18 cents."""
    reply = _fill_to_cap(bare, WHALE)
    assert reply.code == "limit_exceeded"
    assert "$10,000,000,000,000,000.00" in reply.message
    assert bare.engine.accounts[WHALE].cash == MAX_CASH
    bare.reject(Deposit(BOB, cash=1), "limit_exceeded")  # the total is capped, whoever receives it
    _round_trip(bare.engine)


def test_a_symbols_shares_stop_at_their_maximum(bare: Exchange) -> None:
    reply = _fill_to_cap(bare, WHALE, symbol=SYM)
    assert reply.code == "limit_exceeded"
    assert f"{MAX_SHARES:,}" in reply.message
    assert bare.engine.accounts[WHALE].positions[SYM] == MAX_SHARES
    bare.reject(Deposit(BOB, symbol=SYM, qty=1), "limit_exceeded")
    bare.ok(AddSymbol("OTHER", 1, 1))
    bare.ok(Deposit(BOB, symbol="OTHER", qty=1))  # per symbol
    bare.ok(Deposit(BOB, cash=1))  # shares do not use up cash
    _round_trip(bare.engine)


def test_a_deposit_exactly_to_the_maximum_is_accepted(bare: Exchange) -> None:
    bare.engine.cash = MAX_CASH - 5  # as if many deposits had come before
    bare.reject(Deposit(ALICE, cash=6), "limit_exceeded")
    bare.ok(Deposit(ALICE, cash=5))
    bare.reject(Deposit(ALICE, cash=1), "limit_exceeded")


def test_a_checkpoint_at_the_maxima_round_trips(bare: Exchange) -> None:
    """Largest cash, position, price and quantity; a maximum trade; resting orders at the maxima."""
    _fill_to_cap(bare, WHALE)
    _fill_to_cap(bare, SHARK, symbol=SYM)
    # One maximum trade: 10^9 shares at 10^9 cents is all the cash on the exchange.
    bare.limit(SHARK, "sell", MAX_PRICE, MAX_QTY)
    events = bare.limit(WHALE, "buy", MAX_PRICE, MAX_QTY)
    assert [(m.price, m.qty) for m in events if isinstance(m, Match)] == [(MAX_PRICE, MAX_QTY)]
    assert bare.cash(SHARK) == (MAX_CASH, 0) and bare.cash(WHALE) == (0, 0)
    assert bare.shares(WHALE) == (MAX_QTY, 0)
    # Now the shark holds all the cash: resting buys holding all of it, and the largest sells.
    bare.limit(SHARK, "buy", MAX_PRICE - 1, MAX_QTY)
    bare.limit(SHARK, "buy", 1, MAX_QTY)
    assert bare.cash(SHARK) == (MAX_CASH, MAX_CASH)
    bare.limit(SHARK, "sell", MAX_PRICE, MAX_QTY)
    bare.limit(WHALE, "sell", MAX_PRICE, MAX_QTY)
    assert bare.engine.books[SYM].open_interest == 4 * MAX_QTY
    copy = _round_trip(bare.engine)
    assert copy.cash == MAX_CASH and copy.books[SYM].shares == MAX_SHARES
    # The restored engine knows the totals: it refuses the next cent as the original does.
    assert isinstance(copy.apply(Deposit(ALICE, cash=1), 1)[0], Reject)


def test_prices_and_quantities_over_the_maxima_are_refused(bare: Exchange) -> None:
    bare.ok(Deposit(ALICE, cash=MAX_DEPOSIT))
    bare.ok(Deposit(ALICE, symbol=SYM, qty=MAX_DEPOSIT))
    for price, qty, code in ((MAX_PRICE + 1, 1, "invalid_price"), (1, MAX_QTY + 1, "invalid_qty"),
                             (2**70, 1, "invalid_price"), (1, 2**70, "invalid_qty")):
        for side in ("buy", "sell"):
            bare.reject(NewOrder(ALICE, SYM, side, "limit", price, qty), code)  # type: ignore[arg-type]
    bare.reject(NewOrder(ALICE, SYM, "sell", "market", None, MAX_QTY + 1), "invalid_qty")


def test_a_replace_keeps_an_orders_size_within_the_maximum(bare: Exchange) -> None:
    """Filled + open is at most 10^9: replaces cannot grow an order's size without end."""
    bare.fund(ALICE, MAX_DEPOSIT)
    bare.fund(BOB, **{SYM: MAX_DEPOSIT})
    order_id = bare.limit(ALICE, "buy", 1, MAX_QTY)[0].order_id  # type: ignore[attr-defined]
    bare.limit(BOB, "sell", 1, 10)
    reply = bare.reject(Replace(ALICE, order_id, qty=MAX_QTY), "invalid_qty")
    assert "filled 10" in reply.message and str(MAX_QTY - 10) in reply.message
    bare.ok(Replace(ALICE, order_id, price=2))  # the same size at a new price
    bare.reject(Replace(ALICE, order_id, qty=MAX_QTY - 9, price=3), "invalid_qty")
    bare.ok(Replace(ALICE, order_id, qty=MAX_QTY - 10, price=3))
    bare.ok(Replace(ALICE, order_id, qty=5))  # reducing is always fine


@pytest.mark.parametrize(
    ("tick", "lot"), [(MAX_PRICE + 1, 1), (1, MAX_QTY + 1), (2**64, 1), (1, 2**70)]
)
def test_a_symbols_tick_and_lot_are_bounded(bare: Exchange, tick: int, lot: int) -> None:
    reply = bare.reject(AddSymbol("BIG", tick, lot), "bad_request")
    assert "1 to 1000000000" in reply.message


def test_a_symbol_at_the_maximum_tick_and_lot_trades(bare: Exchange) -> None:
    bare.ok(AddSymbol("BIG", MAX_PRICE, MAX_QTY))
    bare.fund(ALICE, MAX_DEPOSIT)
    bare.fund(BOB, BIG=MAX_DEPOSIT)
    bare.limit(BOB, "sell", MAX_PRICE, MAX_QTY, symbol="BIG")
    bare.reject(NewOrder(ALICE, "BIG", "buy", "limit", MAX_PRICE, MAX_QTY), "insufficient_funds")
    _round_trip(bare.engine)


def test_volume_stops_at_its_maximum_instead_of_overflowing(bare: Exchange) -> None:
    bare.fund(ALICE, 1_000)
    bare.fund(BOB, **{SYM: 100})
    bare.engine.books[SYM].volume = MAX_VOLUME - 5
    bare.limit(BOB, "sell", 10, 3)
    bare.limit(ALICE, "buy", 10, 3)
    assert bare.engine.books[SYM].volume == MAX_VOLUME - 2
    bare.limit(BOB, "sell", 10, 4)
    bare.limit(ALICE, "buy", 10, 4)
    assert bare.engine.books[SYM].volume == MAX_VOLUME
    _round_trip(bare.engine)


def test_limits_cannot_exceed_the_maxima() -> None:
    for kwargs in ({"max_price": MAX_PRICE + 1}, {"max_qty": MAX_QTY + 1}, {"max_deposit": MAX_DEPOSIT + 1},
                   {"max_price": 0}, {"max_open_orders": 0}):
        with pytest.raises(ValueError, match="must be"):
            Limits(**kwargs)
    assert Limits(max_price=100).as_dict()["max_price"] == 100


def test_lower_limits_bound_ticks_and_lots_too() -> None:
    ex = Exchange(Engine(limits=Limits(max_price=1_000, max_qty=50)))
    ex.reject(AddSymbol("TICK", 1_001, 1), "bad_request")
    ex.reject(AddSymbol("LOT", 1, 51), "bad_request")
    ex.ok(AddSymbol("EDGE", 1_000, 50))


def test_a_state_from_before_the_caps_is_restored_and_refuses_further_deposits(bare: Exchange) -> None:
    """An old home over the totals (possible only before the caps) still starts; it cannot grow."""
    bare.fund(ALICE, 100, **{SYM: 10})
    state: dict[str, Any] = snapshot(bare.engine)
    state["accounts"][0]["cash"] = 3 * 10**18
    state["accounts"][0]["positions"][SYM] = 2 * 10**18
    engine = restore(state)
    assert engine.cash == 3 * 10**18 and engine.books[SYM].shares == 2 * 10**18
    old = Exchange(engine)
    old.reject(Deposit(BOB, cash=1), "limit_exceeded")
    old.reject(Deposit(BOB, symbol=SYM, qty=1), "limit_exceeded")
    old.ok(NewOrder(ALICE, SYM, "sell", "limit", 5, 1))
