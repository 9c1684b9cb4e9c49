"""Stop, stop-limit, good-till-date and iceberg orders in the pure engine."""

from __future__ import annotations

import copy

import pytest

from exchange.engine import (
    Ack,
    Applied,
    Cancel,
    CancelAll,
    Done,
    Expire,
    Match,
    NewOrder,
    Reject,
    Replace,
    Triggered,
    restore,
    snapshot,
)
from exchange.engine.events import Change, Open
from exchange.engine.limits import MAX_EXPIRE_NS
from exchange.engine.queries import level2, open_orders

from .conftest import ALICE, BOB, CAROL, DAVE, LOT_SYM, SYM, Exchange, book_l3, dones, matches, of_type, opens

SEC = 10**9


def stop(user: int, side: str, stop_price: int, qty: int, price: int | None = None, **kw: object) -> NewOrder:
    """A stop (``price`` None) or stop-limit order."""
    kind = "stop" if price is None else "stop_limit"
    return NewOrder(user, SYM, side, kind, price, qty, stop_price=stop_price, **kw)  # type: ignore[arg-type]


def trade_at(ex: Exchange, price: int, qty: int = 1, seller: int = CAROL, buyer: int = DAVE) -> None:
    """Print one trade at ``price`` between two users that own no stops."""
    ex.limit(seller, "sell", price, qty)
    ex.limit(buyer, "buy", price, qty)


# ------------------------------------------------------------------ stops


def test_buy_stop_waits_unseen_then_becomes_a_market_buy(ex: Exchange) -> None:
    trade_at(ex, 100)
    ack = ex.ok(stop(ALICE, "buy", 105, 10))[0]
    assert isinstance(ack, Ack) and (ack.status, ack.remaining) == ("pending", 10)
    assert book_l3(ex) == {"bids": [], "asks": []}
    [view] = open_orders(ex.engine, ALICE)
    assert (view["type"], view["status"], view["stop_price"], view["price"], view["triggered"]) == (
        "stop", "pending", 105, None, False,
    )
    assert ex.cash(ALICE)[1] == 0  # a stop buy holds nothing, like a market buy
    ex.limit(BOB, "sell", 106, 4)
    ex.limit(BOB, "sell", 107, 10)
    events = ex.limit(DAVE, "sell", 105, 1)  # no trade: nothing happens
    assert not of_type(events, Triggered)
    events = ex.limit(CAROL, "buy", 105, 1)  # a trade at 105: the stop triggers
    [note] = of_type(events, Triggered)
    assert (note.order_id, note.user, note.stop_price) == (ack.order_id, ALICE, 105)
    assert events.index(note) < events.index(matches(events)[-1])
    fills = [(m.price, m.qty) for m in matches(events) if m.taker_order_id == ack.order_id]
    assert fills == [(106, 4), (107, 6)]
    assert (note.status, note.remaining) == ("filled", 0)
    assert open_orders(ex.engine, ALICE) == []
    assert dones(events)[-1].reason == "filled" and dones(events)[-1].seq == 0


def test_sell_stop_limit_rests_at_its_price_after_the_trigger(ex: Exchange) -> None:
    trade_at(ex, 100)
    ack = ex.ok(stop(ALICE, "sell", 95, 10, price=94))[0]
    assert ex.shares(ALICE)[1] == 10  # held from the start
    ex.limit(BOB, "buy", 96, 3)
    events = ex.ok(NewOrder(CAROL, SYM, "sell", "limit", 95, 5))  # trades 96, rests 2 at 95
    assert not of_type(events, Triggered)  # 96 > 95
    ex.limit(DAVE, "buy", 94, 2)
    events = ex.limit(BOB, "buy", 95, 2)  # takes CAROL's 2 at 95: through the stop
    [note] = of_type(events, Triggered)
    # Enters as a sell limit at 94: takes DAVE's 2 at 94, rests the other 8.
    assert [(m.price, m.qty) for m in matches(events) if m.taker_order_id == ack.order_id] == [(94, 2)]
    assert (note.status, note.remaining) == ("partially_filled", 8)
    assert opens(events)[-1].order_id == ack.order_id
    assert book_l3(ex)["asks"] == [[ack.order_id, 94, 8]]
    [view] = open_orders(ex.engine, ALICE)
    assert (view["status"], view["triggered"], view["type"]) == ("partially_filled", True, "stop_limit")


