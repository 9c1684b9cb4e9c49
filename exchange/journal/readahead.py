"""Read-ahead for replay: a helper process reads and checks SQLite segments.

Reading a record costs more in CPython than one would think: building the
row (three ints and a bytes object) and checking its CRC-32 take about as long
as decoding it, all of it holding the GIL, so a reader *thread* would gain
nothing on the engine's thread. A helper *process* gets a core of its own: it
reads the segment files the replay will need, in the replay's order, checks
every record exactly as replay does (the next seq, the CRC-32 of seq, ts and
payload) and streams the records that pass, in chunks, to the replaying
process, which then only decodes and applies them.

The helper only accelerates; it never decides anything. At the first record it
cannot vouch for (a gap, a checksum mismatch, a file it cannot open or read) it
stops, and the replay reads that segment from the store itself from the
record it had reached, so every damaged or missing record goes through the
replay's own checks and gets the same verdict and message as without the
helper. If the helper cannot be started or dies, the replay carries on the
same way.

Run as a script (``python -I readahead.py``, stdlib only, so it starts in a few
milliseconds): the job comes pickled on stdin, frames go to stdout.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sqlite3
import struct
import subprocess
import sys
import urllib.parse
import zlib
from array import array
from collections.abc import Sequence
from operator import itemgetter
from typing import IO, Any, Final, NamedTuple

CHUNK = 8_192
"""Records per frame."""

HEAD: Final = struct.Struct("<BqII")
"""A frame's header: kind, first seq of the chunk, records in it, size of the body."""

DATA: Final = 1
"""Checked records ``first``, ``first + 1``, …: the body is their ``ts`` (native int64s)
followed by their payloads as one msgpack array (an array32 header, then the payloads as stored)."""
END: Final = 2
"""The segment's stored records (after the start) are exhausted, all checked."""
STOP: Final = 3
"""The helper stopped at seq ``first`` (the replay reads on by itself from there)."""

_RECORD_HEADER: Final = struct.Struct("<qq")  # exchange.store.base.RECORD_HEADER (no package import here)
_ARRAY32: Final = struct.Struct(">BI")  # msgpack array32 header
_COLUMNS: Final = tuple(map(itemgetter, range(4)))  # seq, ts, crc, payload of a row


class Chunk(NamedTuple):
    """Records ``first``, ``first + 1``, … whose seq and CRC-32 the helper checked."""

    first: int
    ts: list[int]
    commands: memoryview
    """Their payloads as one msgpack array: decoding it is decoding each payload (the helper
    checked that each is exactly one msgpack value), in one call."""


# ------------------------------------------------------------------- helper side


def _send(out: IO[bytes], kind: int, first: int, count: int = 0, *body: bytes) -> None:
    out.write(HEAD.pack(kind, first, count, sum(map(len, body))))
    for part in body:
        out.write(part)


def _payload_array(payloads: Sequence[bytes], values: Any) -> bytes | None:
    """The payloads as one msgpack array, if each is exactly one msgpack value (else None).

    Only then does decoding the array decode each payload as it would alone: a
    payload that is a truncated value, or a value followed by more bytes, would
    borrow from or lend to its neighbours.
    """
    array = _ARRAY32.pack(0xDD, len(payloads)) + b"".join(payloads)
    try:
        raw = values(array)
    except Exception:
        return None
    return array if list(map(len, raw)) == list(map(len, payloads)) else None


def _read_segment(out: IO[bytes], path: str, expected: int, stop: int, chunk: int, values: Any) -> tuple[int, bool]:
    """Stream the segment's checked records from ``expected`` on; return (next expected, clean)."""
    crc32 = zlib.crc32
    pack = _RECORD_HEADER.pack
    conn = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        cur = conn.execute("SELECT seq, ts, crc, payload FROM records WHERE seq > ? ORDER BY seq", (expected - 1,))
        while rows := cur.fetchmany(chunk):
            n = len(rows)
            seqs, tss, crcs, payloads = (list(map(column, rows)) for column in _COLUMNS)
            good = n
            if seqs != list(range(expected, expected + n)):
                good = next(i for i, s in enumerate(seqs) if s != expected + i)
            computed = list(map(crc32, payloads, map(crc32, map(pack, seqs, tss))))
            if computed != crcs:
                good = min(good, next(i for i, (a, b) in enumerate(zip(computed, crcs, strict=True)) if a != b))
            good = min(good, stop - expected + 1)
            if good < n:
                tss, payloads = tss[:good], payloads[:good]
            if good:
                commands = _payload_array(payloads, values)
                if commands is None:
                    return expected, False
                _send(out, DATA, expected, good, array("q", tss).tobytes(), commands)
                expected += good
            if expected > stop:
                return expected, True
            if good < len(rows):
                return expected, False
        return expected, True
    finally:
        conn.close()


