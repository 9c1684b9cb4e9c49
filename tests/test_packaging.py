"""What `pip install .` ships: every file the apps read at run time."""

from __future__ import annotations

import json
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
