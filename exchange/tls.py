"""TLS material for exch: a local CA, a server certificate, and SSL contexts.

On first start :func:`ensure_certificates` creates, under ``$EXCH_HOME/tls/``::

    ca.pem            the local certificate authority (give this to remote clients)
    ca-key.pem        its private key                  (never leaves the host)
    server.pem        the server certificate, signed by the CA
    server-key.pem    its private key

The directory is 0700 and every file 0600, like everything in the home (the
certificates are public, but the owner copies them out). Keys are EC P-256, signatures ECDSA-SHA256. Validity:

- CA: 10 years (:data:`CA_VALID_DAYS`); regenerated (with a new server
  certificate) only if it is missing or expires within :data:`RENEW_BEFORE_DAYS`.
- Server certificate: 1 year (:data:`SERVER_VALID_DAYS`), never beyond the CA;
  re-issued by the same CA when it expires within 30 days
  (:data:`RENEW_BEFORE_DAYS`), when a requested host is not among its subject
  alternative names, when its key does not match, or when the CA did not sign it.
  A re-issued certificate keeps the names of the old one and adds the new ones,
  so starting once with ``--host a`` and later with ``--host b`` covers both.
  One year stays under the 398/825-day limits some TLS clients apply.

Every certificate names ``localhost``, ``127.0.0.1`` and ``::1``; host names
become DNSName entries, IP addresses IPAddress entries. Wildcard bind addresses
(``0.0.0.0``, ``::``) are skipped: no client connects to them, so the server
should pass the public name or address it is reached by.

Files are written atomically (temporary file + rename), so a reader never sees
half a key. Only this module touches the key material; the server prints
:func:`describe_ca` so remote users can check the CA they copy.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exchange.files import tighten, write_atomic
from exchange.tlsclient import CA_CERT_NAME, TLS_DIR_NAME, client_context, default_tls_dir

__all__ = [
    "CA_CERT_NAME",
    "CA_KEY_NAME",
    "CA_VALID_DAYS",
    "DEFAULT_HOSTS",
    "RENEW_BEFORE_DAYS",
    "SERVER_CERT_NAME",
    "SERVER_KEY_NAME",
    "SERVER_VALID_DAYS",
    "TLS_DIR_NAME",
    "CertPaths",
    "TLSSetupError",
    "client_context",
    "default_tls_dir",
    "describe_ca",
    "ensure_certificates",
    "server_context",
    "serving_context",
]

CA_KEY_NAME: Final = "ca-key.pem"
SERVER_CERT_NAME: Final = "server.pem"
SERVER_KEY_NAME: Final = "server-key.pem"

CA_VALID_DAYS: Final = 3650
SERVER_VALID_DAYS: Final = 365
RENEW_BEFORE_DAYS: Final = 30
DEFAULT_HOSTS: Final[tuple[str, ...]] = ("localhost", "127.0.0.1", "::1")

_BACKDATE: Final = dt.timedelta(hours=1)  # tolerate client clocks a little behind
_HOSTNAME_RE: Final = re.compile(
    r"^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_San = str | _IP


class TLSSetupError(Exception):
    """The TLS directory is in a state this module will not repair on its own."""


@dataclass(frozen=True, slots=True)
class CertPaths:
    """Where the TLS files are, and what :func:`ensure_certificates` just created.

    Attributes:
        ca: The CA certificate (PEM), the file clients trust.
        cert: The server certificate (PEM).
        key: The server private key (PEM, 0600).
        ca_generated: A new CA was created: remote clients must copy it again.
        cert_generated: A new server certificate was issued.
        hosts: The subject alternative names of the server certificate.
    """

    ca: Path
    cert: Path
    key: Path
    ca_generated: bool
    cert_generated: bool
    hosts: tuple[str, ...]

    @property
    def generated(self) -> bool:
        """Whether anything was created on this call."""
        return self.ca_generated or self.cert_generated


# --------------------------------------------------------------------------- names


def _parse_host(host: str) -> _San | None:
    """One host as a SAN value: an IP address, a lower-case A-label name, or None (skip).

    Raises:
        ValueError: ``host`` is not an IP address nor a valid DNS name.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    else:
        return None if ip.is_unspecified else ip
    name = text.rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"not a valid host name or IP address: {host!r}") from exc
    if len(name) > 253 or not _HOSTNAME_RE.match(name):
        raise ValueError(f"not a valid host name or IP address: {host!r}")
    return name


