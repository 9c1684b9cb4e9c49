"""The machine-readable contract of protocol v1, generated from the message structs.

:func:`json_schema` is a JSON Schema (draft 2020-12) whose ``$defs`` hold every
request and message, with ``Request`` and ``Message`` the two unions;
:func:`asyncapi` is an AsyncAPI 3 document of the ``/ws`` channel: what a client
sends (each op and its replies) and what the server pushes. Both come from the
structs in :mod:`exchange.protocol.requests` and :mod:`exchange.protocol.messages`
themselves, so they cannot drift from what the server speaks. The server serves
them at ``GET /api/schema.json`` and ``GET /api/asyncapi.json``; ``exch schema``
prints them.

Messages follow the rule "null, never absent": every property of a server
message is ``required`` in the schema (nullable ones allow ``null``).
"""

from __future__ import annotations

import json
import typing
from functools import cache
from typing import Any, Final

import msgspec

from exchange.protocol.messages import Message
from exchange.protocol.requests import Request

__all__ = ["PUSHES", "REPLIES", "asyncapi", "asyncapi_bytes", "json_schema", "json_schema_bytes"]

REPLIES: Final[dict[str, tuple[str, ...]]] = {
    "order": ("ack",),
    "replace": ("ack",),
    "cancel": ("canceled",),
    "cancel_all": ("canceled_all",),
    "ping": ("pong",),
    "subscribe": ("subscribed", "snapshot"),
    "unsubscribe": ("unsubscribed",),
    "batch": (),
}
"""The reply ``type`` of each op whose reply is not named after it (``error`` aside)."""
PUSHES: Final = (
    "fill", "done", "triggered", "shutdown", "error", "snapshot", "l3", "l2", "ticker", "trade", "status", "stats",
)
"""Message types the server sends without a request (``error``: a notice with ``id`` null)."""

_VERSION: Final = "1"


def _tags(union: Any) -> dict[str, str]:
    """``tag -> struct name`` of each member of a tagged union."""
    return {t.__struct_config__.tag: t.__name__ for t in typing.get_args(union)}


def _components(ref_template: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The Request and Message union schemas and every struct's schema."""
    (request, message), components = msgspec.json.schema_components((Request, Message), ref_template=ref_template)
    requests = set(_tags(Request).values())
    for name, schema in components.items():
        if name not in requests and "properties" in schema:
            schema["required"] = sorted(schema["properties"])
    return request, message, components


@cache
def json_schema() -> dict[str, Any]:
    """The JSON Schema of every request (``$defs/Request``) and message (``$defs/Message``)."""
    request, message, components = _components("#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "exch-protocol-v1.schema.json",
        "title": f"exch wire protocol v{_VERSION}",
        "description": "One JSON object per WebSocket text frame: requests carry `op`, server messages `type`.",
        "$defs": {**components, "Request": request, "Message": message},
        "anyOf": [{"$ref": "#/$defs/Request"}, {"$ref": "#/$defs/Message"}],
    }


@cache
def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0 document: the ``/ws`` channel, each op's request and replies, and the pushes."""
    _, _, components = _components("#/components/schemas/{name}")
    ops, types = _tags(Request), _tags(Message)
    messages: dict[str, Any] = {}
    named = [(f"op_{tag}", tag, struct) for tag, struct in ops.items()]
    for key, tag, struct in [*named, *((tag, tag, struct) for tag, struct in types.items())]:
        messages[key] = {
            "name": tag, "title": struct,
            "payload": {"$ref": f"#/components/schemas/{struct}"},
        }
    channel_messages = {key: {"$ref": f"#/components/messages/{key}"} for key in messages}
    operations: dict[str, Any] = {}
    for op in ops:
        replies = REPLIES.get(op, (op,) if op in types else ())
        operations[f"send_{op}"] = {
            "action": "send",
            "channel": {"$ref": "#/channels/ws"},
            "messages": [{"$ref": f"#/channels/ws/messages/op_{op}"}],
            "reply": {
                "channel": {"$ref": "#/channels/ws"},
                "messages": [{"$ref": f"#/channels/ws/messages/{t}"} for t in (*replies, "error")],
            },
        }
    for push in PUSHES:
        operations[f"receive_{push}"] = {
            "action": "receive",
            "channel": {"$ref": "#/channels/ws"},
            "messages": [{"$ref": f"#/channels/ws/messages/{push}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "exch",
            "version": _VERSION,
            "description": "A stock exchange's WebSocket API: see docs/protocol.md for the rules.",
        },
        "defaultContentType": "application/json",
        "servers": {"exch": {"host": "localhost:8443", "protocol": "wss", "pathname": "/ws"}},
        "channels": {"ws": {"address": "/ws", "messages": channel_messages}},
        "operations": operations,
        "components": {"schemas": components, "messages": messages},
    }


@cache
def json_schema_bytes() -> bytes:
    """:func:`json_schema` as the bytes the server serves."""
    return json.dumps(json_schema(), indent=1, sort_keys=True).encode() + b"\n"


@cache
def asyncapi_bytes() -> bytes:
    """:func:`asyncapi` as the bytes the server serves."""
    return json.dumps(asyncapi(), indent=1, sort_keys=True).encode() + b"\n"
