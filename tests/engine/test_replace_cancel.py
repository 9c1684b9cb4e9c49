"""Cancel, cancel-all and replace."""

from __future__ import annotations

from exchange.engine import (
    Ack,
    Cancel,
    CancelAll,
    CanceledAll,
    Change,
    Done,
    Event,
    Open,
    Replace,
)
from exchange.engine.book import _COMPACT_MIN_DEAD
from exchange.engine.events import Canceled
from exchange.engine.queries import open_orders

from .conftest import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    LOT_SYM,
    RICH_CASH,
    RICH_SHARES,
    SYM,
    Exchange,
    book_l3,
    dones,
    matches,
    opens,
)


def _id(events: list[Event]) -> int:
    ack = events[0]
    assert isinstance(ack, Ack)
    return ack.order_id


# ------------------------------------------------------------------- cancel


def test_cancel_by_id(ex: Exchange) -> None:
    oid = _id(ex.limit(ALICE, "buy", 100, 5, coid="c"))
    ex.limit(BOB, "buy", 100, 2)
    events = ex.ok(Cancel(ALICE, order_id=oid))
    assert events[0] == Canceled(ALICE, oid, "c", 5)
    [done] = events[1:]
    assert isinstance(done, Done)
    assert (done.order_id, done.reason, done.remaining) == (oid, "canceled", 5)
    assert (done.price, done.level_qty) == (100, 2)
    assert done.seq == ex.engine.books[SYM].seq == 3
    assert ex.cash(ALICE) == (RICH_CASH, 0)
    assert oid not in ex.engine.accounts[ALICE].orders
    assert [row[0] for row in book_l3(ex)["bids"]] != [oid]


def test_cancel_by_client_id_after_partial_fill(ex: Exchange) -> None:
    oid = _id(ex.limit(ALICE, "sell", 100, 5, coid="s1"))
    ex.limit(BOB, "buy", 100, 2)
    events = ex.ok(Cancel(ALICE, client_order_id="s1"))
    assert events[0] == Canceled(ALICE, oid, "s1", 3)
    assert ex.shares(ALICE) == (RICH_SHARES - 2, 0)
    assert book_l3(ex) == {"bids": [], "asks": []}
    assert ex.engine.accounts[ALICE].client_ids == {}


def test_cancel_in_the_middle_keeps_others_order(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "sell", 100, 1))
    b = _id(ex.limit(BOB, "sell", 100, 2))
    c = _id(ex.limit(CAROL, "sell", 100, 3))
    ex.ok(Cancel(BOB, order_id=b))
    assert book_l3(ex)["asks"] == [[a, 100, 1], [c, 100, 3]]
    trades = matches(ex.limit(DAVE, "buy", 100, 4))
    assert [(t.maker_order_id, t.qty) for t in trades] == [(a, 1), (c, 3)]


def test_cancel_all_on_one_symbol(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "buy", 100, 1))
    b = _id(ex.limit(ALICE, "sell", 110, 1))
    c = _id(ex.limit(ALICE, "buy", 100, 10, symbol=LOT_SYM))
    ex.limit(BOB, "buy", 100, 1)
    events = ex.ok(CancelAll(ALICE, SYM))
    assert events[0] == CanceledAll(ALICE, 2)
    assert sorted(d.order_id for d in dones(events)) == [a, b]
    assert all(d.reason == "canceled" for d in dones(events))
    assert list(ex.engine.accounts[ALICE].orders) == [c]
    assert len(book_l3(ex)["bids"]) == 1
    assert ex.cash(ALICE) == (RICH_CASH, 1_000)
    assert ex.shares(ALICE) == (RICH_SHARES, 0)


def test_cancel_all_everywhere(ex: Exchange) -> None:
    ex.limit(ALICE, "buy", 100, 1)
    ex.limit(ALICE, "buy", 100, 1)
    ex.limit(ALICE, "sell", 110, 10, symbol=LOT_SYM)
    keep = _id(ex.limit(BOB, "sell", 110, 10, symbol=LOT_SYM))
    events = ex.ok(CancelAll(ALICE))
    assert events[0] == CanceledAll(ALICE, 3)
    assert len(dones(events)) == 3
    # Book seqs: each symbol's Done events continue its own sequence.
    assert [d.seq for d in dones(events) if d.symbol == SYM] == [3, 4]
    assert [d.seq for d in dones(events) if d.symbol == LOT_SYM] == [3]
    assert ex.engine.accounts[ALICE].orders == {}
    assert ex.cash(ALICE) == (RICH_CASH, 0)
    assert ex.shares(ALICE, LOT_SYM) == (RICH_SHARES, 0)
    assert book_l3(ex, LOT_SYM)["asks"] == [[keep, 110, 10]]


