"""The gateway suite's fixtures (a real server over TLS), for the contract tests."""

from tests.gateway.conftest import exchange, make_exchange, proc_server

__all__ = ["exchange", "make_exchange", "proc_server"]
