"""The exch wire protocol, version 1: requests, messages and their codecs.

Shared by the server, the client library and the apps: this package is the
contract (``docs/protocol.md`` describes it in prose).
"""

from exchange.protocol.messages import *  # noqa: F403
from exchange.protocol.messages import __all__ as _messages_all
from exchange.protocol.requests import *  # noqa: F403
from exchange.protocol.requests import __all__ as _requests_all

PROTOCOL_VERSION = 1

__all__ = ["PROTOCOL_VERSION", *_messages_all, *_requests_all]
