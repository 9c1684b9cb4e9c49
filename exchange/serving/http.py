"""Plain HTTP on a WebSocket port: ``/healthz``, ``/metrics``, the web client, and the ``/ws`` gate.

Both servers — the exchange and ``exch marketdata`` — answer plain HTTP on the
port they serve WebSockets on: ``/healthz`` (200 with a small JSON body while
serving, 503 while starting or shutting down), ``/metrics`` on the exchange
(Prometheus text, :mod:`exchange.gateway.http`), 404 elsewhere. ``/ws`` opens the WebSocket handshake unless
the endpoint is not accepting or is full (503), or the client's address has
as many connections as ``max_per_address`` allows (429). The exchange also serves the
browser client (:mod:`exchange.web`) at ``/`` and ``/assets/…`` unless started
with ``--no-web``: a fixed table of files with a strict Content-Security-Policy
and ETag revalidation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from exchange.serving.endpoint import Endpoint
    from exchange.web import WebAsset

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "WS_PATH",
    "Route",
    "endpoint_http",
    "health_response",
    "http_response",
    "web_response",
]

WS_PATH = "/ws"
Route = Callable[[], Response]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The web client's policy: its own files only; WebSockets to the same origin (``'self'``)."""
_WEB_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-cache"),  # keep it, but ask (If-None-Match) before using it
)


def http_response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    """A complete HTTP response that closes the connection."""
    headers = Headers(
        [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
         ("Connection", "close")]
    )
    return Response(status.value, status.phrase, headers, body)


def health_response(body: Mapping[str, Any]) -> Response:
    """``/healthz``: 200 when ``body["status"]`` is ``ok``, else 503, with the body as JSON."""
    status = HTTPStatus.OK if body.get("status") == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
    return http_response(status, json.dumps(body).encode() + b"\n", "application/json")


def web_response(asset: WebAsset, request: Request) -> Response:
    """One file of the web client: 200 with its bytes, or 304 when the browser's copy is current."""
    tags = {t.strip().removeprefix("W/") for t in request.headers.get("If-None-Match", "").split(",")}
    headers = Headers([("ETag", asset.etag), *_WEB_HEADERS, ("Connection", "close")])
    if asset.etag in tags:
        return Response(HTTPStatus.NOT_MODIFIED.value, HTTPStatus.NOT_MODIFIED.phrase, headers, b"")
    headers["Content-Type"] = asset.content_type
    headers["Content-Length"] = str(len(asset.body))
    return Response(HTTPStatus.OK.value, HTTPStatus.OK.phrase, headers, asset.body)


def endpoint_http(
    endpoint: Endpoint, routes: Mapping[str, Route], web: Mapping[str, WebAsset] | None = None
) -> Callable[[ServerConnection, Request], Response | None]:
    """The ``process_request`` hook: the ``/ws`` gate, then ``routes``, then ``web`` files, else 404."""
    known = ", ".join([WS_PATH, *routes, *(["/"] if web else [])])

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == WS_PATH:
            if not endpoint.accepting:
                return http_response(HTTPStatus.SERVICE_UNAVAILABLE, b"not serving (starting or stopping)\n",
                                     "text/plain")
            if len(endpoint.sessions) >= endpoint.limits.max_connections:
                return http_response(HTTPStatus.SERVICE_UNAVAILABLE, b"too many connections\n", "text/plain")
            if endpoint.address_full(endpoint.client_ip(conn)):
                return http_response(HTTPStatus.TOO_MANY_REQUESTS, b"too many connections from your address\n",
                                     "text/plain")
            return None
        route = routes.get(path)
        if route is not None:
            return route()
        asset = web.get(path) if web else None
        if asset is not None:
            return web_response(asset, request)
        return http_response(HTTPStatus.NOT_FOUND, f"not found: use {known}\n".encode(), "text/plain")

    return process_request


