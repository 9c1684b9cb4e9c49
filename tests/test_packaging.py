"""What `pip install .` ships: every file the apps read at run time."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _installed() -> metadata.Distribution:
    """The exch distribution in this interpreter's site-packages (not a checkout's egg-info)."""
    found = list(metadata.distributions(name="exch", path=[sysconfig.get_paths()["purelib"]]))
    if not found:
        pytest.skip("exch is not installed into this interpreter's site-packages (a develop install)")
    dist = found[0]
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    if direct.get("dir_info", {}).get("editable"):
        pytest.skip("exch is installed editable here (pip install -e): its files stay in the checkout")
    return dist


def test_stylesheets_and_entry_point_are_in_the_installed_distribution() -> None:
    dist = _installed()
    installed = {str(f) for f in dist.files or ()}
    data = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("*/**/*.tcss")
                  if not {".venv", "build", "site-packages"} & set(p.parts))
    assert data, "no stylesheets found in the checkout"
    missing = [path for path in data if path not in installed]
    assert not missing, f"not shipped by `pip install .`: {missing}"
    assert any(ep.name == "exch" for ep in dist.entry_points), "the exch command is not installed"


def _c_compiler() -> str | None:
    """The C compiler a build here would use (``$CC``, else Python's configured one), if it runs."""
    cc = os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc")
    return shutil.which(cc.split()[0])


def _skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; under CI, where gcc exists, fail instead (CI must test the compiled build)."""
    if os.environ.get("CI") and shutil.which("gcc"):
        pytest.fail(f"under CI with gcc present: {reason}")
    pytest.skip(reason)


def test_the_installed_engine_is_the_compiled_one() -> None:
    """`pip install .` compiled the engine, and the suite tests that build (not the checkout's .py source)."""
    import exchange
    from exchange.engine import engine_build
    from exchange.engine.buildinfo import pure_requested
    from tests.installed import installed_site

    if pure_requested():
        pytest.skip("EXCH_PURE=1: this run tests the pure-Python engine")
    site = installed_site()
    if site is None:
        _skip_or_fail("exch is not installed here from this checkout's sources (pip install '.[test]'); "
                      "the run tests the checkout's pure-Python source")
    assert site is not None
    assert Path(exchange.__file__).resolve().is_relative_to(site.resolve()), (
        f"the installed build is in {site} but the tests import {exchange.__file__}")
    if _c_compiler() is None:
        _skip_or_fail("no C compiler here: `pip install .` installs the pure-Python engine")
    build = engine_build()
    assert build.compiled, f"exch was installed here with a C compiler, yet its engine is {build.description}"


def _exch(*args: str, **env: str) -> str:
    result = subprocess.run([sys.executable, "-m", "exchange", *args], capture_output=True, text=True, timeout=60,
                            env={**os.environ, **env}, stdin=subprocess.DEVNULL)
    assert result.returncode == 0 and result.stderr == "", result
    return result.stdout


def test_version_names_the_version_and_the_engine_build() -> None:
    from exchange import __version__
    from exchange.engine import engine_build

    build = engine_build()
    expected = f"exch {__version__}, engine: {build.description}, Python {platform.python_version()}\n"
    assert _exch("version") == expected
    assert _exch("--version") == expected
    assert ("compiled (mypyc)" in expected) == build.compiled


def test_exch_pure_runs_the_engine_from_its_python_source() -> None:
    probe = ("import exchange.engine.core as c; from exchange.engine import engine_build as b; "
             "print(c.__file__); print(b().description)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "EXCH_PURE": "1"})
    assert result.returncode == 0, result
    core, description = result.stdout.splitlines()
    assert core.endswith("core.py") and description.startswith("pure Python"), result.stdout
    assert _exch("version", EXCH_PURE="1").split(", engine: ")[1].startswith("pure Python")