def _wanted_sans(hosts: Sequence[str]) -> list[_San]:
    out: list[_San] = []
    for host in (*DEFAULT_HOSTS, *hosts):
        value = _parse_host(host)
        if value is not None and value not in out:
            out.append(value)
    return out


def _cert_sans(cert: x509.Certificate) -> list[_San]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[_San] = [n.lower() for n in ext.get_values_for_type(x509.DNSName)]
    ips: list[_San] = [ip for ip in ext.get_values_for_type(x509.IPAddress) if isinstance(ip, _IP)]
    return names + ips


# --------------------------------------------------------------------------- files


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _same_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


# --------------------------------------------------------------------------- issuing


def _new_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname() or "localhost"
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exch"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"exch local CA ({host})"[:64]),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_server_cert(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    sans: Sequence[_San],
    now: dt.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    general: list[x509.GeneralName] = [
        x509.DNSName(v) if isinstance(v, str) else x509.IPAddress(v) for v in sans
    ]
    not_after = min(now + dt.timedelta(days=SERVER_VALID_DAYS), ca_cert.not_valid_after_utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exch"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "exch server"),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(general), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _server_cert_ok(
    cert: x509.Certificate | None,
    key: ec.EllipticCurvePrivateKey | None,
    ca_cert: x509.Certificate,
    wanted: Sequence[_San],
    renew_at: dt.datetime,
) -> bool:
    if cert is None or key is None or not _same_key(cert, key):
        return False
    if cert.not_valid_after_utc <= renew_at:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    have = _cert_sans(cert)
    return all(v in have for v in wanted)


def ensure_certificates(
    tls_dir: Path,
    *,
    hosts: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> CertPaths:
    """Create or reuse the local CA and server certificate in ``tls_dir``.

    Args:
        tls_dir: Directory for the four PEM files (created 0700 if missing;
            an existing one is tightened to 0700).
        hosts: Extra host names or IP addresses the server certificate must
            name, e.g. the ``--host`` given (``[::1]`` brackets are accepted,
            wildcard addresses such as ``0.0.0.0`` are skipped).
        now: The current time (UTC); tests pass one, the server does not.

    Returns:
        The paths, which files were just created, and the certificate's names.

    Raises:
        ValueError: A host is neither an IP address nor a valid DNS name.
        TLSSetupError: The CA key is missing while the server certificate must
            be (re)issued, or a CA key exists without its certificate.
        OSError: The directory or files cannot be created or read.
    """
    wanted_now = _wanted_sans(hosts)
    now = dt.datetime.now(dt.UTC) if now is None else now.astimezone(dt.UTC)
    renew_at = now + dt.timedelta(days=RENEW_BEFORE_DAYS)

    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tighten(tls_dir, 0o700)
    ca_path, ca_key_path = tls_dir / CA_CERT_NAME, tls_dir / CA_KEY_NAME
    cert_path, key_path = tls_dir / SERVER_CERT_NAME, tls_dir / SERVER_KEY_NAME
    for path in (ca_key_path, key_path):
        if path.exists():
            tighten(path, 0o600)

    ca_generated = cert_generated = False
    ca_cert = _load_cert(ca_path) if ca_path.exists() else None
    ca_key = _load_key(ca_key_path) if ca_key_path.exists() else None
    if ca_path.exists() and ca_cert is None:
        raise TLSSetupError(f"{ca_path} is not a PEM certificate; move it away to start a new CA")
    if ca_cert is None and ca_key_path.exists():
        raise TLSSetupError(f"{ca_key_path} exists without {ca_path}; restore the CA or move the key away")
    if ca_cert is not None and ca_key is not None and not _same_key(ca_cert, ca_key):
        raise TLSSetupError(f"{ca_key_path} does not belong to {ca_path}")
    if ca_cert is None or (ca_key is not None and ca_cert.not_valid_after_utc <= renew_at):
        ca_cert, ca_key = _new_ca(now)
        write_atomic(ca_key_path, _key_pem(ca_key), mode=0o600)
        write_atomic(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM), mode=0o600)
        ca_generated = True

    cert = _load_cert(cert_path) if cert_path.exists() else None
    key = _load_key(key_path) if key_path.exists() else None
    if ca_generated or not _server_cert_ok(cert, key, ca_cert, wanted_now, renew_at):
        if ca_key is None:
            raise TLSSetupError(
                f"the server certificate in {tls_dir} must be re-issued but {ca_key_path} is missing"
            )
        sans = list(wanted_now)
        if cert is not None and not ca_generated:
            sans += [v for v in _cert_sans(cert) if v not in sans]
        cert, key = _new_server_cert(ca_cert, ca_key, sans, now)
        write_atomic(key_path, _key_pem(key), mode=0o600)
        write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o600)
        cert_generated = True

    assert cert is not None
    return CertPaths(
        ca=ca_path,
        cert=cert_path,
        key=key_path,
        ca_generated=ca_generated,
        cert_generated=cert_generated,
        hosts=tuple(str(v) for v in _cert_sans(cert)),
    )


