"""Journal archiving: move old segments out of the live journal into self-contained files.

``exch journal archive --to DIR`` moves every segment whose records all lie at
or before the oldest usable checkpoint (so every kept checkpoint can still
recover), except the segment being written, into ``DIR/<name>.seg``; ``exch
journal restore --from DIR`` puts them back; ``exch replay --archive DIR``
reads them before the live journal. docs/persistence.md ("Archiving") has the
reasoning.

Archive file: one SQLite database (rollback-journal mode, so a single file)::

    CREATE TABLE segment (format TEXT, version INTEGER, name TEXT, first_seq INTEGER,
                          last_seq INTEGER, records INTEGER, created INTEGER,
                          archived INTEGER, source TEXT);          -- one row
    CREATE TABLE records (seq INTEGER PRIMARY KEY, ts INTEGER, crc INTEGER, payload BLOB);

``records`` is the live segment format (every record keeps its CRC-32);
``segment`` says what the file holds (``format`` ``exch-journal-segment``,
``version`` 1), so the file needs nothing else to be read and checked. The
store's catalog moves the segment's row from ``journal_segments`` to
``journal_archive`` with the file's path, size and SHA-256.

Per segment: copy to ``DIR/<name>.seg.partial`` (checking each live record's
seq and CRC on the way) → fsync → re-read and check (count, range, every CRC)
→ rename to ``DIR/<name>.seg`` and fsync ``DIR`` → move the catalog row
(committed durably) → delete the live copy. A crash at any point leaves the
live copy, or both copies; never neither. A later run deletes stale partial
files, keeps a complete ``<name>.seg`` left by an interrupted run once it
checks out (else copies again), and deletes live copies left after the
catalog commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from exchange.files import exclusive_lock, fsync_path, private_umask
from exchange.journal.checkpoint import CheckpointError, load_engine
from exchange.paths import journal_dir
from exchange.store.base import (
    ArchivedSegment,
    NotFound,
    Record,
    Segment,
    SegmentUnreadable,
    Store,
    StoreError,
    checksum,
)

__all__ = [
    "ARCHIVE_FORMAT",
    "ARCHIVE_VERSION",
    "ArchiveError",
    "ArchiveFile",
    "ArchiveResult",
    "Moved",
    "Plan",
    "archive",
    "archived_message",
    "archived_sources",
    "check_file",
    "file_sha256",
    "plan",
    "read_header",
    "read_records",
    "restore",
    "scan",
]

ARCHIVE_FORMAT: Final = "exch-journal-segment"
ARCHIVE_VERSION: Final = 1
PARTIAL: Final = ".partial"
LOCK_FILE: Final = ".exch-archive.lock"
CHUNK: Final = 8_192

_SCHEMA: Final = """
CREATE TABLE segment (
    format TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
    first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, records INTEGER NOT NULL,
    created INTEGER NOT NULL, archived INTEGER NOT NULL, source TEXT NOT NULL
);
CREATE TABLE records (
    seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, crc INTEGER NOT NULL, payload BLOB NOT NULL
);
"""

log = logging.getLogger("exch.journal")

Reporter = Callable[[str], None]


class ArchiveError(StoreError):
    """An archive file or directory is missing, damaged or not what the catalog says."""


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """An archive file and what its ``segment`` row says it holds."""

    path: Path
    segment: Segment
    archived: int
    source: str


# ------------------------------------------------------------------ files


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-journal")):
        p.unlink(missing_ok=True)


def _open_ro(path: Path) -> sqlite3.Connection:
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_header(path: Path) -> ArchiveFile:
    """What the archive file at ``path`` says it holds.

    Raises:
        ArchiveError: not an archive file of this format, or unreadable.
    """
    try:
        conn = _open_ro(path)
        try:
            rows = conn.execute(
                "SELECT format, version, name, first_seq, last_seq, records, created, archived, source FROM segment"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ArchiveError(f"{path}: not a readable archive file ({exc})") from exc
    if len(rows) != 1 or rows[0][0] != ARCHIVE_FORMAT:
        raise ArchiveError(f"{path}: not an {ARCHIVE_FORMAT} file")
    _, version, name, first, last, count, created, archived, source = rows[0]
    if version != ARCHIVE_VERSION:
        raise ArchiveError(f"{path}: {ARCHIVE_FORMAT} version {version}, this exch reads {ARCHIVE_VERSION}")
    if count != last - first + 1:
        raise ArchiveError(f"{path}: says records {first}..{last} but {count} records")
    return ArchiveFile(path, Segment(name, first, last, created), archived, source)


def read_records(path: Path, *, after: int = 0) -> Iterator[Sequence[Record]]:
    """Chunks of the archive file's records with ``seq > after``, by seq.

    Raises:
        SegmentUnreadable: the file is missing or damaged beyond reading.
    """
    if not path.exists():
        raise SegmentUnreadable("file is missing")
    try:
        conn = _open_ro(path)
    except sqlite3.Error as exc:
        raise SegmentUnreadable(str(exc)) from exc
    try:
        cur = conn.execute("SELECT seq, ts, crc, payload FROM records WHERE seq > ? ORDER BY seq", (after,))
        while rows := cur.fetchmany(CHUNK):
            yield rows
    except sqlite3.DatabaseError as exc:
        raise SegmentUnreadable(str(exc)) from exc
    finally:
        conn.close()


def _check_records(where: str, segment: Segment, chunks: Iterator[Sequence[Record]]) -> Iterator[Sequence[Record]]:
    """Pass ``chunks`` through, checking they are exactly ``segment``'s records with good CRCs."""
    expected = segment.first_seq
    try:
        for chunk in chunks:
            for seq, ts, crc, payload in chunk:
                if seq > segment.last_seq:
                    break
                if seq != expected:
                    raise ArchiveError(f"{where}: record {expected} is missing (next stored is {seq})")
                if checksum(seq, ts, payload) != crc:
                    raise ArchiveError(f"{where}: record {seq}: checksum mismatch")
                expected += 1
            yield chunk if chunk[-1][0] <= segment.last_seq else [r for r in chunk if r[0] <= segment.last_seq]
            if expected > segment.last_seq:
                break
    except SegmentUnreadable as exc:
        raise ArchiveError(f"{where}: record {expected} is unreadable ({exc})") from exc
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if expected <= segment.last_seq:
        raise ArchiveError(f"{where}: records end at {expected - 1}, not {segment.last_seq}")