def test_a_stop_through_the_last_trade_is_refused(ex: Exchange) -> None:
    ex.ok(stop(ALICE, "buy", 100, 1))  # no trade yet: anything goes
    trade_at(ex, 100)  # triggers it (a trade at 100)
    for order in (stop(ALICE, "buy", 100, 1), stop(ALICE, "buy", 99, 1), stop(ALICE, "sell", 100, 1),
                  stop(ALICE, "sell", 101, 1, price=90)):
        assert ex.reject(order, "would_trigger").field == "stop_price"
    ex.ok(stop(ALICE, "buy", 101, 1))
    ex.ok(stop(ALICE, "sell", 99, 1))


@pytest.mark.parametrize(
    ("order", "code", "field"),
    [
        (NewOrder(ALICE, SYM, "buy", "stop", None, 1), "invalid_price", "stop_price"),
        (NewOrder(ALICE, SYM, "buy", "limit", 100, 1, stop_price=101), "invalid_price", "stop_price"),
        (NewOrder(ALICE, SYM, "buy", "stop", 100, 1, stop_price=101), "invalid_price", "price"),
        (NewOrder(ALICE, SYM, "buy", "stop_limit", None, 1, stop_price=101), "invalid_price", "price"),
        (NewOrder(ALICE, SYM, "buy", "stop_limit", 100, 1, post_only=True, stop_price=101), "bad_request",
         "post_only"),
        (NewOrder(ALICE, LOT_SYM, "buy", "stop", None, 10, stop_price=101), "invalid_price", "stop_price"),
        (NewOrder(ALICE, SYM, "buy", "stop", None, 1, stop_price=0), "invalid_price", "stop_price"),
        (NewOrder(ALICE, SYM, "buy", "stop", None, 1, "gtd", stop_price=5, expire_ts=10**12), "bad_request",
         "tif"),
    ],
)
def test_bad_stops_are_refused_precisely(ex: Exchange, order: NewOrder, code: str, field: str) -> None:
    assert ex.reject(order, code).field == field


def test_stop_holds_and_cancels(ex: Exchange) -> None:
    trade_at(ex, 100)
    cash, held = ex.cash(ALICE)
    limit_buy = ex.ok(stop(ALICE, "buy", 110, 5, price=111, client_order_id="s1"))[0]
    assert ex.cash(ALICE)[1] == held + 111 * 5
    sell = ex.ok(stop(ALICE, "sell", 90, 7))[0]
    assert ex.shares(ALICE)[1] == 7
    events = ex.ok(Cancel(ALICE, client_order_id="s1"))
    assert [(d.reason, d.seq, d.remaining) for d in dones(events)] == [("canceled", 0, 5)]
    assert ex.cash(ALICE) == (cash, held)
    events = ex.ok(CancelAll(ALICE))
    assert [d.order_id for d in dones(events)] == [sell.order_id]  # type: ignore[union-attr]
    assert ex.shares(ALICE)[1] == 0 and open_orders(ex.engine, ALICE) == []
    assert limit_buy.order_id not in ex.engine.books[SYM].stops.orders  # type: ignore[union-attr]
    # A stop buy must afford one lot at its stop price.
    poor = 77
    ex.fund(poor, 50)
    assert ex.reject(NewOrder(poor, SYM, "buy", "stop", None, 1, stop_price=101), "insufficient_funds")


