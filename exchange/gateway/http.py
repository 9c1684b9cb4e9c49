"""Plain HTTP on the WebSocket port: ``/healthz`` and ``/metrics``.

``/healthz`` answers 200 with a small JSON body while the engine accepts
orders and 503 while starting or shutting down; ``/metrics`` is Prometheus
text. Every other path but ``/ws`` gets 404.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from exchange.gateway.core import Gateway

__all__ = ["WS_PATH", "http_handler", "metrics_text"]

WS_PATH = "/ws"


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
         ("Connection", "close")]
    )
    return Response(status.value, status.phrase, headers, body)


def metrics_text(gateway: Gateway) -> str:
    """The Prometheus exposition of the gateway's counters and gauges."""
    stats = gateway.stats_message()
    c = gateway.counters
    lines = [
        "# HELP exch_up 1 while the exchange accepts orders.",
        "# TYPE exch_up gauge",
        f"exch_up {1 if gateway.accepting else 0}",
        "# TYPE exch_clients gauge",
        f"exch_clients {stats.clients}",
        "# TYPE exch_orders_total counter",
        f"exch_orders_total {c.orders}",
        "# TYPE exch_trades_total counter",
        f"exch_trades_total {c.trades}",
        "# TYPE exch_messages_in_total counter",
        f"exch_messages_in_total {c.messages_in}",
        "# TYPE exch_messages_out_total counter",
        f"exch_messages_out_total {c.messages_out}",
        "# TYPE exch_logins_failed_total counter",
        f"exch_logins_failed_total {c.logins_failed}",
        "# TYPE exch_connections_total counter",
        f"exch_connections_total {c.connections}",
        "# TYPE exch_journal_seq gauge",
        f"exch_journal_seq {stats.journal_seq}",
        "# TYPE exch_engine_seq gauge",
        f"exch_engine_seq {gateway.engine.seq}",
        "# TYPE exch_memory_rss_bytes gauge",
        f"exch_memory_rss_bytes {stats.memory_rss_bytes}",
        "# TYPE exch_loop_lag_ms gauge",
        f"exch_loop_lag_ms {stats.loop_lag_ms}",
        "# TYPE exch_uptime_seconds gauge",
        f"exch_uptime_seconds {stats.uptime_s}",
        "# TYPE exch_open_interest gauge",
    ]
    for symbol, s in stats.symbols.items():
        lines.append(f'exch_open_interest{{symbol="{symbol}"}} {s.open_interest}')
    lines.append("# TYPE exch_volume gauge")
    for symbol, s in stats.symbols.items():
        lines.append(f'exch_volume{{symbol="{symbol}"}} {s.volume}')
    return "\n".join(lines) + "\n"


def http_handler(gateway: Gateway) -> Callable[[ServerConnection, Request], Response | None]:
    """The ``process_request`` hook for ``websockets.serve``."""

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == WS_PATH:
            if not gateway.accepting:
                return _response(HTTPStatus.SERVICE_UNAVAILABLE, b"shutting down\n", "text/plain")
            if len(gateway.sessions) >= gateway.limits.max_connections:
                return _response(HTTPStatus.SERVICE_UNAVAILABLE, b"too many connections\n", "text/plain")
            return None
        if path == "/healthz":
            ok = gateway.accepting
            body = json.dumps({
                "status": "ok" if ok else "unavailable",
                "seq": gateway.engine.seq,
                "clients": len(gateway.sessions),
                "uptime_s": round(gateway.monotonic() - gateway.started, 3),
            }).encode()
            status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
            return _response(status, body + b"\n", "application/json")
        if path == "/metrics":
            return _response(HTTPStatus.OK, metrics_text(gateway).encode(), "text/plain; version=0.0.4")
        return _response(HTTPStatus.NOT_FOUND, b"not found: use /ws, /healthz or /metrics\n", "text/plain")

    return process_request