# --------------------------------------------------------------------------- contexts


def server_context(certfile: Path | str, keyfile: Path | str) -> ssl.SSLContext:
    """A server-side SSL context (TLS 1.2 or newer) for the certificate and key given.

    Args:
        certfile: PEM certificate, optionally followed by its chain (``fullchain.pem``).
        keyfile: PEM private key, unencrypted.

    Returns:
        The context, ready for ``websockets.serve(..., ssl=ctx)``.

    Raises:
        FileNotFoundError: A file is missing.
        ssl.SSLError: The files are not PEM or the key does not match the certificate.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION
    ctx.load_cert_chain(certfile=str(certfile), keyfile=str(keyfile))
    return ctx


def describe_ca(ca_path: Path) -> str:
    """One line naming the CA: subject, SHA-256 fingerprint and expiry date.

    Raises:
        OSError: The file cannot be read.
        ValueError: It is not a PEM certificate.
    """
    cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
    fp = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    until = cert.not_valid_after_utc.date().isoformat()
    return f"{cert.subject.rfc4514_string()}  SHA256 {fp}  (valid until {until})"


def serving_context(
    home: Path,
    *,
    host: str,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    insecure: bool = False,
    names: Sequence[str] = (),
    say: Callable[[str], None] = print,
) -> tuple[ssl.SSLContext | None, str | None]:
    """The TLS context a server on ``host`` serves with, and the CA file clients trust.

    ``insecure`` serves plain ``ws://`` (with a loud warning); ``certfile`` and
    ``keyfile`` serve real certificates (no local CA); otherwise the local CA and
    a server certificate under ``home/tls`` are made or reused, valid for
    ``host`` and the extra public ``names`` (DNS names or IPs clients dial).

    Returns:
        ``(context or None, path of the local CA or None)``.
    """
    if insecure:
        say("WARNING: --insecure: serving plain ws:// WITHOUT TLS. Passwords and orders cross the "
            "network in clear text. Use this only on a trusted machine.")
        return None, None
    if certfile is not None and keyfile is not None:
        return server_context(certfile, keyfile), None
    paths = ensure_certificates(default_tls_dir(home), hosts=[host, *names])
    if paths.ca_generated or paths.cert_generated:
        say(f"generated a local CA and server certificate in {default_tls_dir(home)}")
    say(f"TLS CA: {describe_ca(paths.ca)}; remote clients: copy {paths.ca} and pass --cafile")
    return server_context(paths.cert, paths.key), str(paths.ca)