def test_stops_trigger_in_price_then_arrival_order_and_cascade(ex: Exchange) -> None:
    trade_at(ex, 100)
    s103 = ex.ok(stop(ALICE, "buy", 103, 1))[0].order_id  # type: ignore[union-attr]
    s102a = ex.ok(stop(BOB, "buy", 102, 1))[0].order_id  # type: ignore[union-attr]
    s102b = ex.ok(stop(ALICE, "buy", 102, 1))[0].order_id  # type: ignore[union-attr]
    s104 = ex.ok(stop(BOB, "buy", 104, 1))[0].order_id  # type: ignore[union-attr]
    for price in (101, 102, 103, 104, 105, 106):
        ex.limit(CAROL, "sell", price, 1)
    events = ex.limit(DAVE, "buy", 103, 3)  # trades 101..103: triggers 102a, 102b, 103
    order = [t.order_id for t in of_type(events, Triggered)]
    # 102a, 102b, 103 fire (by price, then arrival); their buys print 104..106, which fires 104.
    assert order == [s102a, s102b, s103, s104]
    assert ex.engine.books[SYM].stops.orders == {}


def test_replace_an_untriggered_stop(ex: Exchange) -> None:
    trade_at(ex, 100)
    ack = ex.ok(stop(ALICE, "sell", 95, 10, price=94))[0]
    assert isinstance(ack, Ack)
    reply = ex.ok(Replace(ALICE, ack.order_id, qty=4, stop_price=97))[0]
    assert isinstance(reply, Ack) and (reply.status, reply.remaining) == ("pending", 4)
    assert ex.shares(ALICE)[1] == 4
    assert ex.reject(Replace(ALICE, ack.order_id, stop_price=100), "would_trigger").field == "stop_price"
    ex.ok(Replace(ALICE, ack.order_id, price=96))
    [view] = open_orders(ex.engine, ALICE)
    assert (view["price"], view["stop_price"], view["remaining"]) == (96, 97, 4)
    limit = ex.limit(ALICE, "buy", 50, 1)[0]
    assert ex.reject(Replace(ALICE, limit.order_id, stop_price=40), "bad_request").field == "stop_price"  # type: ignore[union-attr]
    ex.limit(BOB, "buy", 97, 1)
    events = ex.limit(CAROL, "sell", 97, 1)
    assert [t.order_id for t in of_type(events, Triggered)] == [ack.order_id]


# ------------------------------------------------------------ good-till-date


def test_gtd_expires_before_the_first_command_at_or_after_its_time(ex: Exchange) -> None:
    now = 10 * SEC
    cash, held = ex.cash(ALICE)
    ack = ex.engine.apply(NewOrder(ALICE, SYM, "buy", "limit", 100, 5, "gtd", expire_ts=now + SEC), now)[0]
    assert isinstance(ack, Ack) and ack.status == "open"
    assert ex.engine.next_expiry == now + SEC
    ex.engine.apply(NewOrder(BOB, SYM, "buy", "limit", 90, 1), now + SEC - 1)
    assert book_l3(ex)["bids"][0][0] == ack.order_id
    seq = ex.engine.seq
    events = ex.engine.apply(NewOrder(BOB, SYM, "sell", "limit", 100, 1), now + SEC)
    assert isinstance(events[0], Ack) and ex.engine.seq == seq + 1
    done = events[1]
    assert isinstance(done, Done) and (done.order_id, done.reason, done.remaining) == (ack.order_id, "expired", 5)
    assert done.seq > 0  # it was on the book: a public done
    assert not matches(events)  # BOB's sell did not meet the expired bid
    assert ex.cash(ALICE) == (cash, held)


