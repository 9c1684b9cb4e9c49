"""``exch replay --verify``: rebuild from record 1 and compare with the newest checkpoint.

Read-only: nothing in the store is repaired or written. The journal is
replayed from its very first record up to the newest checkpoint's seq, the
rebuilt state is compared with the checkpoint, and the rest of the journal is
replayed too, so every committed record's checksum and seq are checked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange.engine import Engine, Limits, snapshot
from exchange.journal.checkpoint import CheckpointError, decode_checkpoint
from exchange.journal.recovery import LIMITS_KEY, Reporter, replay
from exchange.store.base import Store

__all__ = ["Verdict", "first_difference", "verify"]


@dataclass(slots=True)
class Verdict:
    """The outcome of :func:`verify`."""

    ok: bool
    message: str
    checkpoint_seq: int | None
    last_seq: int
    replayed: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The path of the first place where plain data ``a`` and ``b`` differ, or None."""
    if type(a) is not type(b):
        return path or "(root)"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                return f"{path}.{key}"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return f"{path} (length {len(a)} vs {len(b)})" if len(a) != len(b) else None
    return None if a == b else f"{path} ({a!r} vs {b!r})"


def verify(
    store: Store, *, progress: bool = False, report: Reporter | None = None, archive: Sequence[Path] = ()
) -> Verdict:
    """Replay the whole journal from record 1 and check it against the newest checkpoint.

    Records moved out by ``exch journal archive`` are read from the ``archive`` directories.

    Raises:
        RecoveryError: a committed record is damaged, archived records are not given
            (``JournalArchived``), or the replay diverges.
        ArchiveError: an archive file is missing or damaged.
    """
    started = time.perf_counter()
    stored = store.get_meta(LIMITS_KEY)
    engine = Engine(limits=Limits(**json.loads(stored)) if stored else None)
    checkpoints = store.checkpoints()
    notes: list[str] = []
    replayed = 0
    ok, message = True, ""
    newest = checkpoints[0] if checkpoints else None
    if newest is not None:
        replayed, more = replay(
            store, engine, until=newest.seq, repair=False, progress=progress, report=report, archive=archive
        )
        notes += more
        if engine.seq != newest.seq:
            ok = False
            message = f"the journal ends at seq {engine.seq}, before the newest checkpoint (seq {newest.seq})"
        else:
            try:
                expected = decode_checkpoint(store.load_checkpoint(newest.seq))
            except CheckpointError as exc:
                expected, ok = None, False
                message = f"the checkpoint at seq {newest.seq} is unreadable: {exc}"
            if expected is not None:
                where = first_difference(snapshot(engine), expected)
                if where is not None:
                    ok = False
                    message = (
                        f"MISMATCH: the state rebuilt from record 1 differs from the checkpoint at seq "
                        f"{newest.seq}, first at {where.lstrip('.')}"
                    )
    if ok:
        more_replayed, more = replay(store, engine, repair=False, progress=progress, report=report, archive=archive)
        replayed += more_replayed
        notes += more
        if newest is None:
            message = f"OK: replayed records 1..{engine.seq}; no checkpoint to compare with"
        else:
            message = (
                f"OK: replayed records 1..{engine.seq}; the state at seq {newest.seq} equals the newest "
                "checkpoint"
            )
    return Verdict(ok, message, newest.seq if newest else None, engine.seq, replayed,
                   time.perf_counter() - started, notes)  # fmt: skip
