"""The BookKeeper's logic with hand-built message sequences (no server).

The keeper is the code under test; its session is a small in-memory stand-in
that records ``subscribe``/``unsubscribe`` calls and delivers the messages a
test hands it to the registered callbacks, exactly as
:class:`client.session.Session` does on its reader task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from client import BookKeeper, SessionClosed
from client.session import Channel, MessageCallback
from exchange.protocol import (
    L2Message,
    L3Message,
    Message,
    SnapshotMessage,
    StatusMessage,
    SubscribedReply,
    SymbolInfo,
    SymbolsReply,
    TickerMessage,
    TradeMessage,
    UnsubscribedReply,
)

SYM = "ACME"


class StandIn:
    """A session stand-in: records requests, pushes what the test gives it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...], tuple[str, ...], int | None]] = []
        self.callbacks: list[tuple[MessageCallback, tuple[type[Any], ...]]] = []
        self.close_callbacks: list[Callable[[SessionClosed], object]] = []
        self.status = "trading"
        self.on_subscribe: Callable[[], Any] | None = None  # awaited inside subscribe, before its reply

    def on_message(self, callback: MessageCallback, *types: type[Any]) -> Callable[[], None]:
        self.callbacks.append((callback, types))
        return lambda: self.callbacks.remove((callback, types))

    def on_close(self, callback: Callable[[SessionClosed], object]) -> Callable[[], None]:
        self.close_callbacks.append(callback)
        return lambda: self.close_callbacks.remove(callback)

    async def subscribe(
        self, channels: Channel | Iterable[Channel], symbols: str | Iterable[str] = (), interval_ms: int | None = None
    ) -> SubscribedReply:
        chans, syms = _listed(channels), _listed(symbols)
        self.calls.append(("subscribe", chans, syms, interval_ms))
        if self.on_subscribe is not None:
            await self.on_subscribe()
        return SubscribedReply(channels=list(chans), symbols=list(syms), interval_ms=interval_ms)

    async def unsubscribe(
        self, channels: Channel | Iterable[Channel], symbols: str | Iterable[str] = ()
    ) -> UnsubscribedReply:
        chans, syms = _listed(channels), _listed(symbols)
        self.calls.append(("unsubscribe", chans, syms, None))
        return UnsubscribedReply(channels=list(chans), symbols=list(syms))

    async def symbols(self) -> SymbolsReply:
        return SymbolsReply(symbols=[SymbolInfo(symbol=SYM, tick=1, lot=1, status=self.status)])

    def push(self, *msgs: Message) -> None:
        for msg in msgs:
            for callback, types in self.callbacks:
                if not types or isinstance(msg, types):
                    callback(msg)

    def close(self, code: int = 1001) -> None:
        for callback in self.close_callbacks:
            callback(SessionClosed(code, "going away"))


