"""Fixtures of the web client's tests: a real server and a real Chromium.

- The gateway's server fixtures (``exchange``, ``make_exchange``, ``proc_server``).
- ``open_browser(home)``: Debian's ``/usr/bin/chromium`` driven by playwright-core
  (``tests/web/driver.mjs`` under Node), trusting exactly the server certificate of
  ``home`` (an SPKI pin, not "ignore all certificate errors"), with a new empty
  profile. Screenshots go to ``tests/artifacts/web/``.

What the browser tests need — ``/usr/bin/chromium``, ``node``, and
``tests/web/node_modules/playwright-core`` (``npm ci --prefix tests/web``) — is
installed by ``.ci/run``; where one is missing the tests skip saying which,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.gateway.conftest import exchange, make_exchange, proc_server  # noqa: F401  (fixtures)

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent / "artifacts" / "web"
CHROMIUM = Path(os.environ.get("EXCH_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1280, "height": 800}


def missing_browser_parts() -> list[str]:
    """What the browser tests need and this machine lacks (empty: all there)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    if shutil.which("node") is None:
        missing.append("node (apt-get install -y nodejs npm)")
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        missing.append("playwright-core (npm ci --prefix tests/web)")
    return missing


def need(parts: list[str]) -> None:
    """Skip (or under CI fail) when ``parts`` is not empty."""
    if parts:
        message = "the browser tests need " + ", ".join(parts)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def spki_pin(cert_pem: Path) -> str:
    """Chromium's ``--ignore-certificate-errors-spki-list`` value for this certificate."""
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Browser:
    """One Chromium page; ``call("goto", url)`` runs a Playwright ``Page`` method."""

    def __init__(self, proc: subprocess.Popen[str], name: str) -> None:
        self.proc = proc
        self.name = name
        self.shots: list[Path] = []
        self.seq = 0
        self.first_reply = self._read()

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the browser driver exited ({self.proc.poll()})")
        reply = json.loads(line)
        if reply.get("seq") != self.seq:
            raise RuntimeError(f"browser driver answered request {reply.get('seq')}, not {self.seq}: {line[:200]}")
        if not reply["ok"]:
            raise AssertionError(f"browser: {reply['error']}")
        return reply["value"]

    def call(self, method: str, *args: Any) -> Any:
        """Run ``page.METHOD(*args)`` and return its (JSON) value; a Playwright error raises."""
        assert self.proc.stdin is not None
        self.seq += 1
        self.proc.stdin.write(json.dumps({"seq": self.seq, "method": method, "args": list(args)}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def text(self, selector: str) -> str:
        """The text of the first element matching ``selector``."""
        return str(self.call("textContent", selector) or "")

    def wait_for(self, js: str, arg: Any = None, timeout_ms: int = 15000) -> None:
        """Wait until the JS function ``js`` (called with ``arg``) is truthy in the page."""
        self.call("waitForFunction", js, arg, {"timeout": timeout_ms})

    def wait_text(self, selector: str, text: str, timeout_ms: int = 15000) -> None:
        """Wait until the element matching ``selector`` contains ``text``."""
        self.wait_for("([sel, text]) => (document.querySelector(sel)?.textContent ?? '').includes(text)",
                      [selector, text], timeout_ms)

    async def until(self, js: str, arg: Any = None) -> None:
        """:meth:`wait_for` off the event loop (so the test's client sessions keep reading)."""
        await asyncio.to_thread(self.wait_for, js, arg)

    async def until_text(self, selector: str, text: str) -> None:
        """:meth:`wait_text` off the event loop."""
        await asyncio.to_thread(self.wait_text, selector, text)

    def screenshot(self, step: str) -> Path:
        """Save the page as ``tests/artifacts/web/NAME-STEP.png``."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{step}.png"
        self.call("screenshot", {"path": str(path)})
        self.shots.append(path)
        return path

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(RuntimeError, AssertionError, OSError, ValueError):
                self.call("close")
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)


OpenBrowser = Callable[[Path], Browser]


@pytest.fixture
def open_browser(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OpenBrowser]:
    """``open_browser(home)``: a fresh Chromium trusting the certificate of the server on ``home``."""
    need(missing_browser_parts())
    opened: list[Browser] = []

    def start(home: Path) -> Browser:
        profile = tmp_path / f"chromium-profile-{len(opened)}"
        profile.mkdir()
        pin = spki_pin(home / "tls" / "server.pem")
        options = {
            "executablePath": str(CHROMIUM),
            "userDataDir": str(profile),
            "args": [*CHROMIUM_FLAGS, f"--ignore-certificate-errors-spki-list={pin}"],
            "viewport": VIEWPORT,
        }
        proc = subprocess.Popen(
            ["node", str(HERE / "driver.mjs"), json.dumps(options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE,
        )
        browser = Browser(proc, request.node.name)
        opened.append(browser)
        return browser

    yield start
    for b in opened:
        with contextlib.suppress(RuntimeError, AssertionError, OSError, ValueError):
            b.screenshot("last")  # the page as the test left it (a failure's evidence)
            (ARTIFACTS / f"{b.name}-console.json").write_text(json.dumps(b.call("logs"), indent=1))
        b.close()
