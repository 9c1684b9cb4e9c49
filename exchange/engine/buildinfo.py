"""Which build of the engine is running: the mypyc-compiled modules or the pure-Python source.

``pip install .`` compiles :data:`COMPILED_MODULES` with mypyc (``setup.py``)
and records the outcome in :data:`NOTE_FILE` next to this module; the build
that is imported is told by the modules' files (an extension module or a
``.py``). ``EXCH_PURE=1`` makes an installed compiled engine import its
``.py`` source instead: importing this module (the package imports it first)
puts a finder for those ``.py`` files in front of ``sys.meta_path``.

Standard library only: ``setup.py`` reads :data:`COMPILED_MODULES` and
:data:`NOTE_FILE` from this file before anything is installed.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path
from types import ModuleType
from typing import Final, NamedTuple

__all__ = [
    "COMPILED_MODULES",
    "NOTE_FILE",
    "PACKAGE",
    "PURE_ENV",
    "Build",
    "engine_build",
    "pure_requested",
]

PACKAGE: Final = "exchange.engine"
"""The package whose modules are compiled."""

COMPILED_MODULES: Final = ("events", "book", "accounts", "limits", "core")
"""The modules of ``exchange.engine`` that mypyc compiles (the hot path)."""

NOTE_FILE: Final = "build.json"
"""What the build wrote: ``{"mypyc": "compiled" | "turned off by EXCH_MYPYC=0" | "failed: REASON"}``."""

PURE_ENV: Final = "EXCH_PURE"
"""``EXCH_PURE=1``: import the engine's ``.py`` source even where the compiled modules are installed."""


class Build(NamedTuple):
    """The engine build in use: ``compiled`` and a one-line description."""

    compiled: bool
    description: str


def pure_requested() -> bool:
    """Whether ``EXCH_PURE=1`` asks for the pure-Python engine."""
    return os.environ.get(PURE_ENV, "") == "1"


def _build_note() -> str:
    """What the build recorded about compiling, or ``""`` (a source checkout, or an unreadable note)."""
    try:
        data = json.loads((Path(__file__).with_name(NOTE_FILE)).read_text())
    except (OSError, ValueError):
        return ""
    note = data.get("mypyc", "") if isinstance(data, dict) else ""
    return note if isinstance(note, str) else ""


def engine_build() -> Build:
    """Whether the imported engine modules are compiled, and why not when they are not."""
    files = [str(importlib.import_module(f"{PACKAGE}.{name}").__file__) for name in COMPILED_MODULES]
    compiled = [any(f.endswith(suffix) for suffix in EXTENSION_SUFFIXES) for f in files]
    if all(compiled):
        return Build(True, "compiled (mypyc)")
    if any(compiled):
        mixed = ", ".join(name for name, c in zip(COMPILED_MODULES, compiled, strict=True) if c)
        return Build(False, f"partly compiled ({mixed} only): reinstall exch")
    note = _build_note()
    if pure_requested() and note == "compiled":
        return Build(False, f"pure Python ({PURE_ENV}=1; the compiled engine is installed)")
    if note.startswith(("turned off", "failed")):
        return Build(False, f"pure Python (compiling {note})")
    return Build(False, "pure Python")


class _SourceFinder:
    """Finds the compiled modules of ``exchange.engine`` as their ``.py`` files (``EXCH_PURE=1``)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """The source spec of ``exchange.engine.<compiled module>``; ``None`` for any other module."""
        package, _, name = fullname.rpartition(".")
        source = Path(__file__).with_name(f"{name}.py")
        if package != PACKAGE or name not in COMPILED_MODULES or not source.is_file():
            return None
        return spec_from_file_location(fullname, source)


if pure_requested():
    sys.meta_path.insert(0, _SourceFinder())