def check_file(path: Path, segment: Segment) -> ArchiveFile:
    """Check that ``path`` holds exactly ``segment``'s records, every CRC good.

    Raises:
        ArchiveError: it does not (the message says the first problem).
    """
    header = read_header(path)
    held = header.segment
    if (held.name, held.first_seq, held.last_seq) != (segment.name, segment.first_seq, segment.last_seq):
        raise ArchiveError(
            f"{path}: holds segment {held.name} records {held.first_seq}..{held.last_seq}, "
            f"not {segment.name} records {segment.first_seq}..{segment.last_seq}"
        )
    for _ in _check_records(str(path), segment, read_records(path)):
        pass
    return header


def _write(path: Path, segment: Segment, source: str, chunks: Iterator[Sequence[Record]]) -> None:
    """Write an archive file of ``segment`` from its live records (checked on the way), fsynced."""
    _remove(path)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # the order history: the owner's only
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # the file only counts once it is complete, checked and renamed: no rollback journal
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.executescript(_SCHEMA)
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO segment VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ARCHIVE_FORMAT, ARCHIVE_VERSION, segment.name, segment.first_seq, segment.last_seq,
             segment.count, segment.created, time.time_ns(), source),
        )  # fmt: skip
        try:
            for chunk in _check_records(source, segment, chunks):
                conn.executemany("INSERT INTO records (seq, ts, crc, payload) VALUES (?, ?, ?, ?)", chunk)
        except ArchiveError as exc:
            raise ArchiveError(f"{exc} in the live journal: not archiving it (see exch replay --verify)") from exc
        conn.execute("COMMIT")
    finally:
        conn.close()
    fsync_path(path)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One archiving run per directory at a time."""
    with exclusive_lock(directory / LOCK_FILE,
                        lambda: ArchiveError(f"another exch journal archive is writing to {directory}")):
        yield


# -------------------------------------------------------------- archiving


@dataclass(slots=True)
class Plan:
    """What :func:`archive` would move, and why."""

    segments: list[Segment]
    """Live segments to archive, by ``first_seq``."""
    boundary: int | None
    """The oldest kept usable checkpoint's seq: archived records all lie at or before it."""
    prune: list[int] = field(default_factory=list)
    """Checkpoints to delete first (``keep_checkpoints``)."""
    reason: str = ""
    """Why nothing can be archived (when ``segments`` is empty)."""
    notes: list[str] = field(default_factory=list)


