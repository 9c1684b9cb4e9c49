"""The client address behind trusted proxies (exchange/serving/forwarded.py), without a socket."""

from __future__ import annotations

import ipaddress
import random

import pytest

from exchange.serving.forwarded import (
    DEFAULT_HEADER,
    HEADERS,
    TrustedProxies,
    client_address,
    parse_address,
    parse_header,
    parse_network,
)

NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "fdaa::/16"]
PROXIES = TrustedProxies(NETWORKS)  # X-Forwarded-For, the default
PROXY = "10.0.0.2"


def via(header: str) -> TrustedProxies:
    """The same trusted networks, read through ``header``."""
    return TrustedProxies(NETWORKS, header=header)


FWD = via("forwarded")


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


def test_the_header_is_one_of_four_in_any_case_and_x_forwarded_for_by_default() -> None:
    assert HEADERS == ("x-forwarded-for", "forwarded", "fly-client-ip", "x-real-ip")
    assert DEFAULT_HEADER == "x-forwarded-for" == PROXIES.header
    assert parse_header(" Fly-Client-IP ") == "fly-client-ip"
    assert TrustedProxies(NETWORKS, header="FORWARDED").header == "forwarded"
    for bad in ("", "x-client-ip", "True-Client-IP", "forwarded,x-forwarded-for", "x_forwarded_for"):
        with pytest.raises(ValueError, match="is not one of x-forwarded-for, forwarded, fly-client-ip, x-real-ip"):
            parse_header(bad)
        with pytest.raises(ValueError, match="is not one of"):
            TrustedProxies(NETWORKS, header=bad)


def test_trusted_proxies_say_which_header_of_which_networks() -> None:
    assert str(TrustedProxies(["127.0.0.1/32", "::1"])) == "X-Forwarded-For of trusted proxies 127.0.0.1/32, ::1/128"
    assert str(TrustedProxies(["10.0.0.0/8"], header="fly-client-ip")) == "Fly-Client-IP of trusted proxies 10.0.0.0/8"
    assert str(FWD).startswith("Forwarded of trusted proxies 10.0.0.0/8, ")
    assert str(TrustedProxies(["10.0.0.0/8"], header="X-REAL-IP")).startswith("X-Real-IP of")
    assert str(TrustedProxies()) == "no trusted proxies"
    assert repr(FWD) == "TrustedProxies(['10.0.0.0/8', '172.16.0.0/12', 'fdaa::/16'], header='forwarded')"


# --------------------------------------------------------------------------- who is the client


def test_nothing_is_read_from_an_untrusted_peer() -> None:
    spoof = [("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9"),
             ("Fly-Client-IP", "203.0.113.9"), ("X-Real-IP", "203.0.113.9")]
    for header in spoof:
        trusted = via(header[0])
        assert client(header, peer="198.51.100.4", trusted=trusted) is None  # straight from the internet
        assert client(header, trusted=TrustedProxies(header=header[0])) is None  # the default: trust no one
        assert client(header, trusted=trusted) == "203.0.113.9"  # the same header from a trusted proxy
        assert client(*spoof, peer="not an address", trusted=trusted) is None
        assert client(*spoof, peer="", trusted=trusted) is None


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
    assert client(("Forwarded", "for=203.0.113.9"), trusted=FWD) == "203.0.113.9"
    assert client(("Forwarded", "For=203.0.113.9"), trusted=FWD) == "203.0.113.9"  # names are case-insensitive
    assert client(("Forwarded", 'for="203.0.113.9:4711";proto=https;by=10.0.0.2'), trusted=FWD) == "203.0.113.9"
    assert client(("Forwarded", 'for="[2001:db8:cafe::17]:4711"'), trusted=FWD) == "2001:db8:cafe::17"
    assert client(("Forwarded", 'for="[2001:db8:cafe::17]"'), trusted=FWD) == "2001:db8:cafe::17"
    assert client(("Forwarded", "proto=https; for=203.0.113.9 ;host=example.com"), trusted=FWD) == "203.0.113.9"
    # a list, read from the right, trusted hops skipped, spoofed left part ignored
    assert client(("Forwarded", "for=1.1.1.1, for=203.0.113.9, for=10.0.0.3;by=10.0.0.2"), trusted=FWD) == "203.0.113.9"
    assert client(("Forwarded", "for=1.1.1.1"), ("Forwarded", "for=203.0.113.9"), trusted=FWD) == "203.0.113.9"
    # commas and semicolons inside quoted strings do not split
    assert client(("Forwarded", 'for=203.0.113.9;host="a,b;c", for=10.0.0.3'), trusted=FWD) == "203.0.113.9"
    assert client(("Forwarded", r'for=203.0.113.9;x="a\"b,c"'), trusted=FWD) == "203.0.113.9"
    # a client's garbage left of the proxy's element does not matter
    assert client(("Forwarded", "for=, ;;=x, for=203.0.113.9"), trusted=FWD) == "203.0.113.9"


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
    assert client(("Forwarded", value), trusted=FWD) is None


