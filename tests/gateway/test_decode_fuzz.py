"""The request decoder turns any input into a request or a RequestError, nothing else (issue #11 item 4)."""

from __future__ import annotations

import contextlib
import json

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.protocol.requests import (
    BatchRequest,
    RequestError,
    decode_batch_item,
    decode_request,
    request_id,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

OPS = ["ping", "login", "order", "cancel", "replace", "cancel_all", "orders", "balance", "symbols", "subscribe",
       "unsubscribe", "batch", "user_add", "deposit", "halt", "symbol_add", "nope"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
requestish = st.fixed_dictionaries(
    {"op": st.sampled_from(OPS)},
    optional={"id": json_values, "symbol": json_values, "qty": json_values, "price": json_values,
              "requests": st.lists(json_values, max_size=5), "channels": json_values, "side": json_values},
)


def decoded(frame: bytes | str) -> object:
    """Decode like the endpoint: a request, or the RequestError (any other exception fails the test)."""
    try:
        req = decode_request(frame)
    except RequestError as exc:
        return exc
    if isinstance(req, BatchRequest):
        for raw in req.requests:
            with contextlib.suppress(RequestError):
                decode_batch_item(raw)
    return req


def nest(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_or_text_is_a_request_or_a_request_error(frame: bytes | str) -> None:
    decoded(frame)
    request_id(frame)


@FUZZ
@given(requestish)
def test_any_request_shaped_object_is_a_request_or_a_request_error(obj: dict[str, object]) -> None:
    text = json.dumps(obj)  # NaN and Infinity become the non-JSON tokens a hostile client could send
    decoded(text)
    decoded(text.encode())


@FUZZ
@given(requestish, st.integers(min_value=0, max_value=5_000), st.sampled_from(["[", "{\"a\":"]))
def test_deep_nesting_anywhere_is_a_request_error(obj: dict[str, object], depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    deep = opener * depth + "1" + closer * depth
    for field in ("id", "symbol", "requests", "x"):
        text = json.dumps({**obj, field: "@@"}).replace('"@@"', deep)
        decoded(text)
        request_id(text)


@pytest.mark.parametrize("frame", [
    nest(1_000), nest(100_000), "{\"a\":" * 5_000 + "1" + "}" * 5_000,
    json.dumps({"op": "ping", "id": 1}).replace("1}", nest(3_000) + "}"),
    '{"op":"nope","x":' + nest(3_000) + "}",
    '{"op":"batch","requests":[' + nest(3_000) + "]}",
    '{"op":"batch","requests":[{"op":"batch","requests":[' + nest(3_000) + "]}]}",
    "\ud800", '{"op":"ping","id":"\udfff"}', b'{"op":"ping","id":"\xff"}', b"\xed\xa0\x80",
    '{"op":"ping","id":1e999}', '{"op":"ping","id":' + "9" * 10_000 + "}", '{"op":"ping","id":NaN}',
    '{"op":"order","symbol":"ACME","side":"buy","qty":1e400,"price":-Infinity}',
    '{"op":"ping","op":"batch"}', '{"op":"ping","id":1,"id":[]}',
])
def test_hostile_frames_are_request_errors(frame: bytes | str) -> None:
    result = decoded(frame)
    if isinstance(result, RequestError):
        assert result.code in ("bad_request", "unknown_op", "invalid_qty", "invalid_price") and result.message
    request_id(frame)


def test_deep_nesting_says_so() -> None:
    with pytest.raises(RequestError) as info:
        decode_request('{"op":"ping","x":' + nest(10_000) + "}")
    assert (info.value.code, info.value.message) == ("bad_request", "frame nests too deeply")
    with pytest.raises(RequestError) as info:
        decode_batch_item(msgspec.Raw(('{"op":"batch","requests":' + nest(10_000) + "}").encode()))
    assert info.value.code == "bad_request"
