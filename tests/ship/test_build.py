"""setup.py for real on a copy of the checkout: without a working C compiler the build is pure Python and says so.

The mypyc step runs for real (mypy is in the ``test`` extra); the C compiler is
``CC=/bin/false`` (runs and fails) or a path that does not exist (no compiler).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ship.conftest import ROOT

SHIPPED = ("setup.py", "pyproject.toml", "README.md", "exchange", "client", "console")


def _checkout_copy(dest: Path) -> Path:
    """What ``pip install .`` builds from, without build products."""
    dest.mkdir()
    for name in SHIPPED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.so", "build.json"))
        else:
            shutil.copy2(source, dest / name)
    return dest


@pytest.mark.parametrize(("cc", "why"), [
    ("/bin/false", "C compiler '/bin/false' exited with status 1; pip install -v shows its errors"),
    ("/nonexistent/gcc", "C compiler '/nonexistent/gcc' not found"),
], ids=["compiler-fails", "no-compiler"])
def test_build_without_a_working_compiler_is_pure_python_and_says_why(tmp_path: Path, cc: str, why: str) -> None:
    if importlib.util.find_spec("mypyc") is None:
        if os.environ.get("CI"):
            pytest.fail("mypy (mypyc) is not installed: it is in the test extra, pip install '.[test]'")
        pytest.skip("mypy (mypyc) is not installed here: pip install '.[test]'")
    src = _checkout_copy(tmp_path / "src")
    lib = tmp_path / "lib"
    env = {k: v for k, v in os.environ.items() if k not in ("EXCH_MYPYC", "EXCH_PURE", "PYTHONPATH")}
    build = subprocess.run(
        [sys.executable, "setup.py", "build", "--build-lib", str(lib), "--build-temp", str(tmp_path / "tmp")],
        cwd=src, env={**env, "CC": cc}, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        start_new_session=True,  # no terminal: the line the build also writes to /dev/tty stays off the tester's
    )
    assert build.returncode == 0, build.stderr[-3000:]
    said = [line for line in build.stderr.splitlines() if line.startswith("exch: ")]
    assert len(said) == 1, build.stderr[-3000:]
    assert said == [f"exch: compiling the engine failed ({why}); installing the pure-Python engine (3-4x slower)"]
    assert not list(lib.rglob("*.so")), "a failed compile leaves no extension behind"
    assert (lib / "exchange" / "engine" / "core.py").is_file()

    run = subprocess.run(
        [sys.executable, "-m", "exchange", "version"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**env, "PYTHONPATH": str(lib), "PYTHONSAFEPATH": "1"}, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    assert f"engine: pure Python (compiling failed: {why}), Python" in run.stdout, run.stdout


def test_exch_mypyc_0_turns_compiling_off(tmp_path: Path) -> None:
    src = _checkout_copy(tmp_path / "src")
    lib = tmp_path / "lib"
    env = {k: v for k, v in os.environ.items() if k not in ("EXCH_PURE", "PYTHONPATH")}
    build = subprocess.run(
        [sys.executable, "setup.py", "build", "--build-lib", str(lib), "--build-temp", str(tmp_path / "tmp")],
        cwd=src, env={**env, "EXCH_MYPYC": "0"}, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert not list(lib.rglob("*.so")) and not (src / "build" / "exchange").exists(), "nothing was compiled"
    run = subprocess.run(
        [sys.executable, "-m", "exchange", "version"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**env, "PYTHONPATH": str(lib), "PYTHONSAFEPATH": "1"}, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    assert "engine: pure Python (compiling turned off by EXCH_MYPYC=0)" in run.stdout, run.stdout