def plan(store: Store, *, keep_checkpoints: int | None = None) -> Plan:
    """Which live segments may go: complete ones (not the last) ending at or before the oldest
    kept checkpoint that loads (CRC, format and seq checked).

    ``keep_checkpoints``: only the newest N checkpoints are kept (the others to be deleted).
    """
    if keep_checkpoints is not None and keep_checkpoints < 1:
        raise ArchiveError("--keep-checkpoints must be at least 1")
    checkpoints = store.checkpoints()
    kept = checkpoints if keep_checkpoints is None else checkpoints[:keep_checkpoints]
    notes: list[str] = []
    usable: list[int] = []
    for info in kept:
        try:
            load_engine(store.load_checkpoint(info.seq), seq=info.seq, crc=info.crc)
        except NotFound:
            continue  # pruned by the running server meanwhile: only older ones go
        except CheckpointError as exc:
            notes.append(f"checkpoint at seq {info.seq} is unusable ({exc}); not counting on it")
            continue
        usable.append(info.seq)
    segments = store.segments()
    if not usable:
        reason = "no checkpoint yet" if not checkpoints else "no usable checkpoint"
        return Plan([], None, reason=f"{reason}: recovery needs the whole journal", notes=notes)
    boundary = min(usable)
    prune = [c.seq for c in checkpoints[len(kept) :]]
    eligible = [s for s in segments[:-1] if s.last_seq <= boundary]
    reason = ""
    if not eligible:
        reason = (
            f"no complete segment ends at or before the oldest kept checkpoint (seq {boundary}); "
            "the segment being written is never archived"
        )
    return Plan(eligible, boundary, prune=prune, reason=reason, notes=notes)


@dataclass(frozen=True, slots=True)
class Moved:
    """One archived segment."""

    segment: Segment
    source: str
    file: Path
    freed: int
    """Bytes the live copy took."""
    reused: bool = False
    """A complete copy left by an interrupted run was checked and kept."""


