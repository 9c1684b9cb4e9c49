"""Checkpoint format: snapshot is plain data, restore answers exactly as the original."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
import pytest

from exchange.engine import (
    Ack,
    Cancel,
    CancelAll,
    Command,
    Deposit,
    Engine,
    Halt,
    NewOrder,
    Replace,
    Resume,
    SnapshotError,
    decode_command,
    encode_command,
    restore,
    snapshot,
)
from exchange.engine.queries import balance, level2, level3, open_orders, symbols, ticker

from .conftest import ALICE, BOB, CAROL, DAVE, LOT_SYM, SYM, Exchange

FOLLOW_UP: list[Command] = [
    NewOrder(CAROL, SYM, "buy", "limit", 104, 6, client_order_id="late"),
    NewOrder(DAVE, SYM, "sell", "market", None, 4),
    NewOrder(ALICE, SYM, "buy", "limit", 102, 3, "fok"),
    Replace(BOB, client_order_id="b2", price=99),
    Replace(ALICE, client_order_id="a1", qty=1),
    Cancel(CAROL, client_order_id="late"),
    NewOrder(BOB, LOT_SYM, "buy", "market", None, 20),
    Resume(LOT_SYM),
    NewOrder(BOB, LOT_SYM, "buy", "market", None, 20),
    NewOrder(DAVE, SYM, "buy", "limit", 200, 50, "ioc"),
    CancelAll(BOB),
    Deposit(ALICE, cash=5, symbol=SYM, qty=5),
    NewOrder(ALICE, SYM, "sell", "limit", 100, 1, post_only=True),
]


def _busy(ex: Exchange) -> None:
    """Put resting orders, partial fills, dead entries and a halt on the books."""
    ex.limit(ALICE, "buy", 100, 5, coid="a1")
    ex.limit(ALICE, "buy", 101, 5)
    ex.limit(BOB, "sell", 103, 5, coid="b1")
    ex.limit(BOB, "sell", 105, 8, coid="b2")
    ex.limit(CAROL, "sell", 103, 4)
    ex.limit(DAVE, "buy", 103, 7)  # partially fills b1
    ex.limit(DAVE, "buy", 100, 2)
    ex.limit(CAROL, "buy", 100, 2, coid="gone")
    ex.ok(Cancel(CAROL, client_order_id="gone"))  # a dead entry mid-level
    ex.limit(ALICE, "sell", 110, 20, symbol=LOT_SYM)
    ex.limit(BOB, "sell", 115, 10, symbol=LOT_SYM, coid="l")
    ex.ok(Halt(LOT_SYM))


def _views(engine: Engine) -> dict[str, Any]:
    return {
        "books": {s: (level2(b), level3(b), ticker(b)) for s, b in engine.books.items()},
        "symbols": symbols(engine),
        "users": {u: (balance(engine, u), open_orders(engine, u)) for u in engine.accounts},
    }


def test_snapshot_is_plain_data(ex: Exchange) -> None:
    _busy(ex)
    data = snapshot(ex.engine)
    assert json.loads(json.dumps(data)) == data
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(data)) == data
    assert data["format"] == "exch-engine" and data["version"] == 2
    assert data["seq"] == ex.engine.seq


def test_snapshot_lists_live_orders_in_priority_order(ex: Exchange) -> None:
    _busy(ex)
    [acme] = [s for s in snapshot(ex.engine)["symbols"] if s["symbol"] == SYM]
    assert [row[1:3] for row in acme["bids"]] == [[ALICE, 101], [ALICE, 100], [DAVE, 100]]
    assert [row[1:3] for row in acme["asks"]] == [[CAROL, 103], [BOB, 105]]
    assert acme["asks"][0][3:5] == [4, 2]  # CAROL's 4, 2 of them filled; b1 is gone
    assert acme["status"] == "trading"


def test_restore_gives_same_state_and_views(ex: Exchange) -> None:
    _busy(ex)
    data = snapshot(ex.engine)
    twin = restore(copy.deepcopy(data))
    assert snapshot(twin) == data
    assert _views(twin) == _views(ex.engine)
    # Through JSON too (the checkpoint store may keep it as text).
    assert snapshot(restore(json.loads(json.dumps(data)))) == data


def test_restored_engine_answers_exactly_like_the_original(ex: Exchange) -> None:
    _busy(ex)
    twin = restore(snapshot(ex.engine))
    for i, command in enumerate(FOLLOW_UP):
        ts = 10_000 + i
        assert twin.apply(command, ts) == ex.engine.apply(command, ts), command
        assert snapshot(twin) == snapshot(ex.engine)
    assert twin.seq == ex.engine.seq
    # Something actually happened in the follow-up.
    assert ex.engine.books[LOT_SYM].status == "trading"
    assert ex.engine.books[SYM].volume > 0


def test_restored_snapshot_of_empty_engine() -> None:
    engine = Engine()
    assert snapshot(restore(snapshot(engine))) == snapshot(engine)


def test_restore_keeps_counters(ex: Exchange) -> None:
    _busy(ex)
    twin = restore(snapshot(ex.engine))
    assert (twin.seq, twin.next_order_id, twin.next_trade_id) == (
        ex.engine.seq, ex.engine.next_order_id, ex.engine.next_trade_id,
    )
    assert twin.limits.as_dict() == ex.engine.limits.as_dict()
    ack = twin.apply(NewOrder(ALICE, SYM, "buy", "limit", 1, 1), 1)[0]
    assert isinstance(ack, Ack) and ack.order_id == ex.engine.next_order_id


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(format="other"),
        lambda d: d.update(version=3),
        lambda d: d.pop("seq"),
        lambda d: d["symbols"][0].pop("tick"),
        lambda d: d["symbols"][0]["bids"][0].pop(),
        lambda d: d["accounts"][0]["orders"].append(123_456),
        lambda d: d["accounts"][0]["orders"].clear(),
        lambda d: d["limits"].update(bogus=1),
    ],
)
def test_restore_refuses_bad_data(ex: Exchange, damage: Any) -> None:
    _busy(ex)
    data = copy.deepcopy(snapshot(ex.engine))
    damage(data)
    with pytest.raises(SnapshotError):
        restore(data)


def test_commands_round_trip_through_msgpack() -> None:
    commands: list[Command] = [
        *FOLLOW_UP,
        Halt(SYM),
        Cancel(ALICE, order_id=3),
        NewOrder(ALICE, SYM, "sell", "limit", 10, 1, "gtc", True, "x"),
    ]
    for command in commands:
        assert decode_command(encode_command(command)) == command
    with pytest.raises(msgspec.ValidationError):
        decode_command(msgspec.msgpack.encode(["order", 1]))
