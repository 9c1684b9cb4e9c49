"""Pre-trade risk and every rejection code: a refused command changes nothing."""

from __future__ import annotations

import pytest

from exchange.engine import (
    Ack,
    AddSymbol,
    Cancel,
    CancelAll,
    Deposit,
    Halt,
    NewOrder,
    Replace,
    Resume,
)
from exchange.engine.errors import ERROR_CODES

from .conftest import (
    ALICE,
    BOB,
    CAROL,
    LOT_SYM,
    RICH_CASH,
    RICH_SHARES,
    SYM,
    Exchange,
    make_exchange,
    matches,
)

NOBODY = 77  # a user without an account


def test_every_engine_code_is_a_protocol_code() -> None:
    for code in (
        "unknown_symbol", "halted", "invalid_price", "invalid_qty", "insufficient_funds",
        "insufficient_position", "unknown_order", "duplicate_client_order_id", "would_cross",
        "unfillable", "too_many_orders", "bad_request",
    ):
        assert code in ERROR_CODES


# ------------------------------------------------------------ unknown_symbol


@pytest.mark.parametrize(
    "command",
    [
        NewOrder(ALICE, "NOPE", "buy", "limit", 100, 1),
        NewOrder(ALICE, "NOPE", "sell", "market", None, 1),
        CancelAll(ALICE, "NOPE"),
        Deposit(ALICE, symbol="NOPE", qty=5),
        Deposit(ALICE, cash=5, symbol="NOPE", qty=5),
        Deposit(ALICE, cash=5, symbol="NOPE"),
        Halt("NOPE"),
        Resume("NOPE"),
    ],
)
def test_unknown_symbol(ex: Exchange, command: NewOrder | CancelAll | Deposit | Halt | Resume) -> None:
    ex.limit(ALICE, "buy", 100, 1)
    ex.reject(command, "unknown_symbol")


# ------------------------------------------------------------------- halted


def test_halted_refuses_orders_and_replaces_but_not_cancels(ex: Exchange) -> None:
    resting = ex.limit(ALICE, "buy", 100, 5, coid="x")[0]
    other = ex.limit(ALICE, "buy", 99, 5)[0]
    ex.limit(BOB, "sell", 101, 5)
    assert isinstance(resting, Ack) and isinstance(other, Ack)
    ex.ok(Halt(SYM))
    assert ex.engine.books[SYM].status == "halted"
    ex.reject(NewOrder(BOB, SYM, "sell", "limit", 100, 1), "halted")
    ex.reject(NewOrder(BOB, SYM, "sell", "market", None, 1), "halted")
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 1, 1, post_only=True), "halted")
    ex.reject(Replace(ALICE, resting.order_id, price=101), "halted")
    ex.reject(Replace(ALICE, resting.order_id, qty=1), "halted")
    # Other symbols still trade.
    ex.limit(ALICE, "buy", 100, 10, symbol=LOT_SYM)
    # Cancels work while halted.
    events = ex.ok(Cancel(ALICE, client_order_id="x"))
    assert events[0].remaining == 5  # type: ignore[union-attr]
    events = ex.ok(CancelAll(BOB, SYM))
    assert events[0].count == 1  # type: ignore[union-attr]
    ex.ok(Resume(SYM))
    assert ex.engine.books[SYM].status == "trading"
    trades = matches(ex.limit(BOB, "sell", 99, 5))
    assert [t.maker_order_id for t in trades] == [other.order_id]


def test_halt_and_resume_are_idempotent(ex: Exchange) -> None:
    ex.ok(Halt(SYM))
    ex.ok(Halt(SYM))
    ex.ok(Resume(SYM))
    ex.ok(Resume(SYM))
    ex.limit(ALICE, "buy", 100, 1)


# ------------------------------------------------------------ invalid_price


