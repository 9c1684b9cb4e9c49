"""The client address behind trusted proxies (exchange/gateway/forwarded.py), without a socket."""

from __future__ import annotations

import ipaddress
import random

import pytest

from exchange.gateway.forwarded import (
    HEADERS,
    TrustedProxies,
    client_address,
    parse_address,
    parse_network,
)

PROXIES = TrustedProxies(["10.0.0.0/8", "172.16.0.0/12", "fdaa::/16"])
PROXY = "10.0.0.2"


def client(*headers: tuple[str, str], peer: str = PROXY, trusted: TrustedProxies = PROXIES) -> str | None:
    found = client_address(peer, list(headers), trusted)
    return None if found is None else str(found)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:5678", "203.0.113.7"),
        ('"203.0.113.7:5678"', "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ('"[2001:db8::1]:4711"', "2001:db8::1"),
        ("[2001:db8::1]:_port", "2001:db8::1"),  # RFC 7239 obfuscated port
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4-mapped counts as IPv4
        ("[::ffff:203.0.113.7]:80", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::1"),  # zone dropped
        ("", None),
        ("unknown", None),
        ("_hidden", None),
        ("203.0.113", None),
        ("203.0.113.256", None),
        ("203.0.113.07", None),  # leading zeros are ambiguous (octal?): refused
        ("203.0.113.7:", None),
        ("203.0.113.7:port", None),
        ("203.0.113.7:123456", None),
        ("203.0.113.7:\u0665", None),  # non-ASCII port digit
        ("[203.0.113.7]", None),
        ("[2001:db8::1", None),
        ("[2001:db8::1]x", None),
        ("2001:db8::g", None),
        ("localhost", None),
        ("1" * 500, None),
        ("\u0661\u0662.\u0660.\u0660.\u0661", None),  # non-ASCII (Arabic-Indic) digits
    ],
)
def test_parse_address(text: str, expected: str | None) -> None:
    found = parse_address(text)
    assert (None if found is None else str(found)) == expected


def test_parse_network_takes_cidrs_and_single_addresses_and_refuses_the_rest() -> None:
    assert parse_network("10.0.0.0/8") == ipaddress.ip_network("10.0.0.0/8")
    assert parse_network(" fdaa::/16 ") == ipaddress.ip_network("fdaa::/16")
    assert parse_network("127.0.0.1") == ipaddress.ip_network("127.0.0.1/32")
    assert parse_network("::1") == ipaddress.ip_network("::1/128")
    for bad in ("", "not-a-cidr", "10.0.0.0/33", "::/129", "10.0.0.0/8/8", "10.0.0.*"):
        with pytest.raises(ValueError, match="is not an IP network"):
            parse_network(bad)
    with pytest.raises(ValueError, match=r"host bits set: did you mean 10\.0\.0\.0/8 or 10\.0\.0\.1/32"):
        parse_network("10.0.0.1/8")  # a typo that would trust a whole /8
    with pytest.raises(ValueError, match="is not an IP network"):
        TrustedProxies(["10.0.0.0/8", "nope"])


def test_trusted_proxies_match_by_version_and_map_ipv4_in_ipv6() -> None:
    assert PROXIES.trusts(ipaddress.ip_address("10.1.2.3"))
    assert PROXIES.trusts(ipaddress.ip_address("172.31.255.255"))
    assert not PROXIES.trusts(ipaddress.ip_address("172.32.0.1"))
    assert PROXIES.trusts(ipaddress.ip_address("fdaa:0:1::2"))
    assert PROXIES.trusts(ipaddress.ip_address("::ffff:10.0.0.2"))
    assert not PROXIES.trusts(ipaddress.ip_address("::a00:2"))  # 10.0.0.2's bits, but IPv6
    assert not TrustedProxies() and PROXIES
    assert str(TrustedProxies(["127.0.0.1/32", "::1"])) == "127.0.0.1/32, ::1/128"


# --------------------------------------------------------------------------- who is the client


