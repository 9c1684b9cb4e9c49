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
from collections.abc import Sequence
from typing import IO, Any, Final, NamedTuple

CHUNK = 8_192
"""Records per frame."""

HEAD: Final = struct.Struct("<BqI")
"""A frame's header: kind, first seq of the chunk, size of the pickled body."""

DATA: Final = 1
"""Checked records: the body is ``(ts list, payload list)``, seqs from ``first``."""
END: Final = 2
"""The segment's stored records (after the start) are exhausted, all checked."""
STOP: Final = 3
"""The helper stopped at seq ``first`` (the replay reads on by itself from there)."""

_RECORD_HEADER: Final = struct.Struct("<qq")  # exchange.store.base.RECORD_HEADER (no package import here)


class Chunk(NamedTuple):
    """Records ``first``, ``first + 1``, … whose seq and CRC-32 the helper checked."""

    first: int
    ts: list[int]
    payload: list[bytes]


# ------------------------------------------------------------------- helper side


def _send(out: IO[bytes], kind: int, first: int, body: bytes = b"") -> None:
    out.write(HEAD.pack(kind, first, len(body)))
    out.write(body)


def _read_segment(out: IO[bytes], path: str, expected: int, stop: int, chunk: int) -> tuple[int, bool]:
    """Stream the segment's checked records from ``expected`` on; return (next expected, clean)."""
    crc32 = zlib.crc32
    pack = _RECORD_HEADER.pack
    conn = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        cur = conn.execute("SELECT seq, ts, crc, payload FROM records WHERE seq > ? ORDER BY seq", (expected - 1,))
        while rows := cur.fetchmany(chunk):
            seqs, tss, crcs, payloads = zip(*rows, strict=True)
            good = len(rows)
            if seqs != tuple(range(expected, expected + good)):
                good = next(i for i, s in enumerate(seqs) if s != expected + i)
            computed = list(map(crc32, payloads[:good], map(crc32, map(pack, seqs[:good], tss[:good]))))
            if computed != list(crcs[:good]):
                good = next(i for i, (a, b) in enumerate(zip(computed, crcs, strict=False)) if a != b)
            good = min(good, stop - expected + 1)
            if good:
                body = (list(tss[:good]), list(payloads[:good]))
                _send(out, DATA, expected, pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL))
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
    expected: int = job["start"]
    stop: int = job["stop"]
    paths: list[tuple[str, int]] = job["segments"]
    for index, (path, last_seq) in enumerate(paths):
        if last_seq < expected and index != len(paths) - 1:
            continue
        if expected > stop:
            return
        try:
            expected, clean = _read_segment(out, path, expected, stop, job["chunk"])
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

    Use :meth:`chunks` once per segment, in the replay's order, while
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
        job = {"start": start, "stop": stop, "chunk": CHUNK, "segments": [(str(p), last) for p, last in segments]}
        try:
            self._proc.stdin.write(pickle.dumps(job))
            self._proc.stdin.close()
        except OSError:
            self.close()
        self.alive = True

    def _frame(self) -> tuple[int, int, bytes]:
        head = self._out.read(HEAD.size)
        if len(head) < HEAD.size:
            return STOP, -1, b""
        kind, first, size = HEAD.unpack(head)
        body = self._out.read(size) if size else b""
        if len(body) < size:
            return STOP, -1, b""
        return kind, first, body

    def next(self, expected: int) -> Chunk | None:
        """The next checked chunk of the current segment, starting at ``expected``.

        ``None`` when the segment is done (``alive`` still set) or when the helper
        stopped or failed (``alive`` cleared: the caller reads on by itself).
        """
        if not self.alive:
            return None
        try:
            kind, first, body = self._frame()
        except (OSError, ValueError):
            kind, first, body = STOP, -1, b""
        if kind == DATA and first == expected:
            try:
                ts, payload = pickle.loads(body)
            except Exception:
                self.close()
                return None
            if len(ts) == len(payload) and 0 < len(ts) <= self._stop - first + 1:
                return Chunk(first, ts, payload)
            self.close()
            return None
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
        with contextlib.suppress(OSError):
            self._out.close()
        proc.wait()


def helper_available() -> bool:
    """Whether a helper process can be started (a Python executable is known)."""
    return bool(sys.executable) and os.path.exists(sys.executable)


if __name__ == "__main__":
    main()