@pytest.mark.parametrize(
    ("symbol", "type_", "price"),
    [
        (SYM, "limit", None),
        (SYM, "limit", 0),
        (SYM, "limit", -5),
        (SYM, "limit", 1_000_000_001),
        (LOT_SYM, "limit", 101),
        (SYM, "market", 100),
    ],
)
def test_invalid_price(ex: Exchange, symbol: str, type_: str, price: int | None) -> None:
    qty = 10
    ex.reject(NewOrder(ALICE, symbol, "buy", type_, price, qty), "invalid_price")  # type: ignore[arg-type]
    ex.reject(NewOrder(ALICE, symbol, "sell", type_, price, qty), "invalid_price")  # type: ignore[arg-type]


@pytest.mark.parametrize(("symbol", "price"), [(SYM, 0), (SYM, -1), (LOT_SYM, 103), (SYM, 10**12)])
def test_replace_invalid_price(ex: Exchange, symbol: str, price: int) -> None:
    ack = ex.limit(ALICE, "buy", 100, 10, symbol=symbol)[0]
    assert isinstance(ack, Ack)
    ex.reject(Replace(ALICE, ack.order_id, price=price), "invalid_price")


# -------------------------------------------------------------- invalid_qty


@pytest.mark.parametrize(
    ("symbol", "qty"), [(SYM, 0), (SYM, -3), (SYM, 1_000_000_001), (LOT_SYM, 15), (LOT_SYM, 5)]
)
def test_invalid_qty(ex: Exchange, symbol: str, qty: int) -> None:
    ex.reject(NewOrder(ALICE, symbol, "buy", "limit", 100, qty), "invalid_qty")
    ex.reject(NewOrder(ALICE, symbol, "sell", "market", None, qty), "invalid_qty")
    ack = ex.limit(ALICE, "sell", 200, 10, symbol=symbol)[0]
    assert isinstance(ack, Ack)
    ex.reject(Replace(ALICE, ack.order_id, qty=qty), "invalid_qty")


# ------------------------------------------------------- insufficient_funds


def test_limit_buy_needs_available_cash(ex: Exchange) -> None:
    ex.fund(9, 1_000)
    ex.reject(NewOrder(9, SYM, "buy", "limit", 101, 10), "insufficient_funds")
    ex.limit(9, "buy", 60, 10)  # holds 600
    ex.reject(NewOrder(9, SYM, "buy", "limit", 41, 10), "insufficient_funds")
    ex.limit(9, "buy", 40, 10)  # exactly the rest
    assert ex.cash(9) == (1_000, 1_000)
    ex.reject(NewOrder(9, SYM, "buy", "limit", 1, 1), "insufficient_funds")


def test_no_account_cannot_trade(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 1)
    ex.limit(CAROL, "buy", 90, 1)
    ex.reject(NewOrder(NOBODY, SYM, "buy", "limit", 100, 1), "insufficient_funds")
    ex.reject(NewOrder(NOBODY, SYM, "buy", "market", None, 1), "insufficient_funds")
    ex.reject(NewOrder(NOBODY, SYM, "sell", "limit", 100, 1), "insufficient_position")
    ex.reject(NewOrder(NOBODY, SYM, "sell", "market", None, 1), "insufficient_position")


def test_market_buy_needs_one_lot_of_first_price(ex: Exchange) -> None:
    ex.fund(9, 99)
    ex.limit(BOB, "sell", 100, 5)
    ex.reject(NewOrder(9, SYM, "buy", "market", None, 1), "insufficient_funds")
    ex.fund(9, 1)
    ack = ex.market(9, "buy", 5)[0]
    assert isinstance(ack, Ack) and ack.status == "canceled"
    assert ex.shares(9) == (1, 0)
    assert ex.cash(9) == (0, 0)


def test_market_buy_with_only_held_cash_is_refused(ex: Exchange) -> None:
    ex.fund(9, 1_000)
    ex.limit(9, "buy", 50, 20)  # holds all of it
    ex.limit(BOB, "sell", 60, 5)
    ex.reject(NewOrder(9, SYM, "buy", "market", None, 1), "insufficient_funds")


