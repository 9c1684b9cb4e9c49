"""The gateway suite's fixtures (a real server over TLS, every frame validated), for the contract tests."""

from tests.gateway.conftest import contract, exchange, make_exchange, proc_server

__all__ = ["contract", "exchange", "make_exchange", "proc_server"]
