"""docs/protocol.md stays true: every JSON example decodes with the server's own definitions.

Each ```json block holds one request (``op``) or one server message (``type``).
Requests must pass the gateway's strict decoder and name only real fields;
messages must decode and show every field the server sends. Every op and
every message type must have an example, and the Python examples must compile.
"""

from __future__ import annotations

import json
import re
import textwrap
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest

from exchange.protocol import (
    BatchRequest,
    Message,
    Request,
    decode_batch_item,
    decode_message,
    decode_request,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
TEXT = DOC.read_text(encoding="utf-8")
JSON_BLOCKS = re.findall(r"```json\n(.*?)```", TEXT, flags=re.S)
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def _tags(union: Any) -> set[str]:
    return {t.__struct_config__.tag for t in typing.get_args(union)}


def _fields(struct: msgspec.Struct) -> set[str]:
    return set(struct.__struct_fields__)


def _examples() -> list[dict[str, Any]]:
    return [json.loads(block) for block in JSON_BLOCKS]


@pytest.mark.parametrize("index", range(len(JSON_BLOCKS)))
def test_example_decodes(index: int) -> None:
    example = json.loads(JSON_BLOCKS[index])
    frame = JSON_BLOCKS[index].encode()
    if "op" in example:
        req = decode_request(frame)
        assert set(example) - {"op"} <= _fields(req), f"unknown fields in {example}"
        if isinstance(req, BatchRequest):
            for raw in req.requests:
                item = decode_batch_item(raw)
                assert set(json.loads(bytes(raw))) - {"op"} <= _fields(item)
    else:
        msg = decode_message(frame)
        shown = set(example) - {"type"}
        if msg.__struct_config__.omit_defaults:  # null fields are left out on the wire
            required = {f.name for f in msgspec.structs.fields(type(msg)) if f.required}
            assert required <= shown <= _fields(msg), f"fields of {example['type']} differ"
        else:
            assert shown == _fields(msg), f"fields of {example['type']} differ"


def test_every_op_and_message_type_has_an_example() -> None:
    examples = _examples()
    ops = {e["op"] for e in examples if "op" in e}
    types = {e["type"] for e in examples if "type" in e}
    missing_ops = _tags(Request) - ops
    missing_types = _tags(Message) - types
    assert not missing_ops, f"requests without an example: {sorted(missing_ops)}"
    assert not missing_types, f"messages without an example: {sorted(missing_types)}"


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_examples_compile(index: int) -> None:
    compile(textwrap.dedent(PYTHON_BLOCKS[index]), f"protocol.md python block {index}", "exec")
