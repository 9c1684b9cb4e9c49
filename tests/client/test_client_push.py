"""Pushed messages: order, callbacks, the bounded drop-oldest queue, and closes."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.server import ServerConnection

from client import Session, SessionClosed
from exchange.protocol import (
    DoneMessage,
    FillMessage,
    L3Message,
    Message,
    PongReply,
    ShutdownMessage,
    SnapshotMessage,
    TickerMessage,
)

from .client_peer import TS, ServeFactory, recv_request, send, ticker

FILL = {"type": "fill", "order_id": 5, "client_order_id": "c5", "symbol": "ACME", "side": "buy",
        "price": 100, "qty": 2, "remaining": 0, "trade_id": 9, "liquidity": "taker", "ts": TS}
DONE = {"type": "done", "order_id": 5, "client_order_id": "c5", "symbol": "ACME", "reason": "filled",
        "remaining": 0, "ts": TS}


async def test_pushed_messages_arrive_in_order_to_callbacks_and_iteration(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        req = await recv_request(ws)
        await send(ws, type="subscribed", id=req.id, channels=["level3"], symbols=["ACME"])
        await send(ws, type="snapshot", channel="level3", symbol="ACME", seq=4, bids=[[1, 100, 5]], asks=[])
        for seq in range(5, 25):
            await send(ws, type="l3", symbol="ACME", seq=seq, event="open", order_id=seq, side="buy",
                       price=100, qty=1)
        await send(ws, **FILL)
        await send(ws, **DONE)
        await send(ws, type="pong", id=999, ts=TS)  # a reply nobody awaits
        await ws.wait_closed()

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True) as s:
        book: list[Message] = []
        everything: list[Message] = []
        remove = s.on_message(book.append, SnapshotMessage, L3Message)
        s.on_message(everything.append)
        s.on_message(lambda m: 1 / 0)  # a failing callback is logged, never fatal
        await s.subscribe("level3", "ACME")
        received: list[Message] = []
        async for msg in s:
            received.append(msg)
            if isinstance(msg, PongReply):
                break
        remove()
        assert [type(m) for m in received[:2]] == [SnapshotMessage, L3Message]
        assert [m.seq for m in received if isinstance(m, L3Message)] == list(range(5, 25))
        assert [type(m) for m in received[-3:]] == [FillMessage, DoneMessage, PongReply]
        assert received == everything
        assert book == received[:21], "typed callbacks see only their types, in order"
        assert s.dropped == 0


async def test_full_queue_drops_the_oldest(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        req = await recv_request(ws)
        for seq in range(1, 11):
            await send(ws, **ticker(seq))
        await send(ws, type="pong", id=req.id, ts=TS)  # after the pushes: all of them are dispatched
        await ws.wait_closed()

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True, queue_size=3) as s:
        seen: list[int] = []
        s.on_message(lambda m: seen.append(m.seq) if isinstance(m, TickerMessage) else None)
        await s.ping()
        assert (s.queued, s.dropped) == (3, 7)
        kept = [await s.recv(timeout=1) for _ in range(3)]
        assert [m.seq for m in kept if isinstance(m, TickerMessage)] == [8, 9, 10]
        assert seen == list(range(1, 11)), "callbacks see every message, whatever the queue drops"


async def test_queue_size_zero_keeps_nothing(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        req = await recv_request(ws)
        await send(ws, **ticker(1))
        await send(ws, type="pong", id=req.id, ts=TS)
        await ws.wait_closed()

    async with scripted(peer) as url, Session.connect(url, insecure_ok=True, queue_size=0) as s:
        seen: list[Message] = []
        s.on_message(seen.append)
        await s.ping()
        assert len(seen) == 1 and (s.queued, s.dropped) == (0, 0)


async def test_server_shutdown_raises_session_closed_with_the_reason(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        await recv_request(ws)  # never answered
        await send(ws, **FILL)
        await send(ws, type="shutdown", reason="maintenance", ts=TS)
        await ws.close(1001, "server shutting down")

    async with scripted(peer) as url:
        s = await Session.connect(url, insecure_ok=True)
        closes: list[SessionClosed] = []
        s.on_close(closes.append)
        with pytest.raises(SessionClosed) as info:
            await s.balance()
        exc = info.value
        assert (exc.code, exc.reason) == (1001, "server shutting down")
        assert exc.shutdown is not None and exc.shutdown.reason == "maintenance"
        assert "maintenance" in str(exc)
        received: list[Message] = []
        with pytest.raises(SessionClosed) as info:
            async for msg in s:  # the queued messages first, then the close
                received.append(msg)
        assert [type(m) for m in received] == [FillMessage, ShutdownMessage]
        assert info.value.code == 1001
        assert s.closed and s.shutdown is not None
        assert [c.code for c in closes] == [1001]
        with pytest.raises(SessionClosed):
            await s.ping()
        late: list[SessionClosed] = []
        s.on_close(late.append)
        assert late and late[0].shutdown is not None
        assert (await s.wait_closed()).code == 1001
        await s.close()  # idempotent


async def test_lost_connection_is_1006(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        await recv_request(ws)
        ws.transport.abort()

    async with scripted(peer) as url:
        s = await Session.connect(url, insecure_ok=True)
        with pytest.raises(SessionClosed) as info:
            await s.ping()
        assert info.value.code == 1006 and info.value.shutdown is None
        with pytest.raises(SessionClosed):
            await s.recv()


async def test_local_close_ends_iteration_and_fails_pending_requests(scripted: ServeFactory) -> None:
    async def peer(ws: ServerConnection) -> None:
        await recv_request(ws)
        await ws.wait_closed()

    async with scripted(peer) as url:
        s = await Session.connect(url, insecure_ok=True)
        pending = asyncio.create_task(s.ping())

        async def consume() -> list[Message]:
            return [m async for m in s]

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        await s.close()
        assert await consumer == []
        with pytest.raises(SessionClosed) as info:
            await pending
        assert info.value.code == 1000
