"""Server behaviour a local book relies on, found while building the client's BookKeeper."""

from __future__ import annotations

import asyncio
from pathlib import Path

from exchange.protocol import (
    L3Message,
    Message,
    OrderRequest,
    SubscribedReply,
    SubscribeRequest,
    UnsubscribedReply,
    UnsubscribeRequest,
)

from .localbook_helpers import Market


async def _pipelined_unsubscribe(root: Path) -> list[Message]:
    market = await Market.start(root, traders=2)
    try:
        s, other = market.traders
        pushed: list[Message] = []
        s.on_message(pushed.append)
        replies = await s.batch([
            OrderRequest(symbol="ACME", side="buy", qty=1, price=90),  # leaves a commit pending
            SubscribeRequest(channels=["level3"], symbols=["ACME"]),
            UnsubscribeRequest(channels=["level3"], symbols=["ACME"]),
        ])
        assert isinstance(replies[1], SubscribedReply) and isinstance(replies[2], UnsubscribedReply)
        await other.order("ACME", "buy", 1, price=91)
        await s.ping()  # everything published before the pong came first on this connection
        return [m for m in pushed if isinstance(m, L3Message)]
    finally:
        await market.close()


def test_an_unsubscribe_pipelined_after_a_subscribe_ends_it(tmp_path: Path) -> None:
    assert asyncio.run(_pipelined_unsubscribe(tmp_path)) == []