def test_replace_needs_cash_beyond_its_own_hold(ex: Exchange) -> None:
    ex.fund(9, 1_000)
    ack = ex.limit(9, "buy", 50, 10)[0]
    assert isinstance(ack, Ack)
    ex.reject(Replace(9, ack.order_id, price=101), "insufficient_funds")
    ex.reject(Replace(9, ack.order_id, qty=21), "insufficient_funds")
    ex.ok(Replace(9, ack.order_id, price=100))  # 1000: exactly all its cash
    assert ex.cash(9) == (1_000, 1_000)
    ex.ok(Replace(9, ack.order_id, price=25, qty=40))
    assert ex.cash(9) == (1_000, 1_000)
    ex.ok(Replace(9, ack.order_id, qty=4))
    assert ex.cash(9) == (1_000, 100)


# ---------------------------------------------------- insufficient_position


def test_sell_needs_available_shares(ex: Exchange) -> None:
    ex.fund(9, 0, **{SYM: 10})
    ex.reject(NewOrder(9, SYM, "sell", "limit", 100, 11), "insufficient_position")
    ex.reject(NewOrder(9, SYM, "sell", "market", None, 11), "insufficient_position")
    ex.reject(NewOrder(9, LOT_SYM, "sell", "limit", 100, 10), "insufficient_position")
    ex.limit(9, "sell", 100, 6)
    ex.reject(NewOrder(9, SYM, "sell", "limit", 100, 5), "insufficient_position")
    ex.reject(NewOrder(9, SYM, "sell", "market", None, 5), "insufficient_position")
    ex.limit(9, "sell", 100, 4)
    assert ex.shares(9) == (10, 10)


def test_replace_sell_needs_shares_beyond_its_own_hold(ex: Exchange) -> None:
    ex.fund(9, 0, **{SYM: 10})
    ack = ex.limit(9, "sell", 100, 6)[0]
    assert isinstance(ack, Ack)
    ex.reject(Replace(9, ack.order_id, qty=11), "insufficient_position")
    ex.ok(Replace(9, ack.order_id, qty=10))
    assert ex.shares(9) == (10, 10)


def test_bought_shares_can_be_sold_and_sold_cash_spent(ex: Exchange) -> None:
    ex.fund(9, 1_000)
    ex.limit(BOB, "sell", 100, 10)
    ex.limit(9, "buy", 100, 10)
    ex.reject(NewOrder(9, SYM, "sell", "limit", 100, 11), "insufficient_position")
    ex.limit(9, "sell", 120, 10)
    ex.limit(CAROL, "buy", 120, 10)
    assert ex.cash(9) == (1_200, 0)
    assert ex.shares(9) == (0, 0)
    ex.reject(NewOrder(9, SYM, "buy", "limit", 121, 10), "insufficient_funds")
    ex.limit(9, "buy", 120, 10)


# ------------------------------------------------------------ unknown_order


