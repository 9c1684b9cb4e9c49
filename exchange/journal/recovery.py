"""Start-up: newest valid checkpoint + replay of the journal after it.

Recovery rules (docs/persistence.md has the reasoning):

* The catalog is the truth about which segment holds which seqs; its
  ``last_seq`` per segment is the last *committed* record (the writer commits
  a segment's records, then its catalog end, then releases replies).
* Replay checks every record: consecutive seq, CRC-32, decodable command, and
  that the engine accepts it as exactly that seq. A replay that diverges raises
  :class:`ReplayMismatch`.
* A damaged or missing record at seq ``S``:
  - ``S`` committed (``S <= last_seq``): :class:`JournalCorrupt`, the start
    stops; nothing is dropped.
  - ``S`` never committed (a torn or uncommitted tail): one line naming the
    segment and seq is reported, and the journal is cut back to ``S - 1``.
* Intact records after the committed end (the process died between the two
  commits) were never acknowledged but are whole: they are kept, the catalog
  end is moved up and their trades are stored.
* Checkpoints are tried newest first; a damaged one is reported and the next
  older one (or an empty engine) is used.
* Records before the live journal's first segment were archived (``exch
  journal archive``): they are read from the archive directories given, else
  :class:`JournalArchived` says which records and where they went.
"""

from __future__ import annotations

import gc
import itertools
import json
import logging
import time
import zlib
from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from exchange.engine import Command, Engine, Event, Limits, Reject, decode_command
from exchange.journal import archive as archives
from exchange.journal.checkpoint import CheckpointError, load_engine
from exchange.journal.readahead import Chunk, ReadAhead, helper_available
from exchange.journal.trades import trades_from
from exchange.store.base import (
    RECORD_HEADER,
    Record,
    Segment,
    SegmentUnreadable,
    Store,
    StoreError,
    Trade,
    segment_files,
)

__all__ = [
    "LIMITS_KEY",
    "JournalArchived",
    "JournalCorrupt",
    "Recovery",
    "RecoveryError",
    "ReplayMismatch",
    "engine_limits",
    "recover",
    "replay",
]

LIMITS_KEY = "engine_limits"
PROGRESS_MIN = 100_000
"""Replays at least this long show a progress bar (when asked to)."""
READAHEAD_MIN = 50_000
"""Replays of SQLite segments at least this long read ahead in a helper process
(:mod:`exchange.journal.readahead`); shorter ones are done before it would start."""

_CHUNK = msgspec.msgpack.Decoder(list[Command])
"""Decodes a read-ahead chunk's payloads, each as :func:`decode_command` would, in one call."""

log = logging.getLogger("exch.journal")

Reporter = Callable[[str], None]


class RecoveryError(Exception):
    """The state cannot be rebuilt; the message is one line saying where and why."""


class JournalCorrupt(RecoveryError):
    """A committed record is damaged or missing: refusing to drop it silently."""


class JournalArchived(RecoveryError):
    """Records the replay needs were archived and no archive directory holding them was given."""


class ReplayMismatch(RecoveryError):
    """The engine did not accept a journal record as the seq it was stored under."""


@dataclass(slots=True)
class Recovery:
    """What :func:`recover` rebuilt and how."""

    engine: Engine
    checkpoint_seq: int = 0
    replayed: int = 0
    seconds: float = 0.0
    segment: Segment | None = None
    """The last catalog segment after repairs (the writer continues it)."""
    notes: list[str] = field(default_factory=list)
    """Lines reported on the way: cut tails, skipped checkpoints."""

    @property
    def last_seq(self) -> int:
        """The seq the engine is at."""
        return self.engine.seq


def engine_limits(store: Store, limits: Limits | None = None) -> Limits:
    """The engine limits the journal was started with (recorded on first use)."""
    stored = store.get_meta(LIMITS_KEY)
    if stored is not None:
        return Limits(**json.loads(stored))
    limits = limits or Limits()
    store.set_meta(LIMITS_KEY, json.dumps(limits.as_dict()))
    return limits