def _serve(job: dict[str, Any], out: IO[bytes]) -> None:
    """Mirror :func:`exchange.journal.recovery.replay`'s walk over the segments."""
    sys.path[:] = job["path"]  # find msgspec where the replaying process does
    import msgspec

    values = msgspec.msgpack.Decoder(list[msgspec.Raw]).decode
    expected: int = job["start"]
    stop: int = job["stop"]
    paths: list[tuple[str, int]] = job["segments"]
    for index, (path, last_seq) in enumerate(paths):
        if last_seq < expected and index != len(paths) - 1:
            continue
        if expected > stop:
            return
        try:
            expected, clean = _read_segment(out, path, expected, stop, job["chunk"], values)
        except Exception:  # any trouble is the replay's to find and name
            clean = False
        if not clean:
            _send(out, STOP, expected)
            return
        _send(out, END, expected)
    out.flush()


def main() -> None:
    """The helper process: job on stdin, frames on stdout."""
    job = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    with contextlib.suppress(BrokenPipeError):
        _serve(job, out)
        out.flush()


# ------------------------------------------------------------------- replay side


def _widen_pipe(fd: int) -> None:
    """Let about 1 MiB wait in the pipe (Linux), so the helper blocks less often."""
    try:
        import fcntl
    except ImportError:  # not on POSIX
        return
    size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, size, 1 << 20)


class ReadAhead:
    """The replay's end of a helper process reading ``segments`` (file, last_seq) from ``start``.

    Ask :meth:`next` for the chunks of each segment in the replay's order while
    :attr:`alive`; :meth:`close` always.
    """

    def __init__(self, segments: Sequence[tuple[str, int]], *, start: int, stop: int) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-I", __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._out = self._proc.stdout
        _widen_pipe(self._out.fileno())
        self._stop = stop
        self.alive = True
        files = [(str(path), last) for path, last in segments]
        job = {"path": sys.path, "start": start, "stop": stop, "chunk": CHUNK, "segments": files}
        try:
            self._proc.stdin.write(pickle.dumps(job))
            self._proc.stdin.close()
        except OSError:
            self.close()

    def _frame(self) -> tuple[int, int, int, bytes]:
        head = self._out.read(HEAD.size)
        if len(head) < HEAD.size:
            return STOP, -1, 0, b""
        kind, first, count, size = HEAD.unpack(head)
        body = self._out.read(size) if size else b""
        if len(body) < size:
            return STOP, -1, 0, b""
        return kind, first, count, body

    def next(self, expected: int) -> Chunk | None:
        """The next checked chunk of the current segment, starting at ``expected``.

        ``None`` when the segment is done (``alive`` still set) or when the helper
        stopped or failed (``alive`` cleared: the caller reads on by itself).
        """
        if not self.alive:
            return None
        try:
            kind, first, count, body = self._frame()
        except (OSError, ValueError):
            kind, first, count, body = STOP, -1, 0, b""
        if kind == DATA and first == expected and 0 < count <= self._stop - first + 1 and len(body) > 8 * count:
            view = memoryview(body)
            return Chunk(first, view[: 8 * count].cast("q").tolist(), view[8 * count :])
        if kind != END or first != expected:
            self.close()
        return None

    def close(self) -> None:
        """Stop the helper (if still running) and reap it."""
        self.alive = False
        proc = self._proc
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()
        for pipe in (proc.stdin, self._out):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        proc.wait()


def helper_available() -> bool:
    """Whether a helper process is possible and useful: a Python executable is known and
    this process may run on at least two CPUs (on one, the helper would only add work)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return cpus >= 2 and bool(sys.executable) and os.path.exists(sys.executable)


if __name__ == "__main__":
    main()