def _listed(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


async def settle() -> None:
    """Let the keeper's resubscribe task run to its end (it awaits the stand-in twice)."""
    for _ in range(5):
        await asyncio.sleep(0)


# ------------------------------------------------------------------ hand-built messages


def snap3(seq: int, bids: list[list[int]] | None = None, asks: list[list[int]] | None = None) -> SnapshotMessage:
    return SnapshotMessage(channel="level3", symbol=SYM, seq=seq, bids=bids or [], asks=asks or [])


def snap2(seq: int, bids: list[list[int]] | None = None, asks: list[list[int]] | None = None) -> SnapshotMessage:
    return SnapshotMessage(channel="level2", symbol=SYM, seq=seq, bids=bids or [], asks=asks or [])


def opened(seq: int, order_id: int, side: str, price: int, qty: int) -> L3Message:
    return L3Message(symbol=SYM, seq=seq, event="open", order_id=order_id, side=side, price=price, qty=qty)


def match(seq: int, maker: int, side: str, price: int, qty: int) -> L3Message:
    return L3Message(symbol=SYM, seq=seq, event="match", maker_order_id=maker, taker_order_id=999, side=side,
                     price=price, qty=qty, trade_id=seq)


def done(seq: int, order_id: int) -> L3Message:
    return L3Message(symbol=SYM, seq=seq, event="done", order_id=order_id, reason="canceled")


def l2(first: int, seq: int, *changes: tuple[str, int, int]) -> L2Message:
    return L2Message(symbol=SYM, first_seq=first, seq=seq, changes=list(changes))


@pytest.fixture
async def standin() -> StandIn:
    return StandIn()


async def tracked(standin: StandIn, **kwargs: Any) -> tuple[BookKeeper, list[str]]:
    changes: list[str] = []
    keeper = BookKeeper(standin, on_change=changes.append)
    await keeper.track(SYM, wait=False, **kwargs)
    return keeper, changes


# ------------------------------------------------------------------ tests


async def test_snapshot_then_updates_give_levels_orders_and_queue_position(standin: StandIn) -> None:
    keeper, changes = await tracked(standin, level3=True, level2=True)
    assert standin.calls == [("subscribe", ("level3", "level2"), (SYM,), None)]
    book = keeper[SYM]
    assert not book.synced and not keeper.synced and book.status == "trading"

    standin.push(snap3(10, bids=[[1, 100, 5], [2, 100, 3], [3, 99, 7]], asks=[[4, 101, 2]]))
    assert not book.synced  # level2 still awaits its snapshot
    standin.push(snap2(10, bids=[[100, 8], [99, 7]], asks=[[101, 2]]))
    assert book.synced and keeper.synced and book.seq == 10

    standin.push(
        opened(11, 5, "buy", 100, 4),
        match(12, 4, "sell", 101, 2),
        done(13, 4),
        opened(14, 6, "sell", 102, 9),
        l2(11, 14, ("buy", 100, 12), ("sell", 101, 0), ("sell", 102, 9)),
    )
    assert book.best_bid() == (100, 12) and book.best_ask() == (102, 9)
    assert book.levels("buy") == [(100, 12), (99, 7)] and book.levels("buy", depth=1) == [(100, 12)]
    assert book.orders_at("buy", 100) == [(1, 5), (2, 3), (5, 4)]
    assert book.queue_position(5) == (2, 8) and book.queue_position(1) == (0, 0)
    assert book.queue_position(4) is None
    assert book.l2 is not None and book.l2.levels("sell") == [(102, 9)] and book.l2.seq == 14
    assert book.l3 is not None and book.l3.last == 101 and book.l3.volume == 2
    assert keeper.resyncs == 0 and changes.count(SYM) == 7  # 2 snapshots + 5 updates


async def test_updates_before_the_snapshot_are_dropped_and_old_ones_ignored(standin: StandIn) -> None:
    keeper, changes = await tracked(standin, level3=True, level2=True)
    standin.push(opened(3, 1, "buy", 100, 1), l2(3, 3, ("buy", 100, 1)))  # before the snapshot: dropped
    assert keeper[SYM].seq == -1 and changes == [] and keeper.resyncs == 0
    standin.push(snap3(5, bids=[[1, 100, 1]]), snap2(5, bids=[[100, 1]]))
    standin.push(opened(4, 9, "buy", 90, 1), opened(5, 9, "buy", 90, 1), l2(4, 5, ("buy", 90, 1)))  # ≤ seq
    book = keeper[SYM]
    assert book.orders("buy") == [[1, 100, 1]] and book.levels("buy") == [(100, 1)] and keeper.resyncs == 0
    assert changes == [SYM, SYM]


async def test_l3_gap_marks_stale_drops_and_resubscribes_that_channel(standin: StandIn) -> None:
    keeper, _ = await tracked(standin, level3=True, level2=True)
    standin.push(snap3(1, bids=[[1, 100, 5]]), snap2(1, bids=[[100, 5]]))
    standin.calls.clear()
    standin.push(opened(3, 2, "buy", 100, 1))  # seq 2 missed
    book = keeper[SYM]
    assert keeper.resyncs == 1 and book.stale == {"level3"} and not book.synced
    assert keeper.last_gap is not None and (keeper.last_gap.expected, keeper.last_gap.got) == (2, 3)
    assert book.orders("buy") == [[1, 100, 5]]  # the last contents stay visible
    standin.push(opened(4, 3, "buy", 100, 1), opened(5, 4, "buy", 100, 1))  # dropped while stale
    assert keeper.resyncs == 1 and book.l3 is not None and book.l3.seq == 1
    standin.push(l2(2, 5, ("buy", 100, 8)))  # level2 is not affected
    assert book.l2 is not None and book.l2.seq == 5
    await settle()
    assert standin.calls == [("unsubscribe", ("level3",), (SYM,), None), ("subscribe", ("level3",), (SYM,), None)]

    standin.push(snap3(5, bids=[[1, 100, 5], [2, 100, 1], [3, 100, 1], [4, 100, 1]]))
    assert book.synced and keeper.resyncs == 1
    standin.push(done(6, 1))
    assert book.orders_at("buy", 100) == [(2, 1), (3, 1), (4, 1)] and book.queue_position(4) == (2, 2)


async def test_a_gap_while_the_resubscribe_is_still_in_flight_resubscribes_again(standin: StandIn) -> None:
    """The snapshot and a further gap can arrive before the resubscribe's reply is taken (CI saw it hang)."""
    keeper, _ = await tracked(standin, level3=True)
    standin.push(snap3(1))
    reply = asyncio.Event()

    async def snapshot_then_gap_before_the_reply() -> None:
        standin.push(snap3(5), opened(7, 2, "buy", 100, 1))  # the resync's snapshot, then seq 6 is missed
        await reply.wait()

    standin.on_subscribe = snapshot_then_gap_before_the_reply
    standin.calls.clear()
    standin.push(opened(3, 1, "buy", 100, 1))  # seq 2 missed: first resync
    await settle()
    book = keeper[SYM]
    assert keeper.resyncs == 2 and book.stale == {"level3"}
    standin.on_subscribe = None
    reply.set()
    await settle()
    assert [call[0] for call in standin.calls] == ["unsubscribe", "subscribe", "unsubscribe", "subscribe"]
    standin.push(snap3(7, bids=[[2, 100, 1]]))
    assert book.synced and book.orders("buy") == [[2, 100, 1]]


async def test_l2_overlap_applies_and_a_hole_is_a_gap(standin: StandIn) -> None:
    keeper, _ = await tracked(standin, level3=False, level2=True, interval_ms=100)
    assert standin.calls == [("subscribe", ("level2",), (SYM,), 100)]
    standin.push(snap2(10, bids=[[100, 5]], asks=[[105, 1]]))
    book = keeper[SYM]
    assert book.l3 is None and book.synced
    standin.push(l2(8, 12, ("buy", 100, 7), ("buy", 99, 3)))  # overlaps 8..10: absolute quantities
    assert book.levels("buy") == [(100, 7), (99, 3)] and book.seq == 12
    standin.push(l2(13, 13, ("sell", 105, 0)))  # exactly next
    assert book.best_ask() is None and book.seq == 13
    standin.push(l2(9, 12, ("buy", 100, 1)))  # wholly old: ignored
    assert book.best_bid() == (100, 7)
    standin.calls.clear()
    standin.push(l2(15, 16, ("buy", 100, 2)))  # 14 missing
    assert keeper.resyncs == 1 and not book.synced and book.best_bid() == (100, 7)
    await settle()
    assert standin.calls == [("unsubscribe", ("level2",), (SYM,), None), ("subscribe", ("level2",), (SYM,), 100)]
    standin.push(snap2(16, bids=[[100, 2]]))
    assert book.synced and book.levels("buy") == [(100, 2)] and book.levels("sell") == []


async def test_a_new_snapshot_replaces_the_whole_state(standin: StandIn) -> None:
    keeper, _ = await tracked(standin, level3=True, level2=True)
    standin.push(snap3(4, bids=[[1, 100, 5]], asks=[[2, 110, 1]]), snap2(4, bids=[[100, 5]], asks=[[110, 1]]))
    standin.push(snap3(9, bids=[[7, 98, 2]]), snap2(9, asks=[[111, 4]]))
    book = keeper[SYM]
    assert book.orders("buy") == [[7, 98, 2]] and book.orders("sell") == []
    assert book.l2 is not None and book.l2.levels("buy") == [] and book.l2.levels("sell") == [(111, 4)]
    assert book.seq == 9 and book.queue_position(1) is None
    standin.push(opened(10, 8, "buy", 98, 1))
    assert book.orders_at("buy", 98) == [(7, 2), (8, 1)] and keeper.resyncs == 0


async def test_ticker_trades_and_status(standin: StandIn) -> None:
    keeper, changes = await tracked(standin, level3=False, ticker=True, trades=True)
    book = keeper[SYM]
    tick = {"seq": 3, "bid": 100, "bid_qty": 2, "ask": None, "ask_qty": None, "last": 100, "last_qty": 1,
            "volume": 1, "open_interest": 2}
    trade = {"type": "trade", "symbol": SYM, "seq": 2, "trade_id": 1, "price": 100, "qty": 1, "taker_side": "sell",
             "ts": 5}
    standin.push(SnapshotMessage(channel="ticker", symbol=SYM, seq=3, ticker=tick))
    standin.push(SnapshotMessage(channel="trades", symbol=SYM, seq=3, trades=[trade]))
    assert book.synced and book.best_bid() == (100, 2) and book.best_ask() is None
    assert [t.trade_id for t in book.trades] == [1]
    standin.push(TradeMessage(symbol=SYM, seq=5, trade_id=1, price=100, qty=1, taker_side="sell", ts=5))  # dup
    standin.push(TradeMessage(symbol=SYM, seq=6, trade_id=2, price=101, qty=1, taker_side="buy", ts=6))
    standin.push(TickerMessage(symbol=SYM, seq=6, bid=None, bid_qty=None, ask=101, ask_qty=3, last=101, last_qty=1,
                               volume=2, open_interest=3))
    standin.push(TickerMessage(symbol=SYM, seq=5, bid=1, bid_qty=1, ask=1, ask_qty=1, last=1, last_qty=1,
                               volume=1, open_interest=1))  # older: ignored
    assert [t.trade_id for t in book.trades] == [1, 2] and book.best_ask() == (101, 3) and book.seq == 6
    assert not book.halted
    standin.push(StatusMessage(symbol=SYM, status="halted", tick=1, lot=1))
    assert book.halted and book.synced  # a halt keeps the book
    standin.push(StatusMessage(symbol=SYM, status="trading", tick=1, lot=1))
    assert not book.halted and changes.count(SYM) == 6


async def test_close_marks_every_book_stale_and_wakes_waiters(standin: StandIn) -> None:
    keeper, changes = await tracked(standin, level3=True, level2=True)
    standin.push(snap3(1), snap2(1))
    await keeper.wait_synced(timeout=1)
    waiting = asyncio.ensure_future(keeper.wait_seq(SYM, 5))
    await asyncio.sleep(0)
    standin.close()
    with pytest.raises(SessionClosed):
        await waiting
    assert not keeper[SYM].synced and keeper[SYM].stale == {"level3", "level2"} and keeper.closed is not None
    assert changes[-1] == SYM
    standin.push(snap3(2))  # nothing after the close counts
    assert not keeper[SYM].synced and keeper[SYM].seq == 1
    with pytest.raises(SessionClosed):
        await keeper.track(SYM)


async def test_on_change_errors_are_logged_not_raised(standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    def boom(symbol: str) -> None:
        raise RuntimeError(symbol)

    keeper = BookKeeper(standin, on_change=boom)
    await keeper.track(SYM, wait=False)
    standin.push(snap3(1), opened(2, 1, "buy", 100, 1))
    assert keeper[SYM].best_bid() == (100, 1)
    assert "on_change" in caplog.text


async def test_wait_seq_and_untrack(standin: StandIn) -> None:
    keeper, _ = await tracked(standin, level3=True)
    standin.push(snap3(1))
    waiting = asyncio.ensure_future(keeper.wait_seq(SYM, 3, timeout=5))
    standin.push(opened(2, 1, "buy", 100, 1))
    await asyncio.sleep(0)
    assert not waiting.done()
    standin.push(opened(3, 2, "buy", 100, 1))
    await waiting
    standin.calls.clear()
    await keeper.untrack(SYM)
    assert SYM not in keeper and standin.calls == [("unsubscribe", ("level3",), (SYM,), None)]
    standin.push(opened(4, 3, "buy", 100, 1))  # ignored
    keeper.detach()
    assert standin.callbacks == [] and standin.close_callbacks == []
