"""Order types, time in force, post-only, priority and self-trade prevention."""

from __future__ import annotations

from exchange.engine import Ack, Done, Match, NewOrder, Open
from exchange.engine.queries import level2, ticker

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

# --------------------------------------------------------------------- limit


def test_limit_buy_rests_and_holds_cash(ex: Exchange) -> None:
    events = ex.limit(ALICE, "buy", 100, 7, coid="a1")
    ack, opened = events
    assert isinstance(ack, Ack)
    assert (ack.user, ack.symbol, ack.side, ack.status, ack.remaining) == (ALICE, SYM, "buy", "open", 7)
    assert ack.client_order_id == "a1"
    assert opened == Open(SYM, 1, ack.order_id, "buy", 100, 7, 7)
    assert ex.cash(ALICE) == (RICH_CASH, 700)
    assert book_l3(ex) == {"bids": [[ack.order_id, 100, 7]], "asks": []}


def test_limit_sell_rests_and_holds_shares(ex: Exchange) -> None:
    ack, opened = ex.limit(BOB, "sell", 101, 5)
    assert isinstance(ack, Ack) and ack.status == "open"
    assert isinstance(opened, Open) and opened.side == "sell" and opened.level_qty == 5
    assert ex.shares(BOB) == (RICH_SHARES, 5)
    assert ex.cash(BOB) == (RICH_CASH, 0)


def test_crossing_limit_trades_at_resting_price(ex: Exchange) -> None:
    maker = ex.limit(BOB, "sell", 100, 5, coid="m")[0]
    events = ex.limit(ALICE, "buy", 105, 5, coid="t")
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "filled" and ack.remaining == 0
    [trade] = matches(events)
    assert trade.price == 100 and trade.qty == 5 and trade.side == "sell"
    assert (trade.maker_order_id, trade.maker_user, trade.maker_client_order_id) == (maker.order_id, BOB, "m")
    assert (trade.taker_order_id, trade.taker_user, trade.taker_client_order_id) == (ack.order_id, ALICE, "t")
    assert trade.maker_remaining == 0 and trade.taker_remaining == 0 and trade.level_qty == 0
    assert trade.trade_id == 1
    maker_done, taker_done = dones(events)
    assert maker_done.order_id == maker.order_id and maker_done.reason == "filled" and maker_done.seq > 0
    assert taker_done.order_id == ack.order_id and taker_done.reason == "filled" and taker_done.seq == 0
    # The buyer paid 100 a share, not 105, and holds nothing.
    assert ex.cash(ALICE) == (RICH_CASH - 500, 0)
    assert ex.shares(ALICE) == (RICH_SHARES + 5, 0)
    assert ex.cash(BOB) == (RICH_CASH + 500, 0)
    assert ex.shares(BOB) == (RICH_SHARES - 5, 0)
    assert book_l3(ex) == {"bids": [], "asks": []}
    assert ticker(ex.engine.books[SYM])["last"] == 100


def test_sell_into_higher_bid_gets_bid_price(ex: Exchange) -> None:
    ex.limit(ALICE, "buy", 110, 3)
    events = ex.limit(BOB, "sell", 90, 3)
    [trade] = matches(events)
    assert trade.price == 110 and trade.side == "buy"
    assert ex.cash(BOB) == (RICH_CASH + 330, 0)
    assert ex.cash(ALICE) == (RICH_CASH - 330, 0)


def test_partial_fill_at_better_price_releases_difference(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 4)
    events = ex.limit(ALICE, "buy", 105, 10)
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "partially_filled" and ack.remaining == 6
    [trade] = matches(events)
    assert trade.qty == 4 and trade.taker_remaining == 6
    [opened] = opens(events)
    assert (opened.order_id, opened.price, opened.qty, opened.level_qty) == (ack.order_id, 105, 6, 6)
    # Paid 4*100; the 4*5 saved came back at once; 6*105 stays held.
    assert ex.cash(ALICE) == (RICH_CASH - 400, 6 * 105)
    assert ex.shares(ALICE) == (RICH_SHARES + 4, 0)


