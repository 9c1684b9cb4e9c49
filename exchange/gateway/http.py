"""The exchange's plain HTTP: ``/healthz``, ``/metrics`` and the web client, on the gateway's port.

The generic parts (responses, the ``/ws`` gate, the web client's files) are in
:mod:`exchange.serving.http`; this adds what only the exchange answers.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING

from websockets.http11 import Request, Response

from exchange.protocol.schema import asyncapi_bytes, json_schema_bytes
from exchange.serving.http import Route, endpoint_http, health_response, http_response

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from exchange.gateway.core import Gateway

__all__ = ["http_handler", "metrics_text"]


def metrics_text(gateway: Gateway) -> str:
    """The Prometheus exposition of the gateway's counters and gauges."""
    stats = gateway.stats.message()
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


def http_handler(gateway: Gateway, *, web: bool = True) -> Callable[[ServerConnection, Request], Response | None]:
    """The exchange's ``process_request``: ``/ws``, ``/healthz``, ``/metrics``, ``/api/*.json``, and the web client."""

    def healthz() -> Response:
        return health_response({
            "status": "ok" if gateway.accepting else "unavailable",
            "seq": gateway.engine.seq,
            "clients": len(gateway.sessions),
            "uptime_s": round(gateway.monotonic() - gateway.started, 3),
        })

    def metrics() -> Response:
        return http_response(HTTPStatus.OK, metrics_text(gateway).encode(), "text/plain; version=0.0.4")

    assets = None
    if web:
        from exchange.web import load_assets

        assets = load_assets()

    def api(body: bytes) -> Route:
        return lambda: http_response(HTTPStatus.OK, body, "application/json")

    routes = {"/healthz": healthz, "/metrics": metrics,
              "/api/schema.json": api(json_schema_bytes()), "/api/asyncapi.json": api(asyncapi_bytes())}
    return endpoint_http(gateway, routes, assets)