def test_unknown_order(ex: Exchange) -> None:
    mine = ex.limit(ALICE, "buy", 100, 5, coid="shared")[0]
    theirs = ex.limit(BOB, "sell", 110, 5, coid="bobs")[0]
    assert isinstance(mine, Ack) and isinstance(theirs, Ack)
    # Another user's order, by id and by client id.
    ex.reject(Cancel(BOB, order_id=mine.order_id), "unknown_order")
    ex.reject(Cancel(BOB, client_order_id="shared"), "unknown_order")
    ex.reject(Replace(BOB, mine.order_id, qty=1), "unknown_order")
    ex.reject(Replace(BOB, client_order_id="shared", qty=1), "unknown_order")
    ex.reject(Cancel(ALICE, client_order_id="bobs"), "unknown_order")
    # Ids that never existed, and a user with no account.
    ex.reject(Cancel(ALICE, order_id=9_999), "unknown_order")
    ex.reject(Cancel(ALICE, client_order_id="nope"), "unknown_order")
    ex.reject(Cancel(NOBODY, order_id=mine.order_id), "unknown_order")
    ex.reject(Replace(NOBODY, mine.order_id, price=1), "unknown_order")
    # Orders that are no longer open: filled, canceled, expired.
    filled = matches(ex.limit(CAROL, "sell", 100, 5))[0]
    ex.reject(Cancel(ALICE, order_id=filled.maker_order_id), "unknown_order")
    ex.reject(Cancel(ALICE, client_order_id="shared"), "unknown_order")
    ex.reject(Cancel(CAROL, order_id=filled.taker_order_id), "unknown_order")
    ex.ok(Cancel(BOB, order_id=theirs.order_id))
    ex.reject(Cancel(BOB, order_id=theirs.order_id), "unknown_order")
    ex.reject(Replace(BOB, theirs.order_id, qty=1), "unknown_order")
    ioc = ex.limit(ALICE, "buy", 1, 1, tif="ioc")[0]
    assert isinstance(ioc, Ack)
    ex.reject(Cancel(ALICE, order_id=ioc.order_id), "unknown_order")


# ----------------------------------------------- duplicate_client_order_id


def test_duplicate_client_order_id_only_among_open_orders(ex: Exchange) -> None:
    ack = ex.limit(ALICE, "buy", 100, 5, coid="c1")[0]
    assert isinstance(ack, Ack)
    dup = "duplicate_client_order_id"
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 90, 1, client_order_id="c1"), dup)
    ex.reject(NewOrder(ALICE, LOT_SYM, "sell", "limit", 90, 10, client_order_id="c1"), dup)
    ex.reject(NewOrder(ALICE, SYM, "sell", "market", None, 1, "ioc", client_order_id="c1"), dup)
    reject = ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 90, 1, client_order_id="c1"), dup)
    assert reject.client_order_id == "c1" and reject.user == ALICE
    # Another user may use the same client id.
    ex.limit(BOB, "buy", 90, 1, coid="c1")
    # Once the order is gone the id is free again.
    ex.ok(Cancel(ALICE, client_order_id="c1"))
    again = ex.limit(ALICE, "buy", 95, 1, coid="c1")[0]
    assert isinstance(again, Ack) and again.order_id != ack.order_id
    ex.ok(Cancel(ALICE, client_order_id="c1"))
    assert ex.engine.accounts[ALICE].client_ids == {}


# -------------------------------------------------------------- would_cross


def test_would_cross_on_new_and_replace(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 105, 5)
    ack = ex.limit(ALICE, "buy", 100, 5, post_only=True)[0]
    assert isinstance(ack, Ack)
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 105, 5, post_only=True), "would_cross")
    ex.reject(Replace(ALICE, ack.order_id, price=105), "would_cross")
    ex.reject(Replace(ALICE, ack.order_id, price=106, qty=1), "would_cross")
    ex.ok(Replace(ALICE, ack.order_id, price=104))


# --------------------------------------------------------------- unfillable


def test_unfillable(ex: Exchange) -> None:
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 100, 1, "fok"), "unfillable")
    ex.reject(NewOrder(ALICE, SYM, "sell", "market", None, 1, "fok"), "unfillable")
    ex.limit(BOB, "buy", 100, 3)
    ex.reject(NewOrder(ALICE, SYM, "sell", "limit", 101, 1, "fok"), "unfillable")
    ex.reject(NewOrder(ALICE, SYM, "sell", "limit", 100, 4, "fok"), "unfillable")


# ---------------------------------------------------------- too_many_orders