def test_partial_fill_of_resting_order(ex: Exchange) -> None:
    maker = ex.limit(BOB, "sell", 100, 10)[0]
    events = ex.limit(ALICE, "buy", 100, 4)
    [trade] = matches(events)
    assert trade.maker_remaining == 6 and trade.level_qty == 6
    assert [d.order_id for d in dones(events)] == [events[0].order_id]  # type: ignore[union-attr]
    assert ex.shares(BOB) == (RICH_SHARES - 4, 6)
    assert book_l3(ex)["asks"] == [[maker.order_id, 100, 6]]


def test_price_priority_across_levels_and_time_within_level(ex: Exchange) -> None:
    a = ex.limit(BOB, "sell", 102, 1)[0].order_id  # type: ignore[union-attr]
    b = ex.limit(CAROL, "sell", 100, 1)[0].order_id  # type: ignore[union-attr]
    c = ex.limit(DAVE, "sell", 101, 1)[0].order_id  # type: ignore[union-attr]
    d = ex.limit(BOB, "sell", 100, 1)[0].order_id  # type: ignore[union-attr]
    e = ex.limit(DAVE, "sell", 100, 1)[0].order_id  # type: ignore[union-attr]
    assert [row[0] for row in book_l3(ex)["asks"]] == [b, d, e, c, a]
    assert level2(ex.engine.books[SYM])["asks"] == [[100, 3], [101, 1], [102, 1]]
    events = ex.limit(ALICE, "buy", 101, 10)
    trades = matches(events)
    assert [t.maker_order_id for t in trades] == [b, d, e, c]
    assert [t.price for t in trades] == [100, 100, 100, 101]
    assert [t.level_qty for t in trades] == [2, 1, 0, 0]
    # 3*100 + 101 paid; 6 left resting at 101, held at 101.
    assert ex.cash(ALICE) == (RICH_CASH - 401, 6 * 101)
    assert book_l3(ex)["asks"] == [[a, 102, 1]]
    assert book_l3(ex)["bids"][0][1:] == [101, 6]


def test_bids_priority_mirrors_asks(ex: Exchange) -> None:
    a = ex.limit(BOB, "buy", 98, 1)[0].order_id  # type: ignore[union-attr]
    b = ex.limit(CAROL, "buy", 100, 1)[0].order_id  # type: ignore[union-attr]
    c = ex.limit(DAVE, "buy", 100, 1)[0].order_id  # type: ignore[union-attr]
    d = ex.limit(BOB, "buy", 99, 1)[0].order_id  # type: ignore[union-attr]
    assert [row[0] for row in book_l3(ex)["bids"]] == [b, c, d, a]
    trades = matches(ex.limit(ALICE, "sell", 99, 5))
    assert [(t.maker_order_id, t.price) for t in trades] == [(b, 100), (c, 100), (d, 99)]
    assert ex.cash(ALICE) == (RICH_CASH + 299, 0)
    assert ex.shares(ALICE) == (RICH_SHARES - 3, 2)


def test_book_seq_is_consecutive_per_symbol(ex: Exchange) -> None:
    seqs = []
    for events in (
        ex.limit(BOB, "sell", 100, 2),
        ex.limit(BOB, "sell", 101, 2),
        ex.limit(CAROL, "buy", 10, 50, symbol=LOT_SYM),
        ex.limit(ALICE, "buy", 101, 5),
    ):
        seqs += [(e.symbol, e.seq) for e in events if isinstance(e, Match | Open | Done) and e.seq]
    assert [s for sym, s in seqs if sym == SYM] == list(range(1, 8))
    assert [s for sym, s in seqs if sym == LOT_SYM] == [1]
    assert ex.engine.books[SYM].seq == 7