def test_nothing_is_read_from_an_untrusted_peer() -> None:
    spoof = [("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9"),
             ("Fly-Client-IP", "203.0.113.9"), ("X-Real-IP", "203.0.113.9")]
    for header in spoof:
        assert client(header, peer="198.51.100.4") is None  # straight from the internet
        assert client(header, trusted=TrustedProxies()) is None  # the default: trust no one
        assert client(header) == "203.0.113.9"  # the same header from a trusted proxy
    assert client(*spoof, peer="not an address") is None
    assert client(*spoof, peer="") is None


def test_x_forwarded_for_is_read_from_the_right() -> None:
    assert client(("X-Forwarded-For", "203.0.113.9")) == "203.0.113.9"
    assert client(("X-Forwarded-For", "203.0.113.9:41234")) == "203.0.113.9"
    # the left part is whatever the client sent: a spoofed entry there is never taken
    assert client(("X-Forwarded-For", "1.1.1.1, 203.0.113.9")) == "203.0.113.9"
    assert client(("X-Forwarded-For", "10.0.0.99, 203.0.113.9")) == "203.0.113.9"
    # trusted proxies on the right are skipped
    assert client(("X-Forwarded-For", "1.1.1.1, 203.0.113.9, 10.0.0.3, 172.16.5.4")) == "203.0.113.9"
    assert client(("X-Forwarded-For", "203.0.113.9,fdaa::3")) == "203.0.113.9"
    # every entry a trusted address: the left-most (a client inside the trusted network)
    assert client(("X-Forwarded-For", "10.0.0.7, 10.0.0.3")) == "10.0.0.7"
    # repeated header lines are one list, in order
    assert client(("X-Forwarded-For", "1.1.1.1"), ("x-forwarded-for", "203.0.113.9, 10.0.0.3")) == "203.0.113.9"
    # IPv6, bracketed, with ports
    assert client(("X-Forwarded-For", "2001:db8::1")) == "2001:db8::1"
    assert client(("X-Forwarded-For", "[2001:db8::1]:4711, 10.0.0.3")) == "2001:db8::1"
    # empty list elements mean nothing
    assert client(("X-Forwarded-For", ", 203.0.113.9 ,,")) == "203.0.113.9"


def test_x_forwarded_for_garbage_falls_back_to_the_peer() -> None:
    for value in ("", " ", ",", "unknown", "203.0.113.9, garbage", "203.0.113.9, 10.0.0.3, ???",
                  "garbage, 10.0.0.3", "203.0.113.9 10.0.0.3", "\x00", "1" * 10_000):
        assert client(("X-Forwarded-For", value)) is None, value
    # garbage left of the client's own entry is never reached
    assert client(("X-Forwarded-For", "garbage, <script>, 203.0.113.9")) == "203.0.113.9"


def test_forwarded_rfc_7239() -> None:
    assert client(("Forwarded", "for=203.0.113.9")) == "203.0.113.9"
    assert client(("Forwarded", "For=203.0.113.9")) == "203.0.113.9"  # parameter names are case-insensitive
    assert client(("Forwarded", 'for="203.0.113.9:4711";proto=https;by=10.0.0.2')) == "203.0.113.9"
    assert client(("Forwarded", 'for="[2001:db8:cafe::17]:4711"')) == "2001:db8:cafe::17"
    assert client(("Forwarded", 'for="[2001:db8:cafe::17]"')) == "2001:db8:cafe::17"
    assert client(("Forwarded", "proto=https; for=203.0.113.9 ;host=example.com")) == "203.0.113.9"
    # a list, read from the right, trusted hops skipped, spoofed left part ignored
    assert client(("Forwarded", "for=1.1.1.1, for=203.0.113.9, for=10.0.0.3;by=10.0.0.2")) == "203.0.113.9"
    assert client(("Forwarded", "for=1.1.1.1"), ("Forwarded", "for=203.0.113.9")) == "203.0.113.9"
    # commas and semicolons inside quoted strings do not split
    assert client(("Forwarded", 'for=203.0.113.9;host="a,b;c", for=10.0.0.3')) == "203.0.113.9"
    assert client(("Forwarded", r'for=203.0.113.9;x="a\"b,c"')) == "203.0.113.9"
    # a client's garbage left of the proxy's element does not matter
    assert client(("Forwarded", "for=, ;;=x, for=203.0.113.9")) == "203.0.113.9"


