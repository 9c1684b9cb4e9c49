"""Build of exch: the engine's hot modules compiled with mypyc, or pure Python when that cannot be done.

``pip install .`` compiles the modules listed in ``exchange/engine/buildinfo.py``
with mypyc (mypy and the engine's imports are build requirements in
pyproject.toml) and the C compiler. Where compiling is impossible (no working C
compiler, no Python headers, mypyc failing) the install goes on in pure Python,
which passes the same tests, and says so in one line: on the build's output, on
the terminal (pip hides a build's output unless ``-v``) and in ``exch version``.
``EXCH_MYPYC=0`` turns compiling off. The outcome is written next to the
engine's modules (``buildinfo.NOTE_FILE``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import BaseError, CCompilerError

ROOT = Path(__file__).resolve().parent
INFO = runpy.run_path(str(ROOT / "exchange" / "engine" / "buildinfo.py"))
PACKAGE_DIR = Path(*INFO["PACKAGE"].split("."))


def say(line: str) -> None:
    """Print ``line`` to the build's output and, when there is one, to the terminal running pip."""
    print(line, file=sys.stderr, flush=True)
    try:
        with open("/dev/tty", "w") as tty:
            tty.write("\n" + line + "\n")  # after pip's spinner
    except OSError:
        pass


def fell_back(reason: str) -> str:
    """The note of a build that had to fall back to pure Python, announced in one line."""
    say(f"exch: compiling the engine failed ({reason}); installing the pure-Python engine (3-4x slower)")
    return f"failed: {reason}"


COMPILE = os.environ.get("EXCH_MYPYC", "") != "0"
"""Whether to compile at all (``EXCH_MYPYC=0``: no)."""


@functools.cache
def mypyc_extensions() -> tuple[list[Any], str]:
    """The mypyc extensions of the engine and the build's note so far (no extensions: the note says why)."""
    if not COMPILE:
        return [], "turned off by EXCH_MYPYC=0"
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        return [], fell_back(f"mypyc is not installed: {exc}")
    paths = [str(PACKAGE_DIR / f"{name}.py") for name in INFO["COMPILED_MODULES"]]
    try:
        return mypycify(paths, opt_level="3", group_name="exchange_engine"), "compiled"
    except SystemExit:  # mypyc printed the type errors
        return [], fell_back("mypyc could not translate the engine; see the errors above")
    except Exception as exc:
        return [], fell_back(f"mypyc: {type(exc).__name__}: {exc}")


def write_note(base: str, note: str) -> None:
    """Record ``note`` in the engine package under ``base`` (the build's lib, or the checkout in place)."""
    path = Path(base) / PACKAGE_DIR / INFO["NOTE_FILE"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mypyc": note}) + "\n")


class BuildPy(build_py):
    """Copies the packages; with compiling turned off, records that (else ``BuildExt`` records the outcome)."""

    def run(self) -> None:
        super().run()
        if not COMPILE:
            write_note(str(ROOT) if self.editable_mode else self.build_lib, mypyc_extensions()[1])


class BuildExt(build_ext):
    """Translates the engine with mypyc only when building (not for pip's metadata steps), then compiles it.

    When the C compiler fails, removes what it built and keeps pure Python.
    """

    def finalize_options(self) -> None:
        extensions, self.note = mypyc_extensions()
        self.distribution.ext_modules = list(extensions)
        super().finalize_options()

    def run(self) -> None:
        note = self.note
        if self.extensions:
            try:
                super().run()
            except (CCompilerError, BaseError) as exc:
                for output in self.get_outputs():
                    Path(output).unlink(missing_ok=True)
                note = fell_back(self.reason(exc))
        write_note(str(ROOT) if self.inplace else self.build_lib, note)

    def reason(self, exc: Exception) -> str:
        """Why compiling failed, in a few words (the compiler's own errors are in the build's output)."""
        command = getattr(self.compiler, "compiler_so", None)
        cc = f"C compiler '{command[0]}'" if command else "the C compiler"
        text = " ".join(str(exc).split()) or type(exc).__name__
        if status := re.search(r"exit (?:status|code) (-?\d+)", text):
            return f"{cc} exited with status {status[1]}; pip install -v shows its errors"
        if "No such file or directory" in text:
            return f"{cc} not found"
        return text if len(text) <= 200 else text[:197] + "..."


# Until build_ext translates the engine, a stand-in: it makes the wheel platform-specific and runs build_ext.
PLACEHOLDER = [Extension(f"{INFO['PACKAGE']}.{INFO['COMPILED_MODULES'][-1]}", sources=[])] if COMPILE else []

setup(ext_modules=PLACEHOLDER, cmdclass={"build_py": BuildPy, "build_ext": BuildExt})
