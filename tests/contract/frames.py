"""Validate server frames against the published JSON Schema (``GET /api/schema.json``).

Each frame is checked against the one definition its ``type`` names (cheap: no
search through the union), made strict for the test: no property the schema
does not list. :class:`FrameChecker` is what the gateway suite's conftest hook
runs on every frame a :class:`client.Session` receives.
"""

from __future__ import annotations

import copy
import json
import threading
import typing
from functools import cache

from jsonschema import Draft202012Validator

from exchange.protocol.messages import Message
from exchange.protocol.schema import json_schema

__all__ = ["FrameChecker", "frame_problem"]


@cache
def _validators() -> dict[str, Draft202012Validator]:
    schema = copy.deepcopy(json_schema())
    defs = schema["$defs"]
    for definition in defs.values():
        if "properties" in definition:
            definition["additionalProperties"] = False
    by_type = {t.__struct_config__.tag: t.__name__ for t in typing.get_args(Message)}
    return {
        tag: Draft202012Validator({"$defs": defs, "$ref": f"#/$defs/{name}"}) for tag, name in by_type.items()
    }


def frame_problem(frame: str | bytes) -> str | None:
    """Why ``frame`` breaks the contract, or None when it keeps it."""
    try:
        obj = json.loads(frame)
    except ValueError as exc:
        return f"not JSON: {exc}"
    if not isinstance(obj, dict):
        return "not a JSON object"
    validator = _validators().get(obj.get("type"))  # type: ignore[arg-type]
    if validator is None:
        return f"unknown type {obj.get('type')!r}"
    error = next(iter(validator.iter_errors(obj)), None)
    return None if error is None else f"{error.message} at {list(error.absolute_path)}"


class FrameChecker:
    """Collects the frames that break the contract (from any thread)."""

    def __init__(self) -> None:
        self.checked = 0
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def check(self, frame: str | bytes) -> None:
        """Validate one frame; remember it (shortened) if it breaks the contract."""
        problem = frame_problem(frame)
        with self._lock:
            self.checked += 1
            if problem is not None:
                text = frame if isinstance(frame, str) else frame.decode(errors="replace")
                self.problems.append(f"{problem}: {text[:300]}")
