"""Who the client is when it connects through a trusted reverse proxy.

Behind a TLS-terminating proxy or load balancer (nginx, Caddy, HAProxy, a
cloud load balancer) every connection comes from the proxy, so the
per-address login throttle, the session list and the logs would all see one
address. A proxy names the client it serves in a request header instead; this
module reads that name — but only when the TCP peer is one of the operator's
``--trusted-proxy`` networks, since any other peer can write whatever it likes
into its headers.

The operator names the one header to read (``--proxy-header``; the default
is ``X-Forwarded-For``)::

    X-Forwarded-For: 203.0.113.7, 10.0.0.2                               de facto
    Forwarded: for=203.0.113.7;proto=https, for="[2001:db8::1]:4711"   RFC 7239
    Fly-Client-IP: 203.0.113.7                                           fly.io
    X-Real-IP: 203.0.113.7                                               nginx

Only that header is read; the others are ignored entirely, present or not.
Why one header and not "the first of these present": a proxy writes or
appends to the headers it knows and passes every other header of the request
on untouched — nginx and Caddy set ``X-Forwarded-For`` but forward a
``Forwarded`` the client wrote. Had exch tried ``Forwarded`` first, a client
behind such a proxy could pick its address by sending ``Forwarded:
for=1.2.3.4``; any header the proxy does not set is the client's to write. So
the operator names the header the proxy itself sets, and nothing else counts.

``Forwarded`` and ``X-Forwarded-For`` are lists to which each proxy appends
the address it received the request from, so their left part is whatever the
client sent. They are read from the right: trusted proxies are skipped, and
the first address that is not one is the client. ``Fly-Client-IP`` and
``X-Real-IP`` hold one address, which the proxy sets (it must overwrite a
client's copy: choose them only for a proxy that does).

Nothing here raises on what a peer sends: a header that is malformed, names
``unknown`` or an obfuscated identifier (``_hidden``) before an untrusted
address is reached, or is empty, gives ``None``, and the caller keeps the peer
address. Addresses may carry a port (``1.2.3.4:5678``, ``[2001:db8::1]:4711``)
or be quoted; IPv4-mapped IPv6 addresses count as their IPv4 address and IPv6
zone identifiers are dropped.

Pure: no sockets, no websockets types; the endpoint passes the peer address
and the handshake's header pairs in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

__all__ = [
    "DEFAULT_HEADER",
    "HEADERS",
    "IPAddress",
    "IPNetwork",
    "TrustedProxies",
    "client_address",
    "parse_address",
    "parse_header",
    "parse_network",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HEADERS: Final = ("x-forwarded-for", "forwarded", "fly-client-ip", "x-real-ip")
"""The headers one can choose to read, lower-case; the first is the default."""

DEFAULT_HEADER: Final = HEADERS[0]

_SHOWN: Final = {"x-forwarded-for": "X-Forwarded-For", "forwarded": "Forwarded", "fly-client-ip": "Fly-Client-IP",
                 "x-real-ip": "X-Real-IP"}

_MAX_ADDRESS = 100  # longer than any address with a port and quotes: garbage, not parsed


def parse_network(text: str) -> IPNetwork:
    """One ``--trusted-proxy`` value: a network in CIDR notation, or one address.

    Args:
        text: e.g. ``10.0.0.0/8``, ``fdaa::/16``, ``127.0.0.1`` (a /32) or ``::1`` (a /128).

    Returns:
        The network.

    Raises:
        ValueError: ``text`` is not a network, or has bits set beyond its prefix
            (``10.0.0.1/8``: a typo that would silently trust a whole /8).
    """
    spec = text.strip()
    try:
        return ipaddress.ip_network(spec)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(spec, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP network (e.g. 10.0.0.0/8, fdaa::/16 or 127.0.0.1)") from None
    address = spec.split("/", 1)[0]
    raise ValueError(f"{text!r} has host bits set: did you mean {loose} or {address}/{loose.max_prefixlen}?")


def parse_header(text: str) -> str:
    """One ``--proxy-header`` value: the name of a header in :data:`HEADERS`, any case.

    Returns:
        The name in lower case, e.g. ``x-forwarded-for`` for ``X-Forwarded-For``.

    Raises:
        ValueError: not one of :data:`HEADERS`.
    """
    name = text.strip().lower()
    if name not in HEADERS:
        raise ValueError(f"{text!r} is not one of {', '.join(HEADERS)}")
    return name


def parse_address(text: str) -> IPAddress | None:
    """The IP address in one header entry, or ``None`` if it holds none.

    Accepts ``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]``,
    ``[2001:db8::1]:4711``, each optionally in double quotes. A zone
    (``fe80::1%eth0``) is dropped; an IPv4-mapped IPv6 address becomes IPv4.
    """
    value = text.strip()
    if len(value) > _MAX_ADDRESS:
        return None
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1].strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or not _is_port_suffix(value[end + 1:]):
            return None
        value = value[1:end]
        if ":" not in value:  # "[1.2.3.4]" is not how an IPv4 address is written
            return None
    elif value.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has two or more colons
        value, port = value.split(":")
        if not _is_port_suffix(":" + port):
            return None
    value = value.split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return _plain(ip)


def _is_port_suffix(text: str) -> bool:
    """``""`` or ``:PORT`` with 1 to 5 digits (RFC 7239 also allows obfuscated ``:_port``)."""
    if not text:
        return True
    port = text[1:]
    if text[0] != ":" or not port:
        return False
    if port.startswith("_"):
        return all(c.isalnum() or c in "._-" for c in port[1:])
    return len(port) <= 5 and port.isascii() and port.isdigit()


def _plain(ip: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 as IPv4, so one host has one key."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class TrustedProxies:
    """The networks whose connections may name the client, and the one header they name it in.

    Args:
        networks: CIDR strings (see :func:`parse_network`) or networks. Empty:
            trust no one (headers are never read).
        header: the header read from them (see :func:`parse_header`, any case);
            every other header is ignored.

    Raises:
        ValueError: a string that is not a network, or a header not in :data:`HEADERS`.
    """

    __slots__ = ("header", "networks")

    def __init__(self, networks: Iterable[str | IPNetwork] = (), header: str = DEFAULT_HEADER) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            parse_network(n) if isinstance(n, str) else n for n in networks
        )
        self.header: str = parse_header(header)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self.networks]!r}, header={self.header!r})"

    def __str__(self) -> str:
        """E.g. ``X-Forwarded-For of trusted proxies 10.0.0.0/8, fdaa::/16``."""
        if not self.networks:
            return "no trusted proxies"
        return f"{self.header_name} of trusted proxies {', '.join(str(n) for n in self.networks)}"

    @property
    def header_name(self) -> str:
        """The header as it is usually written, e.g. ``X-Forwarded-For``."""
        return _SHOWN[self.header]

    def trusts(self, ip: IPAddress) -> bool:
        """Whether ``ip`` is inside one of the trusted networks."""
        ip = _plain(ip)
        return any(ip.version == net.version and ip in net for net in self.networks)


def client_address(peer: str, headers: Iterable[tuple[str, str]], trusted: TrustedProxies) -> IPAddress | None:
    """The client a trusted proxy names, or ``None`` to keep the peer's own address.

    Args:
        peer: the TCP peer's IP address (as the socket reports it).
        headers: the handshake request's ``(name, value)`` pairs, in order
            (repeated headers are joined as one list, as HTTP says).
        trusted: the trusted proxies and the one header to read (``trusted.header``).

    Returns:
        The client's address when ``peer`` is trusted and ``trusted.header``
        names one; ``None`` when ``peer`` is not trusted (headers ignored),
        that header is absent, or it is malformed. Every other header is
        ignored, whatever it says.
    """
    if not trusted:
        return None
    peer_ip = parse_address(peer)
    if peer_ip is None or not trusted.trusts(peer_ip):
        return None
    key = trusted.header
    values = [value for name, value in headers if name.strip().lower() == key]
    if not values:
        return None
    if key == "forwarded":
        return _walk(_forwarded_for(",".join(values)), trusted)
    if key == "x-forwarded-for":
        return _walk([parse_address(e) for e in ",".join(values).split(",") if e.strip()], trusted)
    return parse_address(values[-1])  # one address, set by the proxy: its last line


def _walk(entries: list[IPAddress | None], trusted: TrustedProxies) -> IPAddress | None:
    """From the right: skip trusted proxies; the first other address is the client.

    ``None`` in the chain (an entry that is no address) stops the walk: what
    is left of it cannot be vouched for. When every entry is a trusted
    address, the left-most is the client (one inside the trusted network).
    """
    for ip in reversed(entries):
        if ip is None:
            return None
        if not trusted.trusts(ip):
            return ip
    return entries[0] if entries else None


def _forwarded_for(value: str) -> list[IPAddress | None]:
    """The ``for=`` address of each element of a ``Forwarded`` value, left to right.

    An element without ``for``, with ``for=unknown`` or an obfuscated name, or
    that does not parse, gives ``None``; so does an unterminated quote (it
    swallows everything to its right).
    """
    elements = _split(value, ",")
    if elements is None:
        return [None]
    chain: list[IPAddress | None] = []
    for element in elements:
        if not element.strip():
            continue  # empty list elements are allowed and mean nothing (RFC 9110 §5.6.1)
        chain.append(_element_for(element))
    return chain


def _element_for(element: str) -> IPAddress | None:
    """The ``for=`` address of one ``Forwarded`` element (``None``: none, or malformed)."""
    pairs = _split(element, ";")
    if pairs is None:
        return None
    node: IPAddress | None = None
    seen = False
    for pair in pairs:
        if not pair.strip():
            continue
        name, eq, raw = pair.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            return None
        if name == "for":
            if seen:  # a parameter twice in one element is malformed (RFC 7239 §4)
                return None
            seen = True
            node = parse_address(_unquote(raw.strip()))
    return node


def _split(text: str, sep: str) -> list[str] | None:
    """Split ``text`` at ``sep`` outside double-quoted strings (with ``\\`` escapes).

    Returns:
        The parts, or ``None`` if a quoted string is not terminated.
    """
    parts: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for i, c in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == sep and not quoted:
            parts.append(text[start:i])
            start = i + 1
    if quoted:
        return None
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    """A ``token`` or ``quoted-string`` value without its quotes and escapes."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        out = []
        escaped = False
        for c in value[1:-1]:
            if escaped or c != "\\":
                out.append(c)
                escaped = False
            else:
                escaped = True
        return "".join(out)
    return value
