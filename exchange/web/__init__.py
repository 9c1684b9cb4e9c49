"""The browser trading client that ``exch serve`` serves at ``https://HOST:PORT/``.

Plain ES modules, a stylesheet and one vendored charting library, shipped as
package data and served from a fixed table (:data:`FILES`): a URL path maps
to one file of this package, so no request path is ever joined to a
directory. See ``docs/web.md``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

__all__ = ["FILES", "WebAsset", "WebFile", "load_assets"]

JS: Final = "text/javascript; charset=utf-8"


@dataclass(frozen=True)
class WebFile:
    """One served file: its URL ``path``, the ``resource`` under this package, its content type."""

    path: str
    resource: str
    content_type: str


FILES: Final = (
    WebFile("/", "index.html", "text/html; charset=utf-8"),
    WebFile("/assets/style.css", "style.css", "text/css; charset=utf-8"),
    WebFile("/assets/favicon.svg", "favicon.svg", "image/svg+xml"),
    WebFile("/assets/app.js", "app.js", JS),
    WebFile("/assets/wire.js", "wire.js", JS),
    WebFile("/assets/book.js", "book.js", JS),
    WebFile("/assets/money.js", "money.js", JS),
    WebFile("/assets/depth.js", "depth.js", JS),
    WebFile("/assets/candles.js", "candles.js", JS),
    WebFile("/assets/dom.js", "dom.js", JS),
    WebFile("/assets/vendor/lightweight-charts.mjs", "vendor/lightweight-charts.mjs", JS),
)
"""Every file the page needs, and nothing else."""


@dataclass(frozen=True)
class WebAsset:
    """A file read into memory, with its strong ``etag`` (a hash of the bytes)."""

    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, WebAsset]:
    """Read every file of :data:`FILES` from the installed package, keyed by URL path."""
    root = resources.files(__name__)
    assets: dict[str, WebAsset] = {}
    for f in FILES:
        body = root.joinpath(f.resource).read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[f.path] = WebAsset(body, f.content_type, etag)
    return assets
