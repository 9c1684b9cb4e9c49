"""``exchange/server.py``'s docstring is the diagram of the flow: every name in it is real.

Each ``Class.method`` it names must exist in one of the modules the diagram
points at, and each ``exchange/…`` path must be a file or package of the tree.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import exchange.server

ROOT = Path(exchange.server.__file__).resolve().parent.parent
DOC = exchange.server.__doc__ or ""


def _paths() -> list[str]:
    return sorted(set(re.findall(r"exchange/[\w/]*(?:\.py)?", DOC)))


def _modules() -> list[object]:
    """Every module of the tree the diagram points at (files, and the modules of packages)."""
    found: list[object] = []
    for path in _paths():
        target = ROOT / path
        files = sorted(target.glob("*.py")) if target.is_dir() else [target]
        found.extend(importlib.import_module(".".join(f.relative_to(ROOT).with_suffix("").parts)) for f in files)
    return found


def test_every_path_in_the_diagram_exists() -> None:
    assert _paths()
    missing = [p for p in _paths() if not (ROOT / p).exists()]
    assert missing == []


def test_every_class_and_method_in_the_diagram_exists() -> None:
    names = sorted(set(re.findall(r"\b([A-Z]\w+)\.([a-z_]\w*)\b", DOC)))
    assert names, "the diagram names methods"
    modules = _modules()
    missing = []
    for cls, attr in names:
        owners = [getattr(m, cls) for m in modules if hasattr(m, cls)]
        if not any(hasattr(owner, attr) for owner in owners):
            missing.append(f"{cls}.{attr}")
    assert missing == []