def test_order_and_trade_ids_increase(ex: Exchange) -> None:
    first = ex.limit(BOB, "sell", 100, 1)[0]
    second = ex.limit(BOB, "sell", 100, 1)[0]
    assert isinstance(first, Ack) and isinstance(second, Ack)
    assert second.order_id == first.order_id + 1
    trades = matches(ex.limit(ALICE, "buy", 100, 2))
    assert [t.trade_id for t in trades] == [1, 2]


def test_emptying_a_side_and_refilling_it(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 2)
    ex.limit(BOB, "sell", 101, 2)
    ex.limit(ALICE, "buy", 101, 4)
    book = ex.engine.books[SYM]
    assert book.asks.best() is None and book.asks.total == 0
    ex.limit(CAROL, "sell", 101, 3)
    ex.limit(CAROL, "sell", 99, 1)
    assert book.asks.best() is not None and book.asks.best().price == 99  # type: ignore[union-attr]
    assert level2(book)["asks"] == [[99, 1], [101, 3]]
    trades = matches(ex.limit(ALICE, "buy", 101, 4))
    assert [(t.price, t.qty) for t in trades] == [(99, 1), (101, 3)]


# -------------------------------------------------------------------- market


def test_market_buy_sweeps_levels_and_pays_each_price(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 2)
    ex.limit(CAROL, "sell", 103, 2)
    events = ex.market(ALICE, "buy", 3)
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "filled"
    assert [(t.price, t.qty) for t in matches(events)] == [(100, 2), (103, 1)]
    assert ex.cash(ALICE) == (RICH_CASH - 303, 0)
    done = dones(events)[-1]
    assert done.order_id == ack.order_id and done.reason == "filled" and done.seq == 0
    assert done.price is None


def test_market_buy_remainder_expires(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 2)
    events = ex.market(ALICE, "buy", 5)
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "canceled" and ack.remaining == 0
    last = events[-1]
    assert isinstance(last, Done) and last.reason == "expired" and last.remaining == 3 and last.seq == 0
    assert ex.cash(ALICE) == (RICH_CASH - 200, 0)
    assert ex.engine.accounts[ALICE].orders == {}


def test_market_buy_on_empty_book_expires_whole(ex: Exchange) -> None:
    seq = ex.engine.books[SYM].seq
    events = ex.market(ALICE, "buy", 5)
    assert len(events) == 2
    assert isinstance(events[1], Done) and events[1].reason == "expired" and events[1].remaining == 5
    assert ex.engine.books[SYM].seq == seq
    assert ex.cash(ALICE) == (RICH_CASH, 0)


def test_market_buy_stops_when_cash_runs_out(ex: Exchange) -> None:
    ex.fund(9, 350)
    ex.limit(BOB, "sell", 100, 2)
    ex.limit(CAROL, "sell", 120, 5)
    events = ex.market(9, "buy", 7)
    # 2 at 100 (200 cents) then 150 left buys one at 120.
    assert [(t.price, t.qty) for t in matches(events)] == [(100, 2), (120, 1)]
    last = events[-1]
    assert isinstance(last, Done) and last.reason == "expired" and last.remaining == 4
    assert ex.cash(9) == (30, 0)
    assert ex.shares(9) == (3, 0)


def test_market_buy_uses_only_available_cash(ex: Exchange) -> None:
    ex.fund(9, 1_000)
    ex.limit(9, "buy", 40, 10)  # holds 400
    ex.limit(BOB, "sell", 50, 20)
    events = ex.market(9, "buy", 20)
    assert [(t.price, t.qty) for t in matches(events)] == [(50, 12)]
    assert ex.cash(9) == (400, 400)


def test_market_buy_respects_lot(ex: Exchange) -> None:
    ex.fund(9, 2_500)
    ex.limit(BOB, "sell", 100, 50, symbol=LOT_SYM)
    events = ex.market(9, "buy", 50, symbol=LOT_SYM)
    [trade] = matches(events)
    assert trade.qty == 20  # 25 affordable, rounded down to the lot of 10
    assert ex.cash(9) == (500, 0)