@pytest.mark.parametrize(
    "value",
    [
        "for=unknown",  # the proxy does not know
        "for=_hidden",  # obfuscated
        "proto=https",  # no for=
        "for=203.0.113.9;for=198.51.100.1",  # a parameter twice
        "for",  # no value
        "=203.0.113.9",
        'for="203.0.113.9',  # unterminated quote
        'for=1.1.1.1, for="[2001:db8::1]',  # ... that swallows the rest
        'for=203.0.113.9, for="unterminated',
        "for=203.0.113.9, for=unknown",  # unknown right of the client: cannot vouch for the left
        "for=garbage, for=10.0.0.3",
        "for=2001:db8::1]",
        "",
        ",",
    ],
)
def test_forwarded_garbage_falls_back_to_the_peer(value: str) -> None:
    assert client(("Forwarded", value)) is None


def test_single_address_headers() -> None:
    assert client(("Fly-Client-IP", "203.0.113.9")) == "203.0.113.9"
    assert client(("X-Real-IP", "2001:db8::1")) == "2001:db8::1"
    assert client(("X-Real-IP", " [2001:db8::1]:80 ")) == "2001:db8::1"
    assert client(("Fly-Client-IP", "10.0.0.7")) == "10.0.0.7"  # one address: taken even if trusted
    assert client(("Fly-Client-IP", "1.1.1.1"), ("Fly-Client-IP", "203.0.113.9")) == "203.0.113.9"  # the last
    assert client(("Fly-Client-IP", "1.1.1.1, 203.0.113.9")) is None  # not a list
    assert client(("X-Real-IP", "garbage")) is None


def test_the_first_header_present_decides() -> None:
    assert HEADERS == ("forwarded", "x-forwarded-for", "fly-client-ip", "x-real-ip")
    all_four = [("X-Real-IP", "203.0.113.4"), ("Fly-Client-IP", "203.0.113.3"),
                ("X-Forwarded-For", "203.0.113.2"), ("Forwarded", "for=203.0.113.1")]
    assert client(*all_four) == "203.0.113.1"
    assert client(*all_four[:3]) == "203.0.113.2"
    assert client(*all_four[:2]) == "203.0.113.3"
    assert client(*all_four[:1]) == "203.0.113.4"
    # present but unreadable: the peer, not the next header (no second guess)
    assert client(("Forwarded", "for=unknown"), ("X-Forwarded-For", "203.0.113.2")) is None
    assert client(("X-Forwarded-For", "garbage"), ("Fly-Client-IP", "203.0.113.3")) is None
    # other headers are not read
    assert client(("X-Client-IP", "203.0.113.9"), ("True-Client-IP", "203.0.113.9")) is None
    assert client() is None


def test_an_ipv6_and_an_ipv4_mapped_proxy() -> None:
    assert client(("X-Forwarded-For", "203.0.113.9"), peer="fdaa:0:1:a7b::2") == "203.0.113.9"
    assert client(("X-Forwarded-For", "203.0.113.9"), peer="::ffff:10.0.0.2") == "203.0.113.9"
    assert client(("X-Forwarded-For", "203.0.113.9"), peer="2001:db8::2") is None
    assert client(("X-Forwarded-For", "::ffff:203.0.113.9")) == "203.0.113.9"


def test_random_headers_never_raise() -> None:
    rng = random.Random(7239)
    alphabet = 'for=[]:;,"\\ _.%0123456789abcdef:ABCDEF\x00\t\u00e9'
    for _ in range(3000):
        name = rng.choice(("Forwarded", "X-Forwarded-For", "Fly-Client-IP", "X-Real-IP"))
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        found = client_address(PROXY, [(name, value)], PROXIES)
        assert found is None or isinstance(found, ipaddress.IPv4Address | ipaddress.IPv6Address)
