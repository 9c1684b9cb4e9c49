"""Events are plain (mypyc-native) classes: value equality, repr, hash."""

from __future__ import annotations

from exchange.engine.events import Ack, Applied, Done, Match, Open, Reject


def test_equality_is_by_type_and_fields() -> None:
    assert Open("ACME", 1, 7, "buy", 100, 5, 5) == Open("ACME", 1, 7, "buy", 100, 5, 5)
    assert Open("ACME", 1, 7, "buy", 100, 5, 5) != Open("ACME", 1, 7, "buy", 100, 5, 6)
    assert Applied("halt", "ACME", "halted") != Reject(0, "halted", "x")
    assert Open("ACME", 1, 7, "buy", 100, 5, 5) != ("ACME", 1, 7, "buy", 100, 5, 5)
    assert hash(Reject(1, "c", "m")) == hash(Reject(1, "c", "m", None))


def test_defaults_keywords_and_repr() -> None:
    assert Applied("deposit") == Applied(op="deposit", symbol=None, status=None)
    assert repr(Reject(3, "halted", "ACME is halted")) == (
        "Reject(user=3, code='halted', message='ACME is halted', client_order_id=None, field=None)"
    )
    done = Done("ACME", 0, 9, 2, None, "sell", None, "expired", 4, 0)
    assert (done.seq, done.price, done.reason, done.remaining) == (0, None, "expired", 4)
    match = Match("ACME", 3, 1, 100, 2, "sell", 5, 1, "m", 0, 6, 2, None, 3, 0)
    assert (match.maker_client_order_id, match.taker_remaining) == ("m", 3)


def test_ack_is_updated_in_place() -> None:
    ack = Ack(1, 2, None, "ACME", "buy", "open", 5)
    ack.status = "filled"
    ack.remaining = 0
    assert ack == Ack(1, 2, None, "ACME", "buy", "filled", 0)