def test_expire_command_and_expiries_before_a_refusal(ex: Exchange) -> None:
    now = 10 * SEC
    assert isinstance(ex.engine.apply(Expire(), now)[0], Reject)
    a = ex.engine.apply(NewOrder(ALICE, SYM, "sell", "limit", 100, 5, "gtd", expire_ts=now + 2), now)[0]
    b = ex.engine.apply(stop(ALICE, "buy", 120, 5, price=121, tif="gtd", expire_ts=now + 1), now)[0]
    seq = ex.engine.seq
    rejected = ex.engine.apply(Expire(), now)
    assert isinstance(rejected[0], Reject) and ex.engine.seq == seq
    events = ex.engine.apply(Cancel(ALICE, 999), now + 5)  # refused, but the expiries are a change
    assert isinstance(events[0], Reject) and ex.engine.seq == seq + 1
    assert [(d.order_id, d.reason, d.seq > 0) for d in dones(events)] == [
        (b.order_id, "expired", False), (a.order_id, "expired", True),  # type: ignore[union-attr]
    ]
    assert open_orders(ex.engine, ALICE) == [] and ex.cash(ALICE)[1] == 0 and ex.shares(ALICE)[1] == 0
    c = ex.engine.apply(NewOrder(ALICE, SYM, "sell", "limit", 100, 5, "gtd", expire_ts=now + 9), now + 6)[0]
    events = ex.engine.apply(Expire(), now + 9)
    assert isinstance(events[0], Applied) and [d.order_id for d in dones(events)] == [c.order_id]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("tif", "kind", "price", "expire_ts", "field"),
    [
        ("gtd", "limit", 100, None, "expire_ts"),
        ("gtd", "limit", 100, 1_000, "expire_ts"),  # not after now
        ("gtd", "limit", 100, 10 * SEC + MAX_EXPIRE_NS + 1, "expire_ts"),
        ("gtd", "market", None, 20 * SEC, "tif"),
        ("gtc", "limit", 100, 20 * SEC, "expire_ts"),
    ],
)
def test_bad_gtd_orders(ex: Exchange, tif: str, kind: str, price: int | None, expire_ts: int | None,
                        field: str) -> None:
    order = NewOrder(ALICE, SYM, "buy", kind, price, 1, tif, expire_ts=expire_ts)  # type: ignore[arg-type]
    seq = ex.engine.seq
    [reply] = ex.engine.apply(order, 10 * SEC)
    assert isinstance(reply, Reject) and (reply.code, reply.field) == ("bad_request", field)
    assert ex.engine.seq == seq


# ------------------------------------------------------------------ icebergs


def test_iceberg_shows_a_part_and_refreshes_at_the_back(ex: Exchange) -> None:
    ice = ex.ok(NewOrder(ALICE, SYM, "sell", "limit", 100, 10, display_qty=3))[0]
    assert isinstance(ice, Ack) and ice.remaining == 10
    other = ex.limit(BOB, "sell", 100, 2)[0]
    assert level2(ex.engine.books[SYM])["asks"] == [[100, 5]]
    assert ex.shares(ALICE)[1] == 10
    [view] = open_orders(ex.engine, ALICE)
    assert (view["remaining"], view["display_qty"]) == (10, 3)
    events = ex.limit(CAROL, "buy", 100, 4)
    # 3 from the iceberg's shown part, which refreshes behind BOB; then 1 from BOB.
    assert [(m.maker_order_id, m.qty, m.maker_remaining) for m in matches(events)] == [
        (ice.order_id, 3, 7), (other.order_id, 1, 1),  # type: ignore[union-attr]
    ]
    refreshed = [d for d in dones(events) if d.reason == "refreshed"]
    assert [d.order_id for d in refreshed] == [ice.order_id]
    assert book_l3(ex)["asks"] == [[other.order_id, 100, 1], [ice.order_id, 100, 3]]  # type: ignore[union-attr]
    events = ex.limit(DAVE, "buy", 100, 8)  # BOB's 1, then the iceberg 3 + 3 + 1
    assert sum(m.qty for m in matches(events)) == 8
    assert book_l3(ex)["asks"] == []
    assert any(d.reason == "filled" and d.order_id == ice.order_id for d in dones(events))
    assert ex.shares(ALICE) == (ex.shares(ALICE)[0], 0)


def test_iceberg_takes_with_its_whole_quantity_and_rests_a_part(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 4)
    events = ex.ok(NewOrder(ALICE, SYM, "buy", "limit", 100, 10, display_qty=2))
    assert matches(events)[0].qty == 4
    assert isinstance(events[0], Ack) and events[0].remaining == 6
    assert opens(events)[-1].qty == 2
    assert ex.cash(ALICE)[1] == 600