def test_too_many_orders() -> None:
    ex = make_exchange(max_open_orders=3)
    ids = []
    for price in (90, 91, 92):
        ack = ex.limit(ALICE, "buy", price, 1)[0]
        assert isinstance(ack, Ack)
        ids.append(ack.order_id)
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 93, 1), "too_many_orders")
    ex.reject(NewOrder(ALICE, LOT_SYM, "buy", "limit", 95, 10), "too_many_orders")
    ex.reject(NewOrder(ALICE, SYM, "sell", "limit", 200, 1, post_only=True), "too_many_orders")
    # The cap is per user, and IOC / FOK / market orders never rest so they pass.
    ex.limit(BOB, "buy", 93, 1)
    ex.limit(ALICE, "buy", 93, 1, tif="ioc")
    ex.market(ALICE, "sell", 1)
    ex.limit(CAROL, "sell", 150, 1)
    ex.limit(ALICE, "buy", 150, 1, tif="fok")
    # Replaces do not add orders.
    ex.ok(Replace(ALICE, ids[0], price=80, qty=5))
    # A slot freed by a cancel can be used again.
    ex.ok(Cancel(ALICE, order_id=ids[1]))
    ex.limit(ALICE, "buy", 94, 1)
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 95, 1), "too_many_orders")


# -------------------------------------------------------------- bad_request


@pytest.mark.parametrize(
    "command",
    [
        NewOrder(ALICE, SYM, "buy", "market", None, 1, post_only=True),
        NewOrder(ALICE, SYM, "buy", "limit", 100, 1, "ioc", post_only=True),
        NewOrder(ALICE, SYM, "buy", "limit", 100, 1, "fok", post_only=True),
        Cancel(ALICE),
        Replace(ALICE, price=100),
        Deposit(ALICE, cash=-1),
        Deposit(ALICE, symbol=SYM, qty=-1),
        Deposit(ALICE),
        Deposit(ALICE, symbol=SYM),
        Deposit(ALICE, cash=10**15 + 1),
        Deposit(ALICE, symbol=SYM, qty=10**15 + 1),
        AddSymbol(SYM, 1, 1),
        AddSymbol("", 1, 1),
        AddSymbol("lower", 1, 1),
        AddSymbol("WAY-TOO-LONG-NAME", 1, 1),
        AddSymbol("SP ACE", 1, 1),
        AddSymbol("NEW", 0, 1),
        AddSymbol("NEW", 1, 0),
        AddSymbol("NEW", -1, 1),
    ],
)
def test_bad_request(ex: Exchange, command: NewOrder | Cancel | Replace | Deposit | AddSymbol) -> None:
    ex.limit(ALICE, "buy", 90, 1)
    ex.reject(command, "bad_request")


# -------------------------------------------------------- deposits and holds


def test_deposits_add_up(ex: Exchange) -> None:
    ex.ok(Deposit(9, cash=5))
    ex.ok(Deposit(9, cash=7, symbol=SYM, qty=3))
    ex.ok(Deposit(9, symbol=SYM, qty=2))
    assert ex.cash(9) == (12, 0)
    assert ex.shares(9) == (5, 0)


def test_cancel_releases_exact_holds(ex: Exchange) -> None:
    buy = ex.limit(ALICE, "buy", 103, 7)[0]
    sell = ex.limit(ALICE, "sell", 110, 9)[0]
    assert isinstance(buy, Ack) and isinstance(sell, Ack)
    assert ex.cash(ALICE) == (RICH_CASH, 721)
    assert ex.shares(ALICE) == (RICH_SHARES, 9)
    ex.limit(BOB, "sell", 103, 3)
    assert ex.cash(ALICE) == (RICH_CASH - 309, 412)
    ex.ok(Cancel(ALICE, order_id=buy.order_id))
    ex.ok(Cancel(ALICE, order_id=sell.order_id))
    assert ex.cash(ALICE) == (RICH_CASH - 309, 0)
    assert ex.shares(ALICE) == (RICH_SHARES + 3, 0)


def test_maker_buy_pays_its_own_price(ex: Exchange) -> None:
    ex.limit(ALICE, "buy", 103, 7)
    ex.limit(BOB, "sell", 90, 2)  # trades at the maker's 103
    assert ex.cash(ALICE) == (RICH_CASH - 206, 5 * 103)
    assert ex.cash(BOB) == (RICH_CASH + 206, 0)
