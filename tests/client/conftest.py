"""Fixtures of the client library's tests (the scripted peer lives in ``client_peer.py``)."""

from __future__ import annotations

import pytest

from .client_peer import ServeFactory, make_scripted


@pytest.fixture
def scripted() -> ServeFactory:
    """``async with scripted(handler[, ssl_context=ctx]) as url``: run a peer, yield its URL."""
    return make_scripted()
