"""A WebSocket endpoint serving the public part of the protocol.

:class:`Endpoint` owns connections, frame decoding, per-connection rate
limits, batched output and the public requests (``subscribe``,
``unsubscribe``, ``symbols``, ``ping``) answered from a
:class:`~exchange.marketdata.hub.MarketDataHub`. ``exch marketdata`` serves
exactly this; the trading :class:`~exchange.gateway.core.Gateway` extends it
with logins, orders and administration, and holds its replies until the
journal has committed what they reflect (:meth:`Endpoint._later`).

Every frame a client sends counts against its message rate, whatever it holds;
a connection refused too often (a flood) is closed with 1008. All
connections' unread output is held under one process-wide budget: past it,
the connections holding the most are closed with 1013 first.

A client's address (login throttling, the per-address connection cap, the
session list, log lines) is the TCP peer's, or — when the peer is one of
``trusted_proxies`` — the client the proxy names in the one handshake header
the operator chose (``--proxy-header``, :mod:`exchange.serving.forwarded`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from exchange.marketdata.hub import CHANNELS, MarketDataHub
from exchange.protocol.messages import (
    PongReply,
    ShutdownMessage,
    SubscribedReply,
    SymbolInfo,
    SymbolsReply,
    UnsubscribedReply,
    encode_message,
)
from exchange.protocol.requests import (
    BatchRequest,
    PingRequest,
    Request,
    RequestError,
    RequestId,
    SubscribeRequest,
    SymbolsRequest,
    UnsubscribeRequest,
    decode_batch_item,
    decode_request,
    request_id,
)
from exchange.serving.counters import Counters
from exchange.serving.forwarded import TrustedProxies, client_address
from exchange.serving.frames import error_frame
from exchange.serving.limits import REFUSED_WINDOW_S, GatewayLimits, OutputBudget
from exchange.serving.session import ClientSession, SessionState

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

__all__ = ["Endpoint", "Handler", "peer_address"]

log = logging.getLogger("exch.endpoint")

Handler = Callable[[ClientSession, Any], Awaitable[None] | None]


class Endpoint:
    """Connections and the public requests, answered from a market-data hub.

    Args:
        hub: the public books and subscriptions.
        limits: per-connection limits.
        clock_ns: wall clock for timestamps (ns).
        monotonic: clock for rates and uptime (s).
        trusted_proxies: peers whose one chosen header (``trusted_proxies.header``,
            e.g. ``X-Forwarded-For``) names the client (default: none; every
            other peer's headers, and every other header, are ignored).
        sessions: the set of open connections to keep (default: a new one).
        counters: the totals to count into (default: new ones).
    """

    def __init__(
        self,
        *,
        hub: MarketDataHub,
        limits: GatewayLimits | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
        trusted_proxies: TrustedProxies | None = None,
        sessions: set[ClientSession] | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.hub = hub
        self.limits = limits or GatewayLimits()
        self.trusted_proxies = trusted_proxies or TrustedProxies()
        self.clock_ns = clock_ns
        self.monotonic = monotonic
        self.sessions: set[ClientSession] = set() if sessions is None else sessions
        self.counters = Counters() if counters is None else counters
        self.started = monotonic()
        self.accepting = False
        self._dirty: list[ClientSession] = []
        self.output = OutputBudget(self.limits.max_output, self._over_budget)
        self.per_address: dict[str, int] = {}
        self.handlers: dict[type, Handler] = {
            SymbolsRequest: self._symbols,
            SubscribeRequest: self._subscribe,
            UnsubscribeRequest: self._unsubscribe,
            PingRequest: self._ping,
        }

    # ------------------------------------------------------------ connections

    async def handle(self, conn: ServerConnection) -> None:
        """Serve one WebSocket connection until it closes."""
        ip, address = peer_address(conn, self.trusted_proxies)
        session = ClientSession(conn, address, self.monotonic(), self.clock_ns(), self.limits)
        session.ip = ip
        session.on_dirty = self._dirty_session
        session.on_close = self._closed
        session.output = self.output
        if not self.accepting:
            await conn.close(1001, "server is shutting down")
            return
        if self.address_full(ip):  # connections racing past the HTTP gate
            await conn.close(1008, "too many connections from this address")
            return
        self.sessions.add(session)
        self.per_address[ip] = self.per_address.get(ip, 0) + 1
        self.counters.connections += 1
        try:
            async for frame in conn:
                await self.on_frame(session, frame)
                if session.state is SessionState.CLOSING:
                    break
        except ConnectionClosed:
            pass
        finally:
            self._closed(session)

    def client_ip(self, conn: ServerConnection) -> str:
        """The client's address of ``conn`` (the one a trusted proxy names, else the peer's)."""
        return peer_address(conn, self.trusted_proxies)[0]

    def address_full(self, ip: str) -> bool:
        """Whether ``ip`` has as many connections as ``max_per_address`` allows."""
        cap = self.limits.max_per_address
        return cap > 0 and self.per_address.get(ip, 0) >= cap

    def _closed(self, session: ClientSession) -> None:
        """``session`` is closing or closed: forget it, once."""
        if session in self.sessions:
            self.forget(session)
            self.output.change(-session.buffered)
            session.buffered = 0
            left = self.per_address.get(session.ip, 1) - 1
            if left > 0:
                self.per_address[session.ip] = left
            else:
                self.per_address.pop(session.ip, None)

    def forget(self, session: ClientSession) -> None:
        """Drop everything held for a connection that is closing (once)."""
        self.sessions.discard(session)
        if session.state is not SessionState.CLOSING:
            session.move(SessionState.CLOSING)
        self.hub.forget(session)

    async def on_frame(self, session: ClientSession, frame: str | bytes) -> None:
        """Handle one frame (a request or a batch); every frame counts against the message rate."""
        self.counters.messages_in += 1
        session.message_count += 1
        now = self.monotonic()
        if not session.messages.take(now):
            self._refuse(session, request_id(frame) if isinstance(frame, str) else None, now)
            return
        if isinstance(frame, bytes):
            self._reply(session, None, error_frame(None, "bad_request", "send JSON in text frames"))
            return
        try:
            req = decode_request(frame)
        except RequestError as exc:
            self._reply(session, exc.id, error_frame(exc.id, exc.code, exc.message, field=exc.field))
            return
        if isinstance(req, BatchRequest):
            extra = len(req.requests) - 1  # the frame took one token; a batch counts each request
            if extra and not session.messages.take(now, extra):
                self._refuse(session, req.id, now)
                return
            self.grouping(True)
            try:
                for raw in req.requests:
                    try:
                        item = decode_batch_item(raw)
                    except RequestError as exc:
                        self._reply(session, exc.id, error_frame(exc.id, exc.code, exc.message, field=exc.field))
                        continue
                    waiting = self._start(session, item)  # no coroutine per request: most never wait
                    if waiting is not None:
                        await self._wait_for(waiting)
            finally:
                self.grouping(False)
            return
        waiting = self._start(session, req)
        if waiting is not None:
            await self._wait_for(waiting)

    def grouping(self, on: bool) -> None:
        """Hook: a batch frame's requests are being handled (on) or done (off)."""

    def _start(self, session: ClientSession, req: Request) -> Awaitable[None] | None:
        """Handle ``req`` as far as it goes without waiting; what is left to await (a login, a query), if any."""
        if not self.authorize(session, req):
            return None
        handler = self.handlers.get(type(req))
        if handler is None:
            op = type(req).__struct_config__.tag
            self._reply(session, req.id, error_frame(
                req.id, "unknown_op", f"this server does not serve {op!r}", field="op"))
            return None
        return handler(session, req)

    async def _wait_for(self, waiting: Awaitable[None]) -> None:
        self.grouping(False)  # other connections run while this waits: nothing may join a group meanwhile
        await waiting

    def authorize(self, session: ClientSession, req: Request) -> bool:
        """Whether ``session`` may make ``req`` (replying with the refusal if not)."""
        return True

    def _rate_limited(self, session: ClientSession, rid: RequestId) -> None:
        self._refuse(session, rid, self.monotonic())

    def _refuse(self, session: ClientSession, rid: RequestId, now: float) -> None:
        """Reply ``rate_limited``; close with 1008 a connection refused ``max_refused`` times in the window."""
        if now - session.refused_since > REFUSED_WINDOW_S:
            session.refused_since, session.refused = now, 0
        session.refused += 1
        cap = self.limits.max_refused
        if cap and session.refused > cap:
            log.info("closing %s: %d frames refused as rate_limited within %g s", session.address,
                     session.refused - 1, REFUSED_WINDOW_S)
            session.close(1008, "rate limit exceeded")
            return
        self._reply(session, rid, error_frame(rid, "rate_limited", "too many requests; slow down"))

    # ---------------------------------------------------------------- output

    def _later(self, action: Callable[..., None], *args: Any) -> None:
        """Run ``action`` in reply order (here: now)."""
        action(*args)

    def _reply(self, session: ClientSession, rid: RequestId, frame: bytes) -> None:
        """Send a reply in order with the others."""
        self._later(self._send, session, frame)

    def _send(self, session: ClientSession, frame: bytes) -> None:
        if session.send(frame):
            self.counters.messages_out += 1

    def _dirty_session(self, session: ClientSession) -> None:
        """``session`` has frames to write: flush every such session once this loop turn ends."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self._flush)
        self._dirty.append(session)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for session in dirty:
            session.flush()

    def _over_budget(self) -> None:
        """The sampled output passed ``max_output``: shed once this loop turn's writes are done."""
        asyncio.get_running_loop().call_soon(self.shed)

    def shed(self) -> list[ClientSession]:
        """Recount every connection's unread output; past ``max_output``, close the largest holders first.

        Connections are closed with 1013 until the total is under 90 % of the
        budget. Returns the closed sessions.
        """
        sizes = [(session.sample(), session) for session in list(self.sessions) if session.open]
        total = sum(size for size, session in sizes if session.open)
        closed: list[ClientSession] = []
        limit = self.output.limit
        if limit and total > limit:
            floor = limit * 9 // 10
            for size, session in sorted(sizes, key=lambda pair: pair[0], reverse=True):
                if total <= floor:
                    break
                if session.open:
                    log.info("closing %s: holds %d bytes unread, over the process's output budget of %d",
                             session.address, size, limit)
                    session.close(1013, "slow consumer: server output budget exceeded")
                    total -= size
                    closed.append(session)
        self.output.rearm(sum(session.buffered for session in self.sessions if session.open))
        return closed

    # ---------------------------------------------------------------- public

    def _symbols(self, s: ClientSession, r: SymbolsRequest) -> None:
        self._later(self._do_symbols, s, r)

    def _do_symbols(self, s: ClientSession, r: SymbolsRequest) -> None:
        infos = [
            SymbolInfo(symbol=name, tick=state.tick, lot=state.lot, status=state.status)
            for name, state in sorted(self.hub.symbols.items())
        ]
        self._send(s, encode_message(SymbolsReply(id=r.id, symbols=infos)))

    def _ping(self, s: ClientSession, r: PingRequest) -> None:
        self._reply(s, r.id, encode_message(PongReply(id=r.id, ts=self.clock_ns())))

    def _subscribe(self, s: ClientSession, r: SubscribeRequest) -> None:
        channels: list[str] = list(dict.fromkeys(r.channels))
        if "stats" in channels and not self.may_see_stats(s, r):
            return
        # In reply order, once the hub reflects everything committed before this request.
        self._later(self._do_subscribe, s, r, channels)

    def may_see_stats(self, s: ClientSession, r: SubscribeRequest) -> bool:
        """The ``stats`` channel exists only on the trading gateway."""
        self._reply(s, r.id, error_frame(r.id, "bad_request", "no stats channel here", field="channels"))
        return False

    def _do_subscribe(self, s: ClientSession, r: SubscribeRequest, channels: list[str]) -> None:
        public = [c for c in channels if c in CHANNELS]
        symbols = list(dict.fromkeys(r.symbols)) or sorted(self.hub.symbols)
        try:
            snapshots = self.hub.subscribe(s, public, symbols if public else [], r.interval_ms)
        except KeyError as exc:
            self._send(s, error_frame(r.id, "unknown_symbol", f"no symbol {exc.args[0]!r}", field="symbols"))
            return
        self.subscribed(s, channels)
        self._send(s, encode_message(SubscribedReply(
            id=r.id, channels=channels, symbols=symbols if public else [], interval_ms=r.interval_ms
        )))
        for frame in snapshots:
            self._send(s, frame)

    def subscribed(self, s: ClientSession, channels: list[str]) -> None:
        """Hook: non-public channels of a subscription (the gateway's ``stats``)."""

    def _unsubscribe(self, s: ClientSession, r: UnsubscribeRequest) -> None:
        self._later(self._do_unsubscribe, s, r)  # in order with a subscribe queued before it

    def _do_unsubscribe(self, s: ClientSession, r: UnsubscribeRequest) -> None:
        symbols = list(dict.fromkeys(r.symbols)) or sorted(self.hub.symbols)
        self.hub.unsubscribe(s, r.channels, symbols)
        self.unsubscribed(s, list(r.channels))
        self._send(s, encode_message(UnsubscribedReply(id=r.id, channels=list(r.channels), symbols=symbols)))

    def unsubscribed(self, s: ClientSession, channels: list[str]) -> None:
        """Hook: non-public channels of an unsubscription."""

    # ------------------------------------------------------------ operations

    def shutdown_notice(self, reason: str) -> None:
        """Tell every client the server is going away, then close them with 1001."""
        self.accepting = False
        frame = encode_message(ShutdownMessage(reason=reason, ts=self.clock_ns()))
        for session in list(self.sessions):
            self._send(session, frame)
            session.close(1001, reason)


def peer_address(conn: ServerConnection, trusted: TrustedProxies | None = None) -> tuple[str, str]:
    """The client's IP (for throttling) and how to show it.

    Shown as the peer's ``ip:port`` (``[ip]:port`` for IPv6); for a client a
    trusted proxy names, as ``CLIENT-IP (via PROXY-IP:PORT)``, e.g.
    ``203.0.113.7 (via 10.0.0.2:51234)``. The peer's headers are read only
    when it is in ``trusted``, and only ``trusted.header``; a missing or
    malformed header keeps the peer.
    """
    peer = conn.remote_address
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    else:
        host = shown = str(peer)
    request = conn.request
    if trusted and request is not None:
        client = client_address(host, request.headers.raw_items(), trusted)
        if client is not None:
            return str(client), f"{client} (via {shown})"
    return host, shown
