"""The suite tests the installed build of exch when it is this checkout's code.

``pip install '.[test]'`` then ``pytest`` from the checkout (the README, CI)
would otherwise test the checkout's ``.py`` source: pytest puts the checkout
first on ``sys.path``, and the mypyc-compiled engine lives only in
site-packages. So, before anything imports ``exchange``, ``tests/__init__.py``
calls :func:`prefer_installed`: when this interpreter has a regular (not
editable) install of exch whose every source file is byte-identical to the
checkout's (the hashes in its RECORD), the checkout moves behind site-packages
(``tests`` stays importable) and child processes get the same order
(``PYTHONSAFEPATH=1``, site-packages then the checkout on ``PYTHONPATH``).
Once a source file is edited the hashes differ and the checkout is tested
again, so an edit is never tested against a stale install.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

__all__ = ["ROOT", "installed_site", "prefer_installed"]

ROOT = Path(__file__).resolve().parent.parent
"""The checkout."""

PACKAGES = ("exchange", "client", "console")
"""The checkout's packages that ``pip install .`` ships."""


def _digest(path: Path) -> str:
    """The file's hash as a wheel's RECORD writes it (urlsafe base64 of sha256, unpadded)."""
    raw = hashlib.sha256(path.read_bytes()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sources() -> list[Path]:
    """The checkout's shipped source files (Python and stylesheets)."""
    found: list[Path] = []
    for package in PACKAGES:
        for pattern in ("*.py", "*.tcss"):
            found.extend(p for p in (ROOT / package).rglob(pattern) if "__pycache__" not in p.parts)
    return found


def installed_site() -> Path | None:
    """The site-packages directory of a regular install of exactly this checkout's sources, or ``None``."""
    paths = sysconfig.get_paths()
    for site in dict.fromkeys((paths["purelib"], paths["platlib"])):
        for dist in metadata.distributions(name="exch", path=[site]):
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
            if direct.get("dir_info", {}).get("editable"):
                return None
            record = {str(f): f.hash.value for f in dist.files or () if f.hash is not None}
            sources = _sources()
            if sources and all(record.get(p.relative_to(ROOT).as_posix()) == _digest(p) for p in sources):
                return Path(site)
            return None
    return None


def prefer_installed() -> Path | None:
    """Put the installed copy of this checkout before the checkout on ``sys.path`` (see the module); where it is."""
    if "exchange" in sys.modules:  # too late to choose
        return None
    site = installed_site()
    if site is None:
        return None
    root = str(ROOT)
    sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != ROOT]
    sys.path.append(root)
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != ROOT]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), root, *inherited])
    os.environ["PYTHONSAFEPATH"] = "1"  # `python -m exchange` in the checkout: not the checkout's exchange
    return site
