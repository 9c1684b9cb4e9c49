"""The apps load only the client, the protocol and small shared modules, never the server.

``exch trade`` and the console run on traders' and operators' machines: importing
them must not pull in the gateway, the matching engine, the journal, the store,
or bcrypt/cryptography (the server's password hashing and certificate making).
Each check runs in a fresh interpreter so nothing imported by the tests counts.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVER_SIDE = (
    "exchange.server",
    "exchange.gateway",
    "exchange.engine",
    "exchange.journal",
    "exchange.store",
    "exchange.ledger",
    "exchange.marketdata",
    "bcrypt",
    "cryptography",
)


def _loaded(module: str) -> list[str]:
    """The server-side modules present in ``sys.modules`` after importing ``module`` alone."""
    code = (
        "import json, sys\n"
        f"import {module}\n"
        f"prefixes = {SERVER_SIDE!r}\n"
        "print(json.dumps(sorted(n for n in sys.modules if any(n == p or n.startswith(p + '.') for p in prefixes))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return list(json.loads(out))


@pytest.mark.parametrize("module", ["client", "client.trade.app", "console.app", "exchange.protocol"])
def test_app_loads_no_server_side_module(module: str) -> None:
    assert _loaded(module) == []


def test_the_check_sees_a_server_import() -> None:
    """The probe itself works: importing the server is reported."""
    assert "exchange.server" in _loaded("exchange.server")


@pytest.mark.parametrize("module", ["exchange.marketdata.server", "exchange.serving.endpoint", "exchange.serving.http"])
def test_market_data_and_serving_load_no_gateway(module: str) -> None:
    """``exch marketdata`` serves from the shared plumbing, not from the gateway's internals."""
    assert [n for n in _loaded(module) if n.startswith(("exchange.gateway", "exchange.server", "exchange.store"))] == []


def test_the_redis_bus_does_not_import_the_in_process_bus() -> None:
    """``bus`` opens ``redisbus`` by URL; ``redisbus`` needs only the contract (no import cycle)."""
    code = "import sys, exchange.marketdata.redisbus; print('exchange.marketdata.bus' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
