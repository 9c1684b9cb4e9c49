"""Issue #14: the machine-readable contract is generated, shipped, served, and enforced."""

from __future__ import annotations

import asyncio
import json
import typing
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from exchange.cli import app
from exchange.protocol import Message, Request
from exchange.protocol.schema import REPLIES, asyncapi, asyncapi_bytes, json_schema, json_schema_bytes
from tests.contract.frames import FrameChecker, frame_problem
from tests.gateway.conftest import Exchange, http_get

pytestmark = pytest.mark.timeout(60)


def tags(union: object) -> set[str]:
    return {t.__struct_config__.tag for t in typing.get_args(union)}


def test_the_schema_is_valid_json_schema_and_covers_every_request_and_message() -> None:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"op": "order", "id": 1, "symbol": "ACME", "side": "buy", "price": 100, "qty": 1})
    assert not validator.is_valid({"op": "order", "symbol": "ACME", "side": "up", "qty": 1})
    defs = schema["$defs"]
    assert len(defs["Request"]["anyOf"]) == len(tags(Request))
    assert len(defs["Message"]["anyOf"]) == len(tags(Message))
    assert set(defs["L3Message"]["required"]) == set(defs["L3Message"]["properties"])  # null, never absent


def test_the_asyncapi_document_has_an_operation_for_every_op_and_push() -> None:
    doc = asyncapi()
    assert doc["asyncapi"] == "3.0.0" and doc["channels"]["ws"]["address"] == "/ws"
    ops = {name.removeprefix("send_") for name, o in doc["operations"].items() if o["action"] == "send"}
    assert ops == tags(Request)
    messages = doc["channels"]["ws"]["messages"]
    for operation in doc["operations"].values():
        for ref in [*operation["messages"], *operation.get("reply", {}).get("messages", [])]:
            assert ref["$ref"].rsplit("/", 1)[1] in messages, ref
    assert set(REPLIES) <= tags(Request)


async def test_the_server_serves_the_schema_and_the_asyncapi_document(exchange: Exchange) -> None:
    status, ctype, body = await asyncio.to_thread(http_get, exchange.home, exchange.port, "/api/schema.json")
    assert (status, ctype) == (200, "application/json") and body.encode() == json_schema_bytes()
    status, _, body = await asyncio.to_thread(http_get, exchange.home, exchange.port, "/api/asyncapi.json")
    assert status == 200 and json.loads(body) == json.loads(asyncapi_bytes())


def test_exch_schema_writes_what_the_server_serves(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    result = CliRunner().invoke(app, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == json_schema_bytes()
    result = CliRunner().invoke(app, ["schema", "--asyncapi"])
    assert json.loads(result.output)["asyncapi"] == "3.0.0"


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "l3", "symbol": "ACME", "seq": 1, "event": "open", "order_id": 4}',  # fields left out
        '{"type": "pong", "id": 1, "ts": 5, "extra": true}',  # a field the contract does not have
        '{"type": "pong", "id": 1, "ts": "5"}',  # ill-typed
        '{"type": "nope"}',
        "[1]",
    ],
)
def test_the_frame_check_refuses_frames_that_break_the_contract(frame: str) -> None:
    assert frame_problem(frame) is not None
    checker = FrameChecker()
    checker.check(frame)
    assert len(checker.problems) == 1


def test_the_frame_check_accepts_a_real_frame() -> None:
    assert frame_problem('{"type": "pong", "id": 1, "ts": 1700000000000000000}') is None


async def test_every_frame_a_session_receives_is_checked(exchange: Exchange, contract: FrameChecker) -> None:
    trader = await exchange.trader(cash=10_000)
    await trader.subscribe(["level3", "ticker"], ["ACME"])
    await trader.order("ACME", "buy", 1, price=100)
    assert contract.checked >= 6 and not contract.problems
