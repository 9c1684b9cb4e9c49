"""How ``exch serve`` serves the web client: a fixed table of files, strict headers, no traversal."""

from __future__ import annotations

import http.client
import re
from pathlib import Path

import pytest

from exchange.serving.http import CONTENT_SECURITY_POLICY
from exchange.web import FILES
from tests.gateway.conftest import Exchange, MakeExchange, StartProc, ca_context

WEB_DIR = Path(__file__).resolve().parents[2] / "exchange" / "web"


def _fetch(home: Path, port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str],
                                                                                           bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ca_context(home), timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_every_file_is_served_with_its_type_a_strict_policy_and_an_etag(exchange: Exchange) -> None:
    for f in FILES:
        status, headers, body = _fetch(exchange.home, exchange.port, f.path)
        assert status == 200, f.path
        assert body == (WEB_DIR / f.resource).read_bytes(), f.path
        assert headers["content-type"] == f.content_type
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "default-src 'none'" in CONTENT_SECURITY_POLICY and "connect-src 'self'" in CONTENT_SECURITY_POLICY
        assert "unsafe" not in CONTENT_SECURITY_POLICY
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-cache"
        assert re.fullmatch(r'"[0-9a-f]{32}"', headers["etag"])
        # The browser's copy is current: 304 without a body.
        status, again, body = _fetch(exchange.home, exchange.port, f.path, {"If-None-Match": headers["etag"]})
        assert (status, body, again["etag"]) == (304, b"", headers["etag"])
        status, _, _ = _fetch(exchange.home, exchange.port, f.path, {"If-None-Match": '"0123"'})
        assert status == 200


@pytest.mark.parametrize("path", [
    "/index.html", "/assets/", "/assets", "/__init__.py", "/assets/__init__.py", "/assets/../__init__.py",
    "/assets/%2e%2e/__init__.py", "/assets/vendor/LICENSE-lightweight-charts", "/assets/vendor/../app.js",
    "//assets/app.js", "/assets/app.js/", "/assets/APP.JS", "/../../etc/passwd", "/assets/..%2f..%2fetc%2fpasswd",
])
def test_only_the_table_is_served(exchange: Exchange, path: str) -> None:
    status, headers, body = _fetch(exchange.home, exchange.port, path)
    assert status == 404, path
    assert headers["content-type"] == "text/plain"
    assert b"not found" in body


def test_a_query_string_does_not_change_the_file(exchange: Exchange) -> None:
    status, headers, body = _fetch(exchange.home, exchange.port, "/?symbol=ACME")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"<title>exch</title>" in body


def test_web_false_serves_no_page_but_health_and_websockets(make_exchange: MakeExchange) -> None:
    ex = make_exchange(web=False)
    for f in FILES:
        assert _fetch(ex.home, ex.port, f.path)[0] == 404
    assert _fetch(ex.home, ex.port, "/healthz")[0] == 200


def test_exch_serve_no_web_turns_the_page_off(proc_server: StartProc, tmp_path: Path) -> None:
    off = proc_server(tmp_path / "off", "--no-web")
    status, _, body = _fetch(off.home, off.port, "/")
    assert status == 404 and b"/healthz" in body
    assert "web client at" not in off.output()
    on = proc_server(tmp_path / "on")
    assert _fetch(on.home, on.port, "/")[0] == 200
    assert f"web client at https://127.0.0.1:{on.port}/" in on.output()


def test_the_table_lists_every_file_of_the_package_and_every_reference_resolves() -> None:
    """A module imported, or a file linked, but missing from FILES would 404 in the browser."""
    served = {f.path for f in FILES}
    shipped = {p.relative_to(WEB_DIR).as_posix() for p in WEB_DIR.rglob("*")
               if p.is_file() and p.suffix not in (".py", ".pyc") and not p.name.startswith("LICENSE")}
    assert shipped == {f.resource for f in FILES}
    for f in FILES:
        text = (WEB_DIR / f.resource).read_text(encoding="utf-8")
        base = f.path.rsplit("/", 1)[0]
        for ref in re.findall(r'from\s+"(\.[^"]+)"', text):
            target = base + "/" + ref.removeprefix("./")
            assert target in served, f"{f.resource} imports {ref}, which is not served"
        for ref in re.findall(r'(?:href|src)="(/[^"]*)"', text):
            assert ref in served, f"{f.resource} links {ref}, which is not served"
