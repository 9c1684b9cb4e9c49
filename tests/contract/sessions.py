"""Record example sessions (raw frames) from a real server into docs/examples/sessions/*.jsonl.

Run ``python -m tests.contract.sessions [DIR]`` to regenerate them. Each line is
one frame: ``{"conn": NAME, "dir": "send" | "recv", "frame": {...}}``, or
``{"conn": NAME, "dir": "close", "code": N}``, or a ``"dir": "note"`` in words.
Between steps every connection is settled with a ``ping`` (not recorded), so the
order of the lines is the order each connection saw its frames.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from client import Session
from tests.gateway.conftest import ServerThread, _config, ca_context

__all__ = ["SCENARIOS", "Recorder", "record_all", "shape"]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "sessions"


class Recorder:
    """Named raw connections to one server, every frame they send and receive written down."""

    def __init__(self, server: ServerThread, home: Path, admin_password: str) -> None:
        self.server, self.home, self.admin_password = server, home, admin_password
        self.lines: list[dict[str, Any]] = []
        self.conns: dict[str, ClientConnection] = {}
        self._ids = 0

    async def open(self, name: str) -> None:
        assert self.server.info is not None
        self.conns[name] = await ws_connect(self.server.info.url, ssl=ca_context(self.home), proxy=None)

    def note(self, text: str) -> None:
        self.lines.append({"dir": "note", "text": text})

    async def send(self, name: str, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a request (a fresh ``id`` unless it has one); settle; return its reply."""
        self._ids += 1
        frame = {"op": frame["op"], "id": self._ids, **{k: v for k, v in frame.items() if k != "op"}}
        self.lines.append({"conn": name, "dir": "send", "frame": frame})
        await self.conns[name].send(json.dumps(frame))
        await self.settle()
        return next(line["frame"] for line in reversed(self.lines)
                    if line.get("conn") == name and line["dir"] == "recv"
                    and line["frame"].get("id") == frame["id"])

    async def settle(self, *, drop: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Read every connection up to the ``pong`` of a fresh ``ping``, recording what came before it."""
        for name, ws in self.conns.items():
            await ws.send(json.dumps({"op": "ping", "id": "settle"}))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("id") == "settle":
                    break
                if drop is not None and drop(msg):
                    lost = f"(lost: the {msg['type']} seq {msg.get('seq')})"
                    self.lines.append({"conn": name, "dir": "note", "text": lost})
                    drop = None
                    continue
                self.lines.append({"conn": name, "dir": "recv", "frame": msg})

    async def login(self, name: str, username: str, password: str) -> None:
        await self.open(name)
        await self.send(name, {"op": "login", "username": username, "password": password})

    async def close_all(self) -> None:
        for ws in self.conns.values():
            await ws.close()


async def _users(r: Recorder, **people: dict[str, Any]) -> None:
    """Add the users (alice, bob, …) from a separate, unrecorded admin session."""
    assert r.server.info is not None
    async with Session.connect(r.server.info.url, home=r.home, proxy=None) as admin:
        await admin.login("admin", r.admin_password)
        for name, gift in people.items():
            await admin.user_add(name, f"pw-{name}-123", cash=gift.get("cash", 0), positions=gift.get("shares", {}))


async def login(r: Recorder) -> None:
    await _users(r, alice={"cash": 1_000_000})
    await r.open("alice")
    await r.send("alice", {"op": "login", "username": "alice", "password": "wrong-password"})
    await r.send("alice", {"op": "login", "username": "alice", "password": "pw-alice-123"})
    await r.send("alice", {"op": "balance"})


async def order_that_trades(r: Recorder) -> None:
    await _users(r, alice={"cash": 1_000_000}, bob={"shares": {"ACME": 100}})
    await r.login("alice", "alice", "pw-alice-123")
    await r.login("bob", "bob", "pw-bob-123")
    await r.open("watcher")
    await r.send("watcher", {"op": "subscribe", "channels": ["level3", "trades"], "symbols": ["ACME"]})
    await r.send("bob", {"op": "order", "symbol": "ACME", "side": "sell", "price": 10125, "qty": 10,
                         "client_order_id": "bob-1"})
    await r.send("alice", {"op": "order", "symbol": "ACME", "side": "buy", "price": 10130, "qty": 4,
                           "client_order_id": "alice-1"})


async def replace(r: Recorder) -> None:
    await _users(r, alice={"cash": 1_000_000})
    await r.login("alice", "alice", "pw-alice-123")
    ack = await r.send("alice", {"op": "order", "symbol": "ACME", "side": "buy", "price": 10000, "qty": 10})
    await r.send("alice", {"op": "replace", "order_id": ack["order_id"], "qty": 6})
    await r.send("alice", {"op": "replace", "order_id": ack["order_id"], "price": 10010})
    await r.send("alice", {"op": "cancel", "order_id": ack["order_id"]})


async def self_trade(r: Recorder) -> None:
    await _users(r, alice={"cash": 1_000_000, "shares": {"ACME": 100}}, bob={"shares": {"ACME": 100}})
    await r.login("alice", "alice", "pw-alice-123")
    await r.login("bob", "bob", "pw-bob-123")
    await r.send("alice", {"op": "order", "symbol": "ACME", "side": "sell", "price": 10100, "qty": 5})
    await r.send("alice", {"op": "order", "symbol": "ACME", "side": "sell", "price": 10110, "qty": 5})
    await r.send("bob", {"op": "order", "symbol": "ACME", "side": "sell", "price": 10120, "qty": 5})
    r.note("alice's buy crosses her own two asks: both are canceled (self_trade), then it trades with bob")
    await r.send("alice", {"op": "order", "symbol": "ACME", "side": "buy", "price": 10120, "qty": 5})


async def gap_and_resync(r: Recorder) -> None:
    await _users(r, alice={"cash": 1_000_000})
    await r.login("alice", "alice", "pw-alice-123")
    await r.open("watcher")
    await r.send("watcher", {"op": "subscribe", "channels": ["level3"], "symbols": ["ACME"]})
    await r.send("alice", {"op": "order", "symbol": "ACME", "side": "buy", "price": 9900, "qty": 1})
    r.note("the watcher loses the next l3 frame (as if its reader had dropped it)")
    await r.conns["alice"].send(json.dumps({"op": "order", "id": "o2", "symbol": "ACME", "side": "buy",
                                            "price": 9910, "qty": 1}))
    r.lines.append({"conn": "alice", "dir": "send", "frame": {"op": "order", "id": "o2", "symbol": "ACME",
                                                              "side": "buy", "price": 9910, "qty": 1}})
    await r.settle(drop=lambda m: m.get("type") == "l3")
    await r.send("alice", {"op": "order", "symbol": "ACME", "side": "buy", "price": 9920, "qty": 1})
    r.note("the watcher sees seq jump by 2: it discards its book and subscribes again")
    await r.send("watcher", {"op": "subscribe", "channels": ["level3"], "symbols": ["ACME"]})


async def halt(r: Recorder) -> None:
    await _users(r, alice={"cash": 1_000_000})
    await r.login("admin", "admin", r.admin_password)
    await r.login("alice", "alice", "pw-alice-123")
    await r.send("alice", {"op": "subscribe", "channels": ["ticker"], "symbols": ["ACME"]})
    await r.send("admin", {"op": "halt", "symbol": "ACME"})
    await r.send("alice", {"op": "order", "symbol": "ACME", "side": "buy", "price": 10000, "qty": 1})
    await r.send("admin", {"op": "resume", "symbol": "ACME"})
    await r.send("alice", {"op": "order", "symbol": "ACME", "side": "buy", "price": 10000, "qty": 1})


async def shutdown(r: Recorder) -> None:
    await _users(r, alice={"cash": 1_000_000})
    await r.login("alice", "alice", "pw-alice-123")
    await r.send("alice", {"op": "order", "symbol": "ACME", "side": "buy", "price": 10000, "qty": 1})
    r.note("the operator stops the server (exch stop, or SIGTERM)")
    stopping = asyncio.create_task(asyncio.to_thread(r.server.stop))
    ws = r.conns["alice"]
    try:
        while True:
            r.lines.append({"conn": "alice", "dir": "recv", "frame": json.loads(await ws.recv())})
    except ConnectionClosed as exc:
        r.lines.append({"conn": "alice", "dir": "close", "code": exc.rcvd.code if exc.rcvd else None})
    await stopping


SCENARIOS: dict[str, Callable[[Recorder], Awaitable[None]]] = {
    "login": login,
    "order_that_trades": order_that_trades,
    "replace": replace,
    "self_trade": self_trade,
    "gap_and_resync": gap_and_resync,
    "halt": halt,
    "shutdown": shutdown,
}


async def record(name: str, home: Path) -> list[dict[str, Any]]:
    """Run one scenario against a fresh server in ``home``; its lines."""
    server = ServerThread(_config(home))
    server.start()
    r = Recorder(server, home, (home / "admin-password").read_text().strip())
    try:
        await SCENARIOS[name](r)
        await r.close_all()
    finally:
        await asyncio.to_thread(server.stop)
    return r.lines


async def record_all(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Record every scenario into ``out/NAME.jsonl``."""
    out.mkdir(parents=True, exist_ok=True)
    recorded = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in SCENARIOS:
            lines = await record(name, Path(tmp) / name)
            (out / f"{name}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
            recorded[name] = lines
    return recorded


def shape(value: Any) -> Any:
    """``value`` with every scalar replaced by its JSON type (what two recordings share)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return "null" if value is None else type(value).__name__


if __name__ == "__main__":
    asyncio.run(record_all(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS))
