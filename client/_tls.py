"""TLS trust for client connections: the one place the client builds an SSL context.

Trust, in order: an explicit CA file, else ``$EXCH_HOME/tls/ca.pem`` when it
exists (the local CA an exch server generates on first start), plus the
system's roots in both cases, so servers with public certificates work too.
The context itself comes from :func:`exchange.tls.client_context`.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from client.errors import ConnectError
from exchange.paths import home_dir
from exchange.tlsclient import client_context

__all__ = ["ca_path", "certificate_hint"]

CA_RELATIVE = Path("tls") / "ca.pem"


def ca_path(home: Path | None = None) -> Path:
    """Where an exch server keeps its CA certificate.

    Args:
        home: the data directory; default ``$EXCH_HOME`` or ``~/.local/share/exch``.

    Returns:
        ``HOME/tls/ca.pem`` (it may not exist).
    """
    return home_dir(home) / CA_RELATIVE


def _ssl_context(cafile: Path | None, home: Path | None) -> ssl.SSLContext:
    """A verifying client context: system roots plus the exch CA (``exchange.tls.client_context``).

    Args:
        cafile: a PEM file of CA certificates to trust; must exist when given.
        home: the data directory whose ``tls/ca.pem`` is trusted when ``cafile`` is None
            (default ``$EXCH_HOME``, else ``~/.local/share/exch``).

    Returns:
        An :class:`ssl.SSLContext` with hostname checks on, TLS 1.2 or newer.

    Raises:
        ConnectError: ``cafile`` is missing or not a PEM certificate file.
    """
    try:
        return client_context(cafile=cafile, home=home_dir(home))
    except (OSError, ssl.SSLError) as exc:
        raise ConnectError(f"cannot load CA file {cafile}: {exc}") from exc


def certificate_hint(url: str, cafile: Path | None, home: Path | None) -> str:
    """The message of a :class:`~client.errors.CertificateError`: what to do about it.

    Args:
        url: the server URL that was refused.
        cafile: the CA file that was tried, if any.
        home: the data directory that was looked at.

    Returns:
        A few sentences naming the CA file to copy and the ``--cafile`` option.
    """
    tried = f"the CA file {cafile}" if cafile is not None else f"{ca_path(home)} and the system roots"
    return (
        f"the TLS certificate of {url} is not trusted (tried {tried}). "
        "An exch server signs its certificate with its own CA, kept on the server machine at "
        "$EXCH_HOME/tls/ca.pem (default ~/.local/share/exch/tls/ca.pem). Copy that file here and "
        "pass --cafile PATH (Session.connect(url, cafile=PATH)), or put it at "
        f"{ca_path(home)}."
    )