def test_single_address_headers() -> None:
    fly, real = via("fly-client-ip"), via("x-real-ip")
    assert client(("Fly-Client-IP", "203.0.113.9"), trusted=fly) == "203.0.113.9"
    assert client(("X-Real-IP", "2001:db8::1"), trusted=real) == "2001:db8::1"
    assert client(("X-Real-IP", " [2001:db8::1]:80 "), trusted=real) == "2001:db8::1"
    assert client(("Fly-Client-IP", "10.0.0.7"), trusted=fly) == "10.0.0.7"  # one address: taken even if trusted
    assert client(("Fly-Client-IP", "1.1.1.1"), ("Fly-Client-IP", "203.0.113.9"), trusted=fly) == "203.0.113.9"
    assert client(("Fly-Client-IP", "1.1.1.1, 203.0.113.9"), trusted=fly) is None  # not a list
    assert client(("X-Real-IP", "garbage"), trusted=real) is None


ALL_FOUR = [("X-Real-IP", "203.0.113.4"), ("Fly-Client-IP", "203.0.113.3"),
            ("X-Forwarded-For", "203.0.113.2"), ("Forwarded", "for=203.0.113.1")]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("x-forwarded-for", "203.0.113.2"), ("forwarded", "203.0.113.1"), ("fly-client-ip", "203.0.113.3"),
     ("x-real-ip", "203.0.113.4")],
)
def test_each_header_works_when_chosen_and_only_it_counts(header: str, expected: str) -> None:
    trusted = via(header)
    assert client(*ALL_FOUR, trusted=trusted) == expected
    assert client(*reversed(ALL_FOUR), trusted=trusted) == expected  # the order they come in does not matter
    # the chosen header alone is enough; without it, the others name nobody
    assert client(*[h for h in ALL_FOUR if h[0].lower() == header], trusted=trusted) == expected
    assert client(*[h for h in ALL_FOUR if h[0].lower() != header], trusted=trusted) is None
    # header names in the request are case-insensitive
    assert client(*[(n.upper(), v) for n, v in ALL_FOUR], trusted=trusted) == expected


def test_a_client_sent_forwarded_is_ignored_when_the_proxy_header_is_x_forwarded_for() -> None:
    # nginx and Caddy append to X-Forwarded-For but pass a client's own Forwarded on untouched
    spoofed = ("Forwarded", "for=1.2.3.4")
    assert client(spoofed, ("X-Forwarded-For", "203.0.113.2")) == "203.0.113.2"
    assert client(("X-Forwarded-For", "203.0.113.2"), spoofed) == "203.0.113.2"
    assert client(spoofed) is None  # the peer, not the client's claim
    assert client(spoofed, ("Fly-Client-IP", "1.2.3.4"), ("X-Real-IP", "1.2.3.4")) is None


def test_a_client_sent_x_forwarded_for_is_ignored_when_the_proxy_header_is_forwarded() -> None:
    spoofed = ("X-Forwarded-For", "1.2.3.4")
    assert client(spoofed, ("Forwarded", "for=203.0.113.1"), trusted=FWD) == "203.0.113.1"
    assert client(("Forwarded", "for=203.0.113.1"), spoofed, trusted=FWD) == "203.0.113.1"
    assert client(spoofed, trusted=FWD) is None
    assert client(spoofed, ("Fly-Client-IP", "1.2.3.4"), ("X-Real-IP", "1.2.3.4"), trusted=FWD) is None


def test_an_unreadable_chosen_header_keeps_the_peer_and_other_headers_are_never_read() -> None:
    # present but unreadable: the peer, not another header (no second guess)
    assert client(("X-Forwarded-For", "garbage"), ("Forwarded", "for=203.0.113.1")) is None
    assert client(("Forwarded", "for=unknown"), ("X-Forwarded-For", "203.0.113.2"), trusted=FWD) is None
    for header in HEADERS:
        trusted = via(header)
        assert client(("X-Client-IP", "203.0.113.9"), ("True-Client-IP", "203.0.113.9"), trusted=trusted) is None
        assert client(trusted=trusted) is None


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
        found = client_address(PROXY, [(name, value)], via(name))
        assert found is None or isinstance(found, ipaddress.IPv4Address | ipaddress.IPv6Address)