def test_market_sell_sweeps_bids(ex: Exchange) -> None:
    ex.limit(BOB, "buy", 100, 2)
    ex.limit(CAROL, "buy", 98, 2)
    events = ex.market(ALICE, "sell", 5)
    assert [(t.price, t.qty) for t in matches(events)] == [(100, 2), (98, 2)]
    ack, last = events[0], events[-1]
    assert isinstance(ack, Ack) and ack.status == "canceled"
    assert isinstance(last, Done) and last.reason == "expired" and last.remaining == 1
    assert ex.cash(ALICE) == (RICH_CASH + 396, 0)
    assert ex.shares(ALICE) == (RICH_SHARES - 4, 0)


# ----------------------------------------------------------------------- TIF


def test_ioc_fills_what_it_can_and_expires_the_rest(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 3)
    ex.limit(BOB, "sell", 102, 3)
    events = ex.limit(ALICE, "buy", 101, 5, tif="ioc")
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "canceled" and ack.remaining == 0
    assert [(t.price, t.qty) for t in matches(events)] == [(100, 3)]
    last = events[-1]
    assert isinstance(last, Done) and last.reason == "expired" and last.remaining == 2 and last.seq == 0
    assert last.price == 101
    assert opens(events) == []
    assert ex.cash(ALICE) == (RICH_CASH - 300, 0)
    assert ex.engine.accounts[ALICE].orders == {}


def test_ioc_that_fills_completely_is_filled(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 3)
    ack = ex.limit(ALICE, "buy", 100, 3, tif="ioc")[0]
    assert isinstance(ack, Ack) and ack.status == "filled"


def test_ioc_without_cross_changes_no_book(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 3)
    seq = ex.engine.books[SYM].seq
    events = ex.limit(ALICE, "sell", 100, 3, tif="ioc")
    assert [type(e) for e in events] == [Ack, Done]
    assert ex.engine.books[SYM].seq == seq
    assert ex.shares(ALICE) == (RICH_SHARES, 0)


def test_fok_fills_across_levels(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 3)
    ex.limit(CAROL, "sell", 101, 3)
    events = ex.limit(ALICE, "buy", 101, 5, tif="fok")
    ack = events[0]
    assert isinstance(ack, Ack) and ack.status == "filled"
    assert [(t.price, t.qty) for t in matches(events)] == [(100, 3), (101, 2)]
    assert ex.cash(ALICE) == (RICH_CASH - 502, 0)


def test_fok_rejected_when_not_enough_within_limit(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 100, 3)
    ex.limit(CAROL, "sell", 102, 3)
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 101, 5, "fok"), "unfillable")
    ex.reject(NewOrder(ALICE, SYM, "buy", "market", None, 7, "fok"), "unfillable")


def test_fok_does_not_count_own_orders(ex: Exchange) -> None:
    ex.limit(ALICE, "sell", 100, 5)
    ex.limit(BOB, "sell", 100, 2)
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 100, 3, "fok"), "unfillable")
    events = ex.limit(ALICE, "buy", 100, 2, tif="fok")
    # Own resting order canceled (STP), then BOB's filled.
    assert [d.reason for d in dones(events)] == ["self_trade", "filled", "filled"]
    assert ex.engine.accounts[ALICE].orders == {}


def test_fok_market_buy_limited_by_cash(ex: Exchange) -> None:
    ex.fund(9, 250)
    ex.limit(BOB, "sell", 100, 5)
    ex.reject(NewOrder(9, SYM, "buy", "market", None, 3, "fok"), "unfillable")
    ack = ex.market(9, "buy", 2, tif="fok")[0]
    assert isinstance(ack, Ack) and ack.status == "filled"
    assert ex.cash(9) == (50, 0)


def test_fok_market_sell(ex: Exchange) -> None:
    ex.limit(BOB, "buy", 100, 2)
    ex.reject(NewOrder(ALICE, SYM, "sell", "market", None, 3, "fok"), "unfillable")
    ack = ex.market(ALICE, "sell", 2, tif="fok")[0]
    assert isinstance(ack, Ack) and ack.status == "filled"


