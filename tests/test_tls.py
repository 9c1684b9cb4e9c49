"""Local CA and server certificate: names, permissions, reuse, renewal, real handshakes."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from exchange import tls
from exchange.tls import (
    CertPaths,
    TLSSetupError,
    client_context,
    describe_ca,
    ensure_certificates,
    server_context,
)


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(path: Path) -> tuple[set[str], set[str]]:
    ext = _load(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(ext.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}
    return names, ips


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    home = tmp_path_factory.mktemp("home")
    return ensure_certificates(home / "tls", hosts=["exch.example.com", "10.1.2.3"])


# --------------------------------------------------------------------------- generation


def test_first_start_generates_everything(tmp_path: Path) -> None:
    paths = ensure_certificates(tmp_path / "tls")
    assert paths.ca_generated and paths.cert_generated and paths.generated
    assert paths.ca == tmp_path / "tls" / "ca.pem"
    assert paths.cert == tmp_path / "tls" / "server.pem"
    assert paths.key == tmp_path / "tls" / "server-key.pem"
    assert (tmp_path / "tls" / "ca-key.pem").is_file()
    assert set(paths.hosts) == {"localhost", "127.0.0.1", "::1"}


def test_sans_cover_defaults_and_extra_hosts(certs: CertPaths) -> None:
    names, ips = _sans(certs.cert)
    assert names == {"localhost", "exch.example.com"}
    assert ips == {"127.0.0.1", "::1", "10.1.2.3"}


def test_certificate_shape(certs: CertPaths) -> None:
    ca, server = _load(certs.ca), _load(certs.cert)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(server.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server.verify_directly_issued_by(ca)
    ca_days = (ca.not_valid_after_utc - ca.not_valid_before_utc).days
    server_days = (server.not_valid_after_utc - server.not_valid_before_utc).days
    assert ca_days == tls.CA_VALID_DAYS
    assert server_days == tls.SERVER_VALID_DAYS


def test_permissions(certs: CertPaths) -> None:
    tls_dir = certs.ca.parent
    assert _mode(tls_dir) == 0o700
    assert _mode(certs.key) == 0o600
    assert _mode(tls_dir / "ca-key.pem") == 0o600
    assert _mode(certs.cert) == 0o600  # public, but every file of the home is its owner's only
    assert _mode(certs.ca) == 0o600


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    paths = ensure_certificates(tmp_path / "tls")
    paths.key.chmod(0o644)
    (tmp_path / "tls").chmod(0o755)
    again = ensure_certificates(tmp_path / "tls")
    assert not again.generated
    assert _mode(paths.key) == 0o600
    assert _mode(tmp_path / "tls") == 0o700


def test_host_parsing(tmp_path: Path) -> None:
    paths = ensure_certificates(
        tmp_path / "tls", hosts=["[fe80::1]", "0.0.0.0", "::", "Trade.Example.COM.", "", "127.0.0.1"]
    )
    names, ips = _sans(paths.cert)
    assert names == {"localhost", "trade.example.com"}
    assert ips == {"127.0.0.1", "::1", "fe80::1"}
    with pytest.raises(ValueError):
        ensure_certificates(tmp_path / "tls", hosts=["exch.example.com:8443"])
    with pytest.raises(ValueError):
        ensure_certificates(tmp_path / "tls", hosts=["bad host"])


# --------------------------------------------------------------------------- reuse and renewal


def test_second_start_reuses_files(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path / "tls", hosts=["example.org"])
    before = {p: p.read_bytes() for p in first.ca.parent.iterdir()}
    second = ensure_certificates(tmp_path / "tls", hosts=["example.org"])
    assert not second.generated
    assert second.hosts == first.hosts
    assert {p: p.read_bytes() for p in second.ca.parent.iterdir()} == before
    # the default names are always there: no hosts given is no reason to renew
    assert not ensure_certificates(tmp_path / "tls").generated


def test_new_host_reissues_with_same_ca(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path / "tls", hosts=["a.example"])
    ca_before = first.ca.read_bytes()
    second = ensure_certificates(tmp_path / "tls", hosts=["b.example", "192.0.2.7"])
    assert second.cert_generated and not second.ca_generated
    assert second.ca.read_bytes() == ca_before
    names, ips = _sans(second.cert)
    assert {"a.example", "b.example"} <= names  # earlier names are kept
    assert "192.0.2.7" in ips
    _load(second.cert).verify_directly_issued_by(_load(second.ca))
    assert not ensure_certificates(tmp_path / "tls", hosts=["a.example"]).generated


def test_expiring_certificate_is_renewed(tmp_path: Path) -> None:
    real_now = dt.datetime.now(dt.UTC)
    old = ensure_certificates(tmp_path / "tls", now=real_now - dt.timedelta(days=tls.SERVER_VALID_DAYS - 40))
    old_serial = _load(old.cert).serial_number
    # 40 days left: still fine
    assert not ensure_certificates(tmp_path / "tls", now=real_now).generated
    # 29 days left: renewed, same CA
    renewed = ensure_certificates(tmp_path / "tls", now=real_now + dt.timedelta(days=11))
    assert renewed.cert_generated and not renewed.ca_generated
    assert _load(renewed.cert).serial_number != old_serial
    assert _load(renewed.cert).not_valid_after_utc > real_now + dt.timedelta(days=300)


def test_expiring_ca_is_replaced(tmp_path: Path) -> None:
    real_now = dt.datetime.now(dt.UTC)
    old = ensure_certificates(tmp_path / "tls", now=real_now - dt.timedelta(days=tls.CA_VALID_DAYS - 10))
    old_ca = old.ca.read_bytes()
    new = ensure_certificates(tmp_path / "tls", now=real_now)
    assert new.ca_generated and new.cert_generated
    assert new.ca.read_bytes() != old_ca
    _load(new.cert).verify_directly_issued_by(_load(new.ca))


def test_server_cert_never_outlives_ca(tmp_path: Path) -> None:
    real_now = dt.datetime.now(dt.UTC)
    ensure_certificates(tmp_path / "tls", now=real_now - dt.timedelta(days=tls.CA_VALID_DAYS - 100))
    paths = ensure_certificates(tmp_path / "tls", hosts=["new.example"], now=real_now)
    assert paths.cert_generated and not paths.ca_generated
    assert _load(paths.cert).not_valid_after_utc <= _load(paths.ca).not_valid_after_utc


def test_foreign_or_broken_server_files_are_replaced(tmp_path: Path) -> None:
    paths = ensure_certificates(tmp_path / "tls")
    other = ensure_certificates(tmp_path / "other")
    paths.cert.write_bytes(other.cert.read_bytes())  # signed by another CA, key mismatch
    assert ensure_certificates(tmp_path / "tls").cert_generated
    paths.key.write_bytes(b"not a key")
    assert ensure_certificates(tmp_path / "tls").cert_generated
    paths.cert.unlink()
    fixed = ensure_certificates(tmp_path / "tls")
    assert fixed.cert_generated and not fixed.ca_generated


def test_missing_ca_key_is_fine_until_a_reissue(tmp_path: Path) -> None:
    paths = ensure_certificates(tmp_path / "tls")
    (tmp_path / "tls" / "ca-key.pem").unlink()  # an operator who keeps the CA key offline
    assert not ensure_certificates(tmp_path / "tls").generated
    with pytest.raises(TLSSetupError):
        ensure_certificates(tmp_path / "tls", hosts=["needs.reissue"])
    paths.ca.unlink()
    assert ensure_certificates(tmp_path / "tls").ca_generated


def test_ca_key_without_ca_is_an_error(tmp_path: Path) -> None:
    paths = ensure_certificates(tmp_path / "tls")
    paths.ca.unlink()
    with pytest.raises(TLSSetupError):
        ensure_certificates(tmp_path / "tls")


def test_describe_ca(certs: CertPaths) -> None:
    line = describe_ca(certs.ca)
    assert "\n" not in line
    assert "CN=exch local CA" in line
    fingerprint = line.split("SHA256 ", 1)[1].split()[0]
    assert len(fingerprint.split(":")) == 32


# --------------------------------------------------------------------------- contexts and handshakes


async def _serve(ctx: ssl.SSLContext) -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(await reader.readline())
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    return server, port


async def _round_trip(port: int, ctx: ssl.SSLContext, host: str = "127.0.0.1") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=host)
    try:
        writer.write(b"hello\n")
        await writer.drain()
        return await reader.readline()
    finally:
        writer.close()


async def test_handshake_with_cafile(certs: CertPaths) -> None:
    server, port = await _serve(server_context(certs.cert, certs.key))
    async with server:
        ctx = client_context(cafile=certs.ca)
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT  # what Python 3.13+ does by default
        assert await _round_trip(port, ctx) == b"hello\n"
        assert await _round_trip(port, ctx, host="localhost") == b"hello\n"
        assert await _round_trip(port, ctx, host="exch.example.com") == b"hello\n"


async def test_handshake_trusts_home_ca(tmp_path: Path) -> None:
    paths = ensure_certificates(tmp_path / "tls")
    server, port = await _serve(server_context(paths.cert, paths.key))
    async with server:
        assert await _round_trip(port, client_context(home=tmp_path)) == b"hello\n"


async def test_handshake_without_ca_fails(certs: CertPaths, tmp_path: Path) -> None:
    server, port = await _serve(server_context(certs.cert, certs.key))
    async with server:
        with pytest.raises(ssl.SSLCertVerificationError):
            await _round_trip(port, client_context())
        with pytest.raises(ssl.SSLCertVerificationError):
            await _round_trip(port, client_context(home=tmp_path))  # no tls/ca.pem there
        other = ensure_certificates(tmp_path / "other")
        with pytest.raises(ssl.SSLCertVerificationError):
            await _round_trip(port, client_context(cafile=other.ca))


async def test_handshake_wrong_host_fails(certs: CertPaths) -> None:
    server, port = await _serve(server_context(certs.cert, certs.key))
    async with server:
        with pytest.raises(ssl.SSLCertVerificationError):
            await _round_trip(port, client_context(cafile=certs.ca), host="evil.example")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_server_refuses_tls_1_1(certs: CertPaths) -> None:
    server, port = await _serve(server_context(certs.cert, certs.key))
    async with server:
        ctx = client_context(cafile=certs.ca)
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await _round_trip(port, ctx)


def test_context_errors(tmp_path: Path, certs: CertPaths) -> None:
    with pytest.raises(FileNotFoundError):
        client_context(cafile=tmp_path / "missing.pem")
    with pytest.raises(FileNotFoundError):
        server_context(tmp_path / "missing.pem", certs.key)
    other = ensure_certificates(tmp_path / "other")
    with pytest.raises(ssl.SSLError):
        server_context(certs.cert, other.key)  # key of another certificate


def test_ip_sans_are_ip_addresses(certs: CertPaths) -> None:
    ext = _load(certs.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("::1") in ext.get_values_for_type(x509.IPAddress)
    assert "127.0.0.1" not in ext.get_values_for_type(x509.DNSName)


def test_serving_context_adds_public_names_to_the_certificate(tmp_path: Path) -> None:
    notes: list[str] = []
    context, ca = tls.serving_context(tmp_path, host="0.0.0.0", names=["exch.example.com", "203.0.113.7"],
                                      say=notes.append)
    assert context is not None and ca == str(tmp_path / "tls" / "ca.pem")
    cert = x509.load_pem_x509_certificate((tmp_path / "tls" / "server.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "exch.example.com" in sans.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("203.0.113.7") in sans.get_values_for_type(x509.IPAddress)
    assert any("remote clients" in n for n in notes)
    plain, no_ca = tls.serving_context(tmp_path, host="127.0.0.1", insecure=True, say=notes.append)
    assert plain is None and no_ca is None and "WITHOUT TLS" in notes[-1]