@dataclass(slots=True)
class ArchiveResult:
    """What :func:`archive` did (or, with ``dry_run``, would do)."""

    plan: Plan
    moved: list[Moved] = field(default_factory=list)
    pruned: list[int] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Records moved out."""
        return sum(m.segment.count for m in self.moved)

    @property
    def freed(self) -> int:
        """Bytes freed in the live journal."""
        return sum(m.freed for m in self.moved)


def _archive_one(store: Store, segment: Segment, dest: Path, say: Reporter) -> Moved:
    source = store.segment_location(segment)
    size = store.segment_size(segment)
    final = dest / f"{segment.name}.seg"
    partial = final.with_name(final.name + PARTIAL)
    reused = False
    if partial.exists():
        _remove(partial)
        say(f"{partial}: left by an interrupted archive; deleted")
    if final.exists():
        try:
            check_file(final, segment)
            reused = True
            say(f"{final}: complete copy left by an interrupted archive; checked, kept")
        except ArchiveError as exc:
            say(f"{final}: left by an interrupted archive and unusable ({exc}); copying again")
    if not reused:
        try:
            _write(partial, segment, source, store.read_records(segment))
            check_file(partial, segment)
            os.replace(partial, final)
            fsync_path(dest)
        except BaseException:
            with contextlib.suppress(OSError):
                _remove(partial)
            raise
    header = read_header(final)
    entry = ArchivedSegment(
        segment.name, segment.first_seq, segment.last_seq, segment.created, header.archived,
        str(final.resolve()), final.stat().st_size, file_sha256(final), source,
    )  # fmt: skip
    try:
        store.archive_segment(segment, entry)
    except NotFound:
        final.unlink(missing_ok=True)  # not what the catalog points at
        raise
    return Moved(segment, source, final, size, reused)


def archive(
    store: Store,
    dest: Path,
    *,
    keep_checkpoints: int | None = None,
    dry_run: bool = False,
    report: Reporter | None = None,
) -> ArchiveResult:
    """Move the live segments :func:`plan` allows into ``dest`` (created if missing).

    Safe while the server runs: the segment being written and anything a kept
    checkpoint needs stay; the catalog change is one transaction. ``report``
    gets each line (leftovers cleaned up, copies kept or redone, checkpoints
    skipped); the caller prints one line per :class:`Moved`.

    Raises:
        ArchiveError: ``dest`` unusable, or a live record is damaged (nothing of its segment moved).
        StoreError: the store failed.
    """
    say = report or log.warning
    home = getattr(store, "home", None)
    if isinstance(home, Path):
        live = journal_dir(home).resolve()
        target = dest.resolve()
        if target == live or live in target.parents:
            raise ArchiveError(f"the archive directory must be outside the live journal ({live})")
    if dest.exists() and not dest.is_dir():
        raise ArchiveError(f"{dest} is not a directory")
    the_plan = plan(store, keep_checkpoints=keep_checkpoints)
    for line in the_plan.notes:
        say(line)
    result = ArchiveResult(the_plan)
    if dry_run:
        result.pruned = list(the_plan.prune)
        result.moved = [
            Moved(s, store.segment_location(s), dest / f"{s.name}.seg", store.segment_size(s))
            for s in the_plan.segments
        ]
        return result
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(dest):
        result.leftovers = store.drop_archived_leftovers()
        for location in result.leftovers:
            say(f"{location}: live copy of an archived segment left by an interrupted archive; deleted")
        if the_plan.prune and keep_checkpoints is not None:
            result.pruned = store.prune_checkpoints(keep_checkpoints)
        for segment in the_plan.segments:
            try:
                result.moved.append(_archive_one(store, segment, dest, say))
            except NotFound as exc:
                say(f"{exc} (archived by another run meanwhile); skipped")
    return result


# -------------------------------------------------------- reading / restore


def scan(dirs: Sequence[Path], report: Reporter | None = None) -> dict[str, ArchiveFile]:
    """The archive files in ``dirs`` by segment name (the first found wins).

    Files that are not archive files are reported and skipped.

    Raises:
        ArchiveError: a directory does not exist.
    """
    say = report or log.warning
    found: dict[str, ArchiveFile] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise ArchiveError(f"archive directory {directory} does not exist")
        for path in sorted(directory.glob("*.seg")):
            try:
                header = read_header(path)
            except ArchiveError as exc:
                say(f"{exc}; skipped")
                continue
            found.setdefault(header.segment.name, header)
    return found


def archived_message(store: Store, first: int, last: int) -> str:
    """One line: records ``first..last`` are not in the live journal, and where they went."""
    entries = [e for e in store.archived_segments() if e.last_seq >= first and e.first_seq <= last]
    if not entries:
        return (
            f"records {first}..{last} are not in the live journal (it starts at seq {last + 1}) and the "
            "catalog records no archive of them"
        )
    where = list(dict.fromkeys(str(Path(e.file).parent) for e in entries))
    shown = " and ".join(where)
    return (
        f"records {first}..{last} are archived in {shown}, not in the live journal: pass --archive "
        f"{where[0]} to exch replay, or put them back with exch journal restore --from {where[0]}"
    )


def _check_against_catalog(header: ArchiveFile, entries: dict[str, ArchivedSegment]) -> None:
    entry = entries.get(header.segment.name)
    if entry is None:
        return  # a store without this row (e.g. an older backup): the records' CRCs still decide
    held = header.segment
    if (entry.first_seq, entry.last_seq) != (held.first_seq, held.last_seq):
        raise ArchiveError(
            f"{header.path}: holds records {held.first_seq}..{held.last_seq}, the catalog archived "
            f"{entry.first_seq}..{entry.last_seq} under this name"
        )
    if file_sha256(header.path) != entry.sha256:
        raise ArchiveError(
            f"{header.path}: SHA-256 differs from the one recorded when it was archived: the file is damaged"
        )


def archived_sources(
    store: Store, dirs: Sequence[Path], first: int, last: int, report: Reporter | None = None
) -> list[ArchiveFile]:
    """The archive files in ``dirs`` that hold records ``first..last``, in order.

    Each is checked against the catalog's row for it (range, SHA-256) when
    there is one; the records' CRCs are checked by whoever reads them.

    Raises:
        ArchiveError: some of the records are in no file, or a file is damaged.
    """
    files = sorted(scan(dirs, report).values(), key=lambda f: f.segment.first_seq)
    entries = {e.name: e for e in store.archived_segments()}
    chosen: list[ArchiveFile] = []
    expected = first
    while expected <= last:
        header = next((f for f in files if f.segment.first_seq <= expected <= f.segment.last_seq), None)
        if header is None:
            shown = ", ".join(str(d) for d in dirs)
            hint = next(
                (f" (the catalog says they went to {e.file})" for e in entries.values()
                 if e.first_seq <= expected <= e.last_seq), "",
            )  # fmt: skip
            raise ArchiveError(f"archived records {expected}..{last} are in no archive file in {shown}{hint}")
        if header.segment.last_seq > last:
            raise ArchiveError(
                f"{header.path}: records {header.segment.first_seq}..{header.segment.last_seq} overlap the "
                f"live journal, which starts at seq {last + 1}"
            )
        _check_against_catalog(header, entries)
        chosen.append(header)
        expected = header.segment.last_seq + 1
    return chosen


def restore(store: Store, dirs: Sequence[Path], *, report: Reporter | None = None) -> list[tuple[ArchiveFile, str]]:
    """Put every archived segment the catalog lists back into the live journal from ``dirs``.

    All files are found and fully checked (catalog range, SHA-256, every
    record's CRC) before anything changes; then segments go back newest first,
    each in one commit, so the live catalog stays contiguous at every step.
    Returns ``(file, live location)`` per segment restored. The archive files
    are left in place.

    Raises:
        ArchiveError: a file is missing or damaged (nothing restored).
    """
    private_umask()  # the restored live segments are the owner's only, like the rest of the home
    entries = sorted(store.archived_segments(), key=lambda e: e.first_seq, reverse=True)
    if not entries:
        return []
    live = store.segments()
    files = scan(dirs, report)
    expected_end = live[0].first_seq - 1 if live else entries[0].last_seq
    checked: list[tuple[ArchivedSegment, ArchiveFile]] = []
    by_name = {e.name: e for e in entries}
    for entry in entries:
        if entry.last_seq != expected_end:
            raise ArchiveError(
                f"the archive catalog has no segment ending at seq {expected_end} (next is "
                f"{entry.first_seq}..{entry.last_seq}): cannot restore a contiguous journal"
            )
        header = files.get(entry.name)
        if header is None:
            shown = ", ".join(str(d) for d in dirs)
            raise ArchiveError(
                f"archived segment {entry.name} (records {entry.first_seq}..{entry.last_seq}, written to "
                f"{entry.file}) is not in {shown}"
            )
        _check_against_catalog(header, by_name)
        check_file(header.path, header.segment)
        checked.append((entry, header))
        expected_end = entry.first_seq - 1
    done = []
    for entry, header in checked:
        segment = store.restore_segment(entry, _check_records(str(header.path), header.segment,
                                                              read_records(header.path)))  # fmt: skip
        done.append((header, store.segment_location(segment)))
    return done
