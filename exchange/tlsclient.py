"""The client's side of exch TLS: where the local CA is, and a verifying SSL context.

Standard library only, so the apps (``exch trade``, the console, the bots) build
their context without loading the certificate machinery of :mod:`exchange.tls`
(which re-exports these names).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Final

__all__ = ["CA_CERT_NAME", "TLS_DIR_NAME", "client_context", "default_tls_dir"]

TLS_DIR_NAME: Final = "tls"
"""The TLS directory inside the home."""
CA_CERT_NAME: Final = "ca.pem"
"""The local CA's certificate inside the TLS directory."""


def default_tls_dir(home: Path) -> Path:
    """The TLS directory inside the data directory ``home``."""
    return home / TLS_DIR_NAME


def client_context(*, cafile: Path | str | None = None, home: Path | None = None) -> ssl.SSLContext:
    """A client-side SSL context that verifies the server and its host name.

    Trusts the system's default CAs (so real certificates work) plus one more:
    ``cafile`` if given, else ``home/tls/ca.pem`` when that file exists.

    Args:
        cafile: A CA certificate (PEM) to trust, e.g. a copy of the server's ``ca.pem``.
        home: The exch data directory whose local CA to trust when ``cafile`` is None.

    Returns:
        The context (TLS 1.2 or newer, ``CERT_REQUIRED``, host name checked).

    Raises:
        FileNotFoundError: ``cafile`` does not exist.
        ssl.SSLError: ``cafile`` is not a PEM certificate.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cafile is not None:
        if not Path(cafile).is_file():
            raise FileNotFoundError(f"CA file not found: {cafile}")
        ctx.load_verify_locations(cafile=str(cafile))
    elif home is not None:
        local = default_tls_dir(home) / CA_CERT_NAME
        if local.is_file():
            ctx.load_verify_locations(cafile=str(local))
    return ctx