def test_iceberg_replace_and_cancel(ex: Exchange) -> None:
    ice = ex.ok(NewOrder(ALICE, SYM, "buy", "limit", 100, 10, display_qty=4))[0]
    assert isinstance(ice, Ack)
    events = ex.ok(Replace(ALICE, ice.order_id, qty=6))  # hidden part first: no book change
    assert not of_type(events, Change) and ex.cash(ALICE)[1] == 600
    events = ex.ok(Replace(ALICE, ice.order_id, qty=3))
    assert [c.qty for c in of_type(events, Change)] == [3] and ex.cash(ALICE)[1] == 300
    ex.ok(Replace(ALICE, ice.order_id, qty=9, price=101))  # re-queued, still an iceberg
    assert book_l3(ex)["bids"] == [[ice.order_id, 101, 4]]
    events = ex.ok(Cancel(ALICE, ice.order_id))
    assert events[0].remaining == 9  # type: ignore[union-attr]
    assert ex.cash(ALICE)[1] == 0


def test_fok_counts_iceberg_reserves(ex: Exchange) -> None:
    ex.ok(NewOrder(ALICE, SYM, "sell", "limit", 100, 10, display_qty=2))
    events = ex.ok(NewOrder(BOB, SYM, "buy", "limit", 100, 9, "fok"))
    assert sum(m.qty for m in matches(events)) == 9


@pytest.mark.parametrize(
    ("order", "code"),
    [
        (NewOrder(ALICE, SYM, "buy", "limit", 100, 10, display_qty=10), "invalid_qty"),
        (NewOrder(ALICE, SYM, "buy", "limit", 100, 10, display_qty=0), "invalid_qty"),
        (NewOrder(ALICE, LOT_SYM, "buy", "limit", 100, 100, display_qty=15), "invalid_qty"),
        (NewOrder(ALICE, SYM, "buy", "market", None, 10, display_qty=5), "bad_request"),
        (NewOrder(ALICE, SYM, "buy", "limit", 100, 10, "ioc", display_qty=5), "bad_request"),
    ],
)
def test_bad_icebergs(ex: Exchange, order: NewOrder, code: str) -> None:
    assert ex.reject(order, code).field == "display_qty"


# ------------------------------------------------------------------ snapshot


def test_snapshot_carries_stops_expiries_and_reserves(ex: Exchange) -> None:
    now = 10 * SEC
    trade_at(ex, 100)
    engine = ex.engine
    engine.apply(stop(ALICE, "buy", 105, 3, price=106, tif="gtd", expire_ts=now + 50), now)
    engine.apply(stop(BOB, "sell", 95, 4), now)
    engine.apply(NewOrder(CAROL, SYM, "sell", "limit", 104, 9, "gtd", expire_ts=now + 20, display_qty=2), now)
    engine.apply(NewOrder(DAVE, SYM, "buy", "limit", 99, 9, display_qty=3), now)
    data = snapshot(engine)
    twin = restore(copy.deepcopy(data))
    assert snapshot(twin) == data and twin.next_expiry == engine.next_expiry
    follow = [
        (NewOrder(DAVE, SYM, "buy", "limit", 105, 5), now + 1),  # refreshes CAROL, triggers ALICE
        (NewOrder(BOB, SYM, "sell", "limit", 95, 10), now + 2),  # through DAVE's iceberg, triggers BOB
        (Expire(), now + 20),
        (Expire(), now + 50),
    ]
    for command, ts in follow:
        assert engine.apply(command, ts) == twin.apply(command, ts)
    assert snapshot(twin) == snapshot(engine)


def test_version_1_snapshots_still_restore(ex: Exchange) -> None:
    ex.limit(ALICE, "buy", 100, 5)
    data = snapshot(ex.engine)
    old = copy.deepcopy(data)
    old["version"] = 1
    for s in old["symbols"]:
        s.pop("stops")
        for side in ("bids", "asks"):
            s[side] = [row[:9] for row in s[side]]
    assert snapshot(restore(old)) == data


def test_untouched_users_do_not_notice(ex: Exchange) -> None:
    """Sanity: plain orders keep their old events when no new type is around."""
    events = ex.limit(ALICE, "buy", 100, 5)
    assert [type(e) for e in events] == [Ack, Open]
    assert not of_type(events, Triggered) and not of_type(events, Match)
    _ = DAVE, CAROL, BOB
