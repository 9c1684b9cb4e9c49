"""``exch health``: is the exchange (or an ``exch marketdata`` process) up? For health checks.

Asks ``GET /healthz`` over HTTPS, trusting the home's local CA
(``HOME/tls/ca.pem``, or ``--cafile``) and the system roots, with the host name
checked like any client would. Exit 0 when the answer is 200 with status
``ok``; 1 otherwise (503 while starting or stopping, no answer, TLS failure),
with one line saying why. The Docker image's ``HEALTHCHECK`` runs it.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import typer

from exchange.cli.common import HomeOption, cli_errors, fail, resolve_home

__all__ = ["check_health", "health", "health_url"]

DEFAULT_URL = "https://127.0.0.1:8443"


def health_url(url: str) -> str:
    """The ``/healthz`` URL of a server given as ``wss://HOST:PORT/ws``, ``https://HOST:PORT`` or ``HOST:PORT``.

    Raises:
        ValueError: not a URL of a server.
    """
    if "://" not in url:
        url = "https://" + url
    parts = urllib.parse.urlsplit(url)
    scheme = {"wss": "https", "https": "https", "ws": "http", "http": "http"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a server URL: {url!r} (wss://HOST:PORT/ws or https://HOST:PORT)")
    return urllib.parse.urlunsplit((scheme, parts.netloc, "/healthz", "", ""))


def _local_url(home: Path) -> str:
    """The URL of the server running on ``home`` (``server.json``), else the default port on loopback."""
    from exchange.info import read_server_info

    info = read_server_info(home)
    if info is None:
        return DEFAULT_URL
    host = "127.0.0.1" if info.host in ("0.0.0.0", "") else ("::1" if info.host == "::" else info.host)
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if info.tls else 'http'}://{shown}:{info.port}"


def check_health(
    url: str, *, home: Path | None, cafile: Path | None, timeout: float = 5.0
) -> tuple[int, dict[str, Any]]:
    """``GET`` the health URL: ``(HTTP status, JSON body)``.

    Raises:
        OSError: no answer (refused, timeout, TLS failure).
        ValueError: the answer is not JSON.
    """
    from exchange.tls import client_context

    context: ssl.SSLContext | None = None
    if url.startswith("https://"):
        context = client_context(cafile=cafile, home=home)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=timeout) as reply:
            return int(reply.status), dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, dict(json.loads(body))
        except ValueError:
            return exc.code, {"status": body.decode(errors="replace")[:80] or exc.reason}


def health(
    home: Path | None = HomeOption,
    url: str | None = typer.Option(None, help="Server to ask: wss://HOST:PORT/ws or https://HOST:PORT "
                                   "(default: the server of --home, else https://127.0.0.1:8443)."),
    cafile: Path | None = typer.Option(None, help="CA certificate to trust (default: HOME/tls/ca.pem)."),
    timeout: float = typer.Option(5.0, min=0.1, help="Seconds to wait for the answer."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing; the exit code says it."),
) -> None:
    """Check GET /healthz over HTTPS (trusting the home's CA): exit 0 when the server is ok."""
    with cli_errors():
        root = resolve_home(home)
        target = health_url(url) if url else _local_url(root) + "/healthz"
        try:
            status, body = check_health(target, home=root, cafile=cafile, timeout=timeout)
        except (OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, ssl.SSLCertVerificationError):
                fail(f"{target}: certificate not trusted ({reason.verify_message}); pass --cafile or --home")
            fail(f"{target}: no answer ({reason})")
        if status != 200 or body.get("status") != "ok":
            fail(f"{target}: {status} {json.dumps(body)}")
        if not quiet:
            typer.echo(json.dumps(body))
