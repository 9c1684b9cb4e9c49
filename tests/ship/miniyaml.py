"""A small YAML reader for the structure check when PyYAML is not installed.

It reads the subset ``docker-compose.yml`` is written in: block mappings and
sequences by indentation, ``# comments``, plain, single- and double-quoted
scalars, one-line flow sequences ``[a, "b"]`` and folded (``>-``) / literal
(``|``) block scalars. Anything else raises ``ValueError``, so the check fails
loudly rather than reading the file wrong. With PyYAML installed the tests use
PyYAML instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

_KEY = re.compile(r"^(?P<key>[A-Za-z0-9_.\-]+|\"[^\"]*\"):(?:\s+(?P<value>.*))?$")


def _strip_comment(text: str) -> str:
    out, quote = [], ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        if not inner:
            return []
        return [_scalar(part) for part in re.findall(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[^,]+', inner)
                if part.strip()]
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~", ""):
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text[:1] in "{&*!|>":
        raise ValueError(f"unsupported YAML: {text!r}")
    return text


def loads(source: str) -> Any:
    """Parse the supported subset into dicts, lists and scalars."""
    lines = [(len(raw) - len(raw.lstrip(" ")), raw) for raw in source.splitlines()]
    pos = 0

    def block_scalar(indent: int, style: str) -> str:
        nonlocal pos
        parts: list[str] = []
        while pos < len(lines) and (not lines[pos][1].strip() or lines[pos][0] > indent):
            parts.append(lines[pos][1].strip())
            pos += 1
        return (" " if style.startswith(">") else "\n").join(p for p in parts if p)

    def value_after(text: str | None, indent: int) -> Any:
        nonlocal pos
        if text is None or text == "":
            if pos < len(lines) and lines[pos][0] >= indent and _next_is_item(indent):
                return node(lines[pos][0])
            if pos < len(lines) and lines[pos][0] > indent:
                return node(lines[pos][0])
            return None
        if text in (">", ">-", "|", "|-"):
            return block_scalar(indent, text)
        return _scalar(text)

    def _next_is_item(indent: int) -> bool:
        return lines[pos][1].lstrip().startswith("- ") or lines[pos][1].strip() == "-"

    def skip_blank() -> None:
        nonlocal pos
        while pos < len(lines) and not _strip_comment(lines[pos][1]).strip():
            pos += 1

    def node(indent: int) -> Any:
        nonlocal pos
        skip_blank()
        if pos >= len(lines):
            return None
        is_list = lines[pos][1].lstrip().startswith("-")
        result: Any = [] if is_list else {}
        while True:
            skip_blank()
            if pos >= len(lines) or lines[pos][0] < indent:
                return result
            if lines[pos][0] > indent:
                raise ValueError(f"bad indentation at line {pos + 1}: {lines[pos][1]!r}")
            text = _strip_comment(lines[pos][1]).strip()
            pos += 1
            if is_list:
                if not text.startswith("-"):
                    raise ValueError(f"expected a list item at line {pos}: {text!r}")
                item = text[1:].strip()
                match = _KEY.match(item)
                if match and not item.startswith(("'", '"', "[")):
                    # a mapping inside the list: "- key: value" and its following keys
                    child_indent = indent + 2
                    mapping = {_key(match["key"]): value_after(match["value"], child_indent)}
                    skip_blank()
                    if pos < len(lines) and lines[pos][0] == child_indent:
                        rest = node(child_indent)
                        if not isinstance(rest, dict):
                            raise ValueError(f"mixed list item at line {pos}")
                        mapping.update(rest)
                    result.append(mapping)
                else:
                    result.append(value_after(item, indent + 1))
            else:
                match = _KEY.match(text)
                if not match:
                    raise ValueError(f"expected key: value at line {pos}: {text!r}")
                key = _key(match["key"])
                if key in result:
                    raise ValueError(f"duplicate key {key!r} at line {pos}")
                result[key] = value_after(match["value"], indent + 1 if match["value"] else indent)

    return node(0)


def _key(text: str) -> str:
    return json.loads(text) if text.startswith('"') else text