def test_cancel_all_with_nothing_open(ex: Exchange) -> None:
    assert ex.ok(CancelAll(ALICE)) == [CanceledAll(ALICE, 0)]
    assert ex.ok(CancelAll(77, SYM)) == [CanceledAll(77, 0)]


# ------------------------------------------------------------------ replace


def test_lower_qty_keeps_priority(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "buy", 100, 10, coid="a"))
    b = _id(ex.limit(BOB, "buy", 100, 5))
    events = ex.ok(Replace(ALICE, a, qty=4))
    ack, change = events
    assert isinstance(ack, Ack) and (ack.order_id, ack.status, ack.remaining) == (a, "open", 4)
    assert ack.client_order_id == "a"
    assert change == Change(SYM, 3, a, "buy", 100, 4, 9)
    assert book_l3(ex)["bids"] == [[a, 100, 4], [b, 100, 5]]
    assert ex.cash(ALICE) == (RICH_CASH, 400)
    trades = matches(ex.limit(CAROL, "sell", 100, 5))
    assert [(t.maker_order_id, t.qty) for t in trades] == [(a, 4), (b, 1)]


def test_lower_qty_by_client_id_on_partially_filled_order(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "sell", 100, 10, coid="x"))
    ex.limit(BOB, "buy", 100, 3)
    events = ex.ok(Replace(ALICE, client_order_id="x", qty=2))
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "partially_filled" and ack.remaining == 2
    assert isinstance(events[1], Change) and events[1].qty == 2
    assert ex.shares(ALICE) == (RICH_SHARES - 3, 2)
    [view] = open_orders(ex.engine, ALICE)
    assert (view["order_id"], view["qty"], view["remaining"], view["status"]) == (a, 5, 2, "partially_filled")


def test_replace_to_same_qty_and_price_changes_no_book(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "buy", 100, 10))
    seq = ex.engine.books[SYM].seq
    events = ex.ok(Replace(ALICE, a, price=100, qty=10))
    assert len(events) == 1 and isinstance(events[0], Ack) and events[0].remaining == 10
    assert ex.engine.books[SYM].seq == seq


def test_raise_qty_requeues_at_back(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "buy", 100, 5))
    b = _id(ex.limit(BOB, "buy", 100, 5))
    events = ex.ok(Replace(ALICE, a, qty=6))
    ack, done, opened = events
    assert isinstance(ack, Ack) and ack.order_id == a and ack.status == "open" and ack.remaining == 6
    assert isinstance(done, Done) and (done.order_id, done.reason, done.remaining, done.level_qty) == (
        a, "replaced", 5, 5,
    )
    assert opened == Open(SYM, done.seq + 1, a, "buy", 100, 6, 11)
    assert book_l3(ex)["bids"] == [[b, 100, 5], [a, 100, 6]]
    assert ex.cash(ALICE) == (RICH_CASH, 600)
    trades = matches(ex.limit(CAROL, "sell", 100, 6))
    assert [(t.maker_order_id, t.qty) for t in trades] == [(b, 5), (a, 1)]


def test_new_price_requeues_at_back_of_new_level(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "sell", 105, 5))
    b = _id(ex.limit(BOB, "sell", 103, 5))
    c = _id(ex.limit(CAROL, "sell", 105, 1))
    events = ex.ok(Replace(ALICE, a, price=103, qty=2))
    assert [type(e) for e in events] == [Ack, Done, Open]
    assert book_l3(ex)["asks"] == [[b, 103, 5], [a, 103, 2], [c, 105, 1]]
    assert ex.shares(ALICE) == (RICH_SHARES, 2)
    # Even a lower qty at a new price loses priority.
    events = ex.ok(Replace(BOB, b, price=104, qty=1))
    assert [type(e) for e in events] == [Ack, Done, Open]
    assert book_l3(ex)["asks"] == [[a, 103, 2], [b, 104, 1], [c, 105, 1]]


def test_new_price_keeps_id_client_id_and_filled_qty(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "buy", 100, 10, coid="keep"))
    ex.limit(BOB, "sell", 100, 4)
    events = ex.ok(Replace(ALICE, client_order_id="keep", price=98))
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "partially_filled" and ack.remaining == 6
    [view] = open_orders(ex.engine, ALICE)
    assert (view["order_id"], view["client_order_id"], view["price"]) == (a, "keep", 98)
    assert (view["qty"], view["remaining"]) == (10, 6)
    assert ex.cash(ALICE) == (RICH_CASH - 400, 6 * 98)
    ex.ok(Cancel(ALICE, client_order_id="keep"))
    assert ex.cash(ALICE) == (RICH_CASH - 400, 0)