# ----------------------------------------------------------------- post-only


def test_post_only_rests_when_it_does_not_cross(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 101, 3)
    events = ex.limit(ALICE, "buy", 100, 3, post_only=True)
    assert [type(e) for e in events] == [Ack, Open]
    assert ex.engine.accounts[ALICE].orders[events[0].order_id].post_only  # type: ignore[union-attr]


def test_post_only_refused_when_it_would_trade(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 101, 3)
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 101, 3, post_only=True), "would_cross")
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 150, 3, post_only=True), "would_cross")
    ex.limit(CAROL, "buy", 99, 3)
    ex.reject(NewOrder(BOB, SYM, "sell", "limit", 99, 3, post_only=True), "would_cross")


def test_post_only_against_own_order_is_still_would_cross(ex: Exchange) -> None:
    ex.limit(ALICE, "sell", 101, 3)
    ex.reject(NewOrder(ALICE, SYM, "buy", "limit", 101, 3, post_only=True), "would_cross")


# ------------------------------------------------------------- self-trade


def test_self_trade_cancels_resting_and_incoming_continues(ex: Exchange) -> None:
    own = ex.limit(ALICE, "sell", 100, 3, coid="mine")[0]
    other = ex.limit(BOB, "sell", 100, 2)[0]
    further = ex.limit(CAROL, "sell", 101, 5)[0]
    assert isinstance(own, Ack) and isinstance(other, Ack) and isinstance(further, Ack)
    events = ex.limit(ALICE, "buy", 101, 4)
    stp = dones(events)[0]
    assert (stp.order_id, stp.reason, stp.remaining) == (own.order_id, "self_trade", 3)
    assert stp.client_order_id == "mine" and stp.seq > 0 and stp.level_qty == 2
    trades = [(t.maker_order_id, t.qty) for t in matches(events)]
    assert trades == [(other.order_id, 2), (further.order_id, 2)]
    assert events[0].status == "filled"  # type: ignore[union-attr]
    # The canceled sell's shares are free again, and no trade with oneself happened.
    assert ex.shares(ALICE) == (RICH_SHARES + 4, 0)
    assert ex.cash(ALICE) == (RICH_CASH - 402, 0)
    assert own.order_id not in ex.engine.accounts[ALICE].orders


def test_self_trade_only_own_orders_on_book(ex: Exchange) -> None:
    ex.limit(ALICE, "buy", 100, 3)
    ex.limit(ALICE, "buy", 99, 3)
    events = ex.limit(ALICE, "sell", 99, 2)
    assert [d.reason for d in dones(events)] == ["self_trade", "self_trade"]
    assert matches(events) == []
    assert book_l3(ex)["bids"] == []
    assert book_l3(ex)["asks"][0][1:] == [99, 2]
    assert ex.cash(ALICE) == (RICH_CASH, 0)


def test_self_trade_with_market_order(ex: Exchange) -> None:
    ex.limit(ALICE, "sell", 100, 3)
    ex.limit(BOB, "sell", 105, 1)
    events = ex.market(ALICE, "buy", 2)
    assert [d.reason for d in dones(events)] == ["self_trade", "filled", "expired"]
    assert [(t.price, t.qty) for t in matches(events)] == [(105, 1)]


# ------------------------------------------------------------- tick and lot


def test_tick_and_lot_symbol_accepts_multiples(ex: Exchange) -> None:
    ex.limit(BOB, "sell", 105, 20, symbol=LOT_SYM)
    events = ex.limit(ALICE, "buy", 110, 30, symbol=LOT_SYM)
    [trade] = matches(events)
    assert (trade.price, trade.qty) == (105, 20)
    assert ex.cash(ALICE) == (RICH_CASH - 2100, 110 * 10)
    assert ex.shares(ALICE, LOT_SYM) == (RICH_SHARES + 20, 0)
    # Other symbol untouched.
    assert ex.engine.books[SYM].seq == 0
