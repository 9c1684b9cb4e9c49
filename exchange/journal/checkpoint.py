"""Checkpoint bytes: the engine snapshot (``exchange.engine.snapshot``) as msgpack.

The stored value is ``msgpack(snapshot(engine))``: plain data, format
``exch-engine`` version 1, never pickled objects. The store keeps it with the
seq it reflects, its size and its CRC-32. msgpack takes integers in
``[-2**63, 2**64 - 1]``: every state the engine accepts encodes, because
``exchange.engine.limits`` keeps every number it holds under ``2**63``.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgspec

from exchange.engine import Engine, SnapshotError, restore

__all__ = ["CheckpointError", "decode_checkpoint", "encode_checkpoint", "load_engine"]


class CheckpointError(ValueError):
    """A stored checkpoint is damaged or does not match its catalog row."""


def encode_checkpoint(state: dict[str, Any]) -> bytes:
    """msgpack bytes of a ``snapshot()`` dict."""
    return msgspec.msgpack.encode(state)


def decode_checkpoint(data: bytes) -> dict[str, Any]:
    """The ``snapshot()`` dict stored in ``data``.

    Raises:
        CheckpointError: not msgpack of a dict.
    """
    try:
        state = msgspec.msgpack.decode(data)
    except msgspec.DecodeError as exc:
        raise CheckpointError(f"not msgpack: {exc}") from exc
    if not isinstance(state, dict):
        raise CheckpointError("not a snapshot mapping")
    return state


def load_engine(data: bytes, *, seq: int, crc: int) -> Engine:
    """Restore the engine from checkpoint ``data`` stored as of ``seq`` with CRC ``crc``.

    Raises:
        CheckpointError: checksum, format or seq do not match.
    """
    if zlib.crc32(data) != crc:
        raise CheckpointError("checksum mismatch")
    try:
        engine = restore(decode_checkpoint(data))
    except SnapshotError as exc:
        raise CheckpointError(str(exc)) from exc
    if engine.seq != seq:
        raise CheckpointError(f"holds the state at seq {engine.seq}, not {seq}")
    return engine