def test_crossing_replace_trades_then_rests(ex: Exchange) -> None:
    ask = _id(ex.limit(BOB, "sell", 101, 3))
    a = _id(ex.limit(ALICE, "buy", 99, 5))
    events = ex.ok(Replace(ALICE, a, price=102))
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "partially_filled" and ack.remaining == 2
    [trade] = matches(events)
    assert (trade.maker_order_id, trade.taker_order_id, trade.price, trade.qty) == (ask, a, 101, 3)
    assert trade.taker_remaining == 2
    [opened] = opens(events)
    assert (opened.order_id, opened.price, opened.qty) == (a, 102, 2)
    assert ex.cash(ALICE) == (RICH_CASH - 303, 2 * 102)
    assert ex.shares(ALICE) == (RICH_SHARES + 3, 0)


def test_crossing_replace_fills_completely(ex: Exchange) -> None:
    ex.limit(BOB, "buy", 100, 5)
    a = _id(ex.limit(ALICE, "sell", 101, 5))
    events = ex.ok(Replace(ALICE, a, price=95))
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "filled" and ack.remaining == 0
    assert [t.price for t in matches(events)] == [100]
    assert ex.engine.accounts[ALICE].orders == {}
    assert ex.cash(ALICE) == (RICH_CASH + 500, 0)
    assert ex.shares(ALICE) == (RICH_SHARES - 5, 0)
    # A later cancel of the filled order is refused.
    ex.reject(Cancel(ALICE, order_id=a), "unknown_order")


def test_crossing_replace_cancels_own_resting_order(ex: Exchange) -> None:
    own = _id(ex.limit(ALICE, "sell", 101, 3))
    other = _id(ex.limit(BOB, "sell", 101, 3))
    a = _id(ex.limit(ALICE, "buy", 99, 4))
    events = ex.ok(Replace(ALICE, a, price=101))
    assert [(d.order_id, d.reason) for d in dones(events)] == [
        (a, "replaced"), (own, "self_trade"), (other, "filled"),
    ]
    assert [t.maker_order_id for t in matches(events)] == [other]
    assert book_l3(ex) == {"bids": [[a, 101, 1]], "asks": []}


def test_replace_price_down_releases_cash(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "buy", 100, 10))
    ex.ok(Replace(ALICE, a, price=50))
    assert ex.cash(ALICE) == (RICH_CASH, 500)
    ex.ok(Replace(ALICE, a, price=60, qty=20))
    assert ex.cash(ALICE) == (RICH_CASH, 1_200)


def test_replace_sell_qty_up_holds_more_shares(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "sell", 100, 10, symbol=LOT_SYM))
    ex.ok(Replace(ALICE, a, qty=30))
    assert ex.shares(ALICE, LOT_SYM) == (RICH_SHARES, 30)
    ex.ok(Replace(ALICE, a, qty=20))
    assert ex.shares(ALICE, LOT_SYM) == (RICH_SHARES, 20)


def test_repeated_replaces_keep_one_live_entry(ex: Exchange) -> None:
    a = _id(ex.limit(ALICE, "buy", 100, 1))
    for i in range(3 * _COMPACT_MIN_DEAD):
        ex.ok(Replace(ALICE, a, price=100 + i % 2, qty=1 + i % 3))
    bids = ex.engine.books[SYM].bids
    live = [o for level in bids.levels.values() for o in level.orders if o.remaining]
    assert [o.order_id for o in live] == [a]
    assert live[0] is ex.engine.accounts[ALICE].orders[a]
    for level in bids.levels.values():
        assert len(level.orders) <= 2 * _COMPACT_MIN_DEAD + 2


def test_many_cancels_compact_the_level(ex: Exchange) -> None:
    ids = [_id(ex.limit(ALICE, "buy", 100, 1)) for _ in range(200)]
    for oid in ids[:-1]:
        ex.ok(Cancel(ALICE, order_id=oid))
    level = ex.engine.books[SYM].bids.best()
    assert level is not None and level.count == 1 and level.total == 1
    assert len(level.orders) <= _COMPACT_MIN_DEAD + 2
    # Cancels from the back of a long queue: compaction keeps memory bounded too.
    ids = [_id(ex.limit(BOB, "buy", 100, 1)) for _ in range(200)]
    for oid in reversed(ids):
        ex.ok(Cancel(BOB, order_id=oid))
        assert len(level.orders) <= 2 * level.count + _COMPACT_MIN_DEAD + 1


def test_many_price_levels_emptied_are_forgotten(ex: Exchange) -> None:
    for price in range(1, 400):
        ex.limit(ALICE, "buy", price, 1)
    ex.ok(CancelAll(ALICE))
    bids = ex.engine.books[SYM].bids
    assert bids.best() is None
    assert len(bids.levels) <= 2 * 64 + 1
    ex.limit(ALICE, "buy", 5, 1)
    assert bids.best() is not None and bids.best().price == 5  # type: ignore[union-attr]
