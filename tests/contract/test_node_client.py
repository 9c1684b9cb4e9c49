"""Issue #14: the Node.js example client in docs/examples/node trades against a real server.

Skipped (with the reason) when Node.js or npm is missing, or when ``npm ci``
cannot install ``ws``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gateway.conftest import Exchange

pytestmark = pytest.mark.timeout(120)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "node"


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with its dependencies installed (``npm ci`` in a copy, unless already installed)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not installed: the Node example client is not tested")
    if (EXAMPLE / "node_modules" / "ws").is_dir():
        return EXAMPLE
    copy = tmp_path_factory.mktemp("node") / "client"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("node_modules"))
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=copy, capture_output=True, text=True,
                            timeout=100, check=False)
    if result.returncode != 0:
        pytest.skip(f"npm ci failed (offline?): {result.stderr.strip().splitlines()[-1:]}")
    return copy


async def run_client(client: Path, ex: Exchange, user: str, password: str, **extra: str) -> str:
    env = {**os.environ, "EXCH_URL": ex.url, "EXCH_CA": str(ex.home / "tls" / "ca.pem"),
           "EXCH_USER": user, "EXCH_PASSWORD": password, **extra}
    proc = await asyncio.create_subprocess_exec(
        "node", "client.mjs", cwd=client, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_the_node_client_rests_an_order_and_shows_it_in_its_book(node_client: Path, exchange: Exchange) -> None:
    name, password = await exchange.add_user(cash=100_000)
    out = await run_client(node_client, exchange, name, password, EXCH_PRICE="250", EXCH_QTY="3")
    assert f"logged in as {name} (trader)" in out
    assert "open, 3 open" in out
    assert "bids [[250,3]] asks []" in out
    assert "cash 100000 (held 750), ACME 0 (held 0)" in out


async def test_the_node_client_trades_and_sees_its_fill_and_done(node_client: Path, exchange: Exchange) -> None:
    seller = await exchange.trader(shares={"ACME": 10})
    await seller.order("ACME", "sell", 4, price=120)
    name, password = await exchange.add_user(cash=100_000)
    out = await run_client(node_client, exchange, name, password, EXCH_PRICE="130", EXCH_QTY="4")
    assert "fill 4 @ 120 (taker), 0 left" in out
    assert "done: filled" in out
    assert "cash 99520 (held 0), ACME 4 (held 0)" in out


async def test_the_node_client_reports_an_error_in_one_line(node_client: Path, exchange: Exchange) -> None:
    name, password = await exchange.add_user(cash=10)
    env = {**os.environ, "EXCH_URL": exchange.url, "EXCH_CA": str(exchange.home / "tls" / "ca.pem"),
           "EXCH_USER": name, "EXCH_PASSWORD": password, "EXCH_PRICE": "250"}
    proc = await asyncio.create_subprocess_exec("node", "client.mjs", cwd=node_client, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert err.decode().strip().splitlines() == ["error: insufficient_funds: needs $2.50, $0.10 available"]