def _progress(enabled: bool, total: int) -> tuple[AbstractContextManager[Any], Callable[[int], None]]:
    if not enabled or total < PROGRESS_MIN:
        return nullcontext(), lambda n: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("replaying journal"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("replay", total=total)
    return progress, lambda n: progress.update(task, completed=n)


def _mismatch(where: str, seq: int, engine: Engine, events: list[Event]) -> ReplayMismatch:
    reason = events[0].code if type(events[0]) is Reject else "accepted out of order"
    return ReplayMismatch(
        f"{where}: replaying record {seq} left the engine at seq {engine.seq} ({reason}): "
        "the journal and the engine disagree"
    )


def _read_ahead(
    store: Store,
    sources: Sequence[tuple[Segment, archives.ArchiveFile | None]],
    *,
    start: int,
    stop: int,
    total: int,
) -> ReadAhead | None:
    """A helper process reading the SQLite files of ``sources``, if worth it and possible."""
    if total < max(READAHEAD_MIN, 1) or not helper_available():
        return None
    files: list[tuple[str, int]] = []
    for seg, held in sources:
        if held is not None:
            files.append((str(held.path), seg.last_seq))
        elif (on_disk := segment_files(store)) is not None:
            try:
                files.append((str(on_disk.segment_file(seg)), seg.last_seq))
            except StoreError:
                return None
        else:
            return None
    try:
        return ReadAhead(files, start=start, stop=stop)
    except OSError as exc:
        log.debug("no read-ahead helper: %s", exc)
        return None


def _chunks(
    store: Store,
    seg: Segment,
    held: archives.ArchiveFile | None,
    expected: int,
    ahead: ReadAhead | None,
) -> Generator[Chunk | Sequence[Record], None, None]:
    """The segment's records from ``expected`` on: checked chunks from the helper while it
    vouches for them, then stored rows read here (for the replay's own checks).

    The consumer applies each chunk whole (or stops the replay) before asking for the next.
    """
    done = False
    try:
        if ahead is not None and ahead.alive:
            while (chunk := ahead.next(expected)) is not None:
                yield chunk
                if not ahead.alive:  # the consumer turned it down (undecodable): read it here
                    break
                expected += len(chunk.ts)
            else:
                if ahead.alive:  # the helper read the whole segment
                    done = True
                    return
        if held is None:
            yield from store.read_records(seg, after=expected - 1)
        else:
            yield from archives.read_records(held.path, after=expected - 1)
        done = True
    finally:
        if not done and ahead is not None:
            ahead.close()  # the replay stops or names a damaged record: the helper has no more to do


def _check_catalog(segments: Sequence[Segment]) -> None:
    for prev, seg in itertools.pairwise(segments):
        if seg.first_seq != prev.last_seq + 1:
            raise JournalCorrupt(
                f"journal catalog: segment {seg.name} starts at seq {seg.first_seq} but segment "
                f"{prev.name} ends at seq {prev.last_seq}"
            )


def replay(
    store: Store,
    engine: Engine,
    *,
    until: int | None = None,
    repair: bool = True,
    progress: bool = False,
    report: Reporter | None = None,
    archive: Sequence[Path] = (),
    read_ahead: bool = True,
) -> tuple[int, list[str]]:
    """Apply the journal's records after ``engine.seq`` (up to ``until``) to ``engine``.

    With ``repair`` the journal is cut back at a torn tail and the catalog
    end moved up over intact uncommitted records (whose trades are stored);
    without it nothing is written. Records before the live journal are read
    from the ``archive`` directories. Long replays of SQLite segments read ahead in a helper
    process unless ``read_ahead`` is off (same checks, same outcome; see
    :mod:`exchange.journal.readahead`). Returns ``(records replayed, notes)``.

    Raises:
        JournalCorrupt: a committed record is damaged or missing.
        JournalArchived: records needed are archived and ``archive`` was not given.
        ArchiveError: an archive directory or file is missing or damaged.
        ReplayMismatch: the engine does not reproduce the journal's seqs.
    """
    say = report or log.warning
    notes: list[str] = []
    segments = store.segments()
    _check_catalog(segments)
    start = engine.seq
    if not segments:
        if start:
            raise JournalCorrupt(f"the journal is empty but the state is at seq {start}")
        return 0, notes
    committed = segments[-1].last_seq
    if start > committed:
        raise JournalCorrupt(
            f"the journal's committed records end at seq {committed} but the state is at seq {start}"
        )
    stop = until if until is not None else 1 << 62
    sources: list[tuple[Segment, archives.ArchiveFile | None]] = []
    first_live = segments[0].first_seq
    if start + 1 < first_live and start < stop:
        if not archive:
            raise JournalArchived(archives.archived_message(store, start + 1, first_live - 1))
        files = archives.archived_sources(store, archive, start + 1, first_live - 1, report=say)
        sources = [(f.segment, f) for f in files]
    sources += [(seg, None) for seg in segments]
    total = min(stop, committed) - start
    bar, advance = _progress(progress, total)
    apply = engine.apply
    decode = decode_command
    decode_chunk = _CHUNK.decode
    crc32 = zlib.crc32
    pack = RECORD_HEADER.pack
    expected = start + 1
    late_trades: list[Trade] = []
    ahead = _read_ahead(store, sources, start=expected, stop=stop, total=total) if read_ahead else None
    collecting = gc.isenabled()
    gc.disable()  # replay allocates many short-lived, acyclic objects: collect once at the end
    try:
        with bar:
            for index, (seg, held) in enumerate(sources):
                last_segment = index == len(sources) - 1
                if seg.last_seq < expected and not last_segment:
                    continue
                if expected > stop:
                    break
                damage: str | None = None
                where = store.segment_location(seg) if held is None else str(held.path)
                chunks = _chunks(store, seg, held, expected, ahead)
                try:
                    for item in chunks:
                        if isinstance(item, Chunk):
                            try:
                                commands = decode_chunk(item.commands)
                                if len(commands) != len(item.ts):
                                    raise msgspec.DecodeError("chunk length")
                            except msgspec.DecodeError:
                                # read the chunk again here: the checks below name the record
                                assert ahead is not None  # chunks come from it
                                ahead.close()
                                continue
                            else:
                                # the helper checked each record's seq and CRC
                                seq = item.first
                                if seq + len(commands) - 1 <= committed:
                                    for command, ts in zip(commands, item.ts, strict=True):
                                        events = apply(command, ts)
                                        if engine.seq != seq:
                                            raise _mismatch(where, seq, engine, events)
                                        seq += 1
                                else:
                                    for command, ts in zip(commands, item.ts, strict=True):
                                        events = apply(command, ts)
                                        if engine.seq != seq:
                                            raise _mismatch(where, seq, engine, events)
                                        if seq > committed and len(events) > 1:
                                            late_trades.extend(trades_from(events, seq, ts))
                                        seq += 1
                                expected = seq
                                advance(expected - 1 - start)
                                if expected > stop:
                                    break
                                continue
                        for seq, ts, crc, payload in item:
                            if seq != expected:
                                damage = f"record {expected} is missing (next stored is {seq})"
                                break
                            if crc32(payload, crc32(pack(seq, ts))) != crc:  # == checksum(seq, ts, payload)
                                damage = "checksum mismatch"
                                break
                            try:
                                command = decode(payload)
                            except msgspec.DecodeError as exc:
                                damage = f"undecodable command ({exc})"
                                break
                            events = apply(command, ts)
                            if engine.seq != seq:
                                raise _mismatch(where, seq, engine, events)
                            if seq > committed and len(events) > 1:
                                late_trades.extend(trades_from(events, seq, ts))
                            expected += 1
                            if expected > stop:
                                break
                        else:
                            advance(expected - 1 - start)
                            continue
                        break
                except SegmentUnreadable as exc:
                    damage = f"unreadable ({exc})"
                finally:
                    chunks.close()
                if expected > stop:
                    break
                if damage is None and expected - 1 < seg.last_seq:
                    damage = "stored records end early"
                if damage is not None:
                    if expected <= seg.last_seq or not last_segment:
                        raise JournalCorrupt(
                            f"{where}: committed record {expected} is corrupted or missing ({damage}); "
                            f"refusing to start without it"
                        )
                    line = (
                        f"{where}: torn tail at seq {expected} ({damage}), never committed: "
                        f"journal cut back to seq {expected - 1}"
                    )
                    notes.append(line)
                    say(line)
                    if repair:
                        store.set_segment_end(seg, expected - 1)
                elif last_segment and expected - 1 > seg.last_seq:
                    line = (
                        f"{where}: records {seg.last_seq + 1}..{expected - 1} were stored but never "
                        f"committed; kept (they are intact)"
                    )
                    notes.append(line)
                    say(line)
                    if repair:
                        store.set_segment_end(seg, expected - 1)
    finally:
        if ahead is not None:
            ahead.close()
        if collecting:
            gc.enable()
    if repair and late_trades:
        store.add_trades(late_trades)
    return engine.seq - start, notes


def recover(
    store: Store,
    *,
    use_checkpoint: bool = True,
    repair: bool = True,
    limits: Limits | None = None,
    progress: bool = False,
    report: Reporter | None = None,
    read_ahead: bool = True,
) -> Recovery:
    """Rebuild the engine: newest valid checkpoint (unless ``use_checkpoint`` is off) + replay.

    ``limits`` only matter for a journal that has none recorded yet.

    Raises:
        RecoveryError: the journal or checkpoints cannot give a consistent state.
        StoreError: the store itself failed.
    """
    say = report or log.warning
    started = time.perf_counter()
    notes: list[str] = []
    engine: Engine | None = None
    checkpoint_seq = 0
    if use_checkpoint:
        for info in store.checkpoints():
            try:
                engine = load_engine(store.load_checkpoint(info.seq), seq=info.seq, crc=info.crc)
            except (CheckpointError, StoreError) as exc:
                line = f"checkpoint at seq {info.seq} is unusable ({exc}); trying an older one"
                notes.append(line)
                say(line)
                continue
            checkpoint_seq = info.seq
            break
    if engine is None:
        engine = Engine(limits=engine_limits(store, limits))
    replayed, more = replay(store, engine, repair=repair, progress=progress, report=say, read_ahead=read_ahead)
    notes.extend(more)
    segments = store.segments()
    return Recovery(
        engine,
        checkpoint_seq=checkpoint_seq,
        replayed=replayed,
        seconds=time.perf_counter() - started,
        segment=segments[-1] if segments else None,
        notes=notes,
    )
