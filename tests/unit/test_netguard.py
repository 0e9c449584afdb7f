"""crawler.netguard: the SSRF guard. Only "localhost" and IP literals are resolved here."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.crawler.netguard import (
    host_is_literal_forbidden,
    is_forbidden_ip,
    resolve_forbidden,
)

FORBIDDEN_IPS = [
    "127.0.0.1",
    "127.255.255.254",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "169.254.169.254",  # cloud metadata service
    "fe80::1",
    "fe80::1%eth0",
    "10.0.0.1",
    "192.168.1.1",
    "172.16.0.1",
    "172.31.255.255",
    "fd00::1",
    "fc00::1",
    "fec0::1",  # site-local
    "0.0.0.0",
    "0.1.2.3",
    "::",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "100.127.255.254",
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "2001:db8::1",
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 around 169.254.169.254
    "64:ff9b::127.0.0.1",  # NAT64 around loopback
    "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
    "64:ff9b:1::1",  # local-use NAT64
    "::127.0.0.1",  # deprecated IPv4-compatible form
    "[::1]",
    " 127.0.0.1 ",
    # IANA special-purpose blocks some Python versions call global (3.11: 192.0.0.0/24)
    "192.0.0.192",  # a cloud metadata address
    "192.0.0.170",  # NAT64 discovery
    "192.0.0.8",
    "192.88.99.1",  # 6to4 relay anycast
    "198.51.100.7",  # documentation
    "203.0.113.9",  # documentation
    "100::1",  # discard-only
    "2001::1",  # Teredo
    "2001:10::1",  # ORCHID
    "3fff::1",  # documentation
    "5f00::1",  # SRv6
]

PUBLIC_IPS = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "2606:4700::1",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "2002:808:808::1",  # 6to4 around 8.8.8.8
    "64:ff9b::808:808",  # NAT64 around 8.8.8.8
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
]


@pytest.mark.parametrize("ip", FORBIDDEN_IPS)
def test_forbidden_ips(ip: str) -> None:
    assert is_forbidden_ip(ip)


@pytest.mark.parametrize("ip", PUBLIC_IPS)
def test_public_ips(ip: str) -> None:
    assert not is_forbidden_ip(ip)


@pytest.mark.parametrize(
    "text", ["", "localhost", "example.com", "999.1.1.1", "1.2.3", "::g", "[]"]
)
def test_unparsable_ip_is_forbidden(text: str) -> None:
    assert is_forbidden_ip(text)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",  # decimal 127.0.0.1
        "017700000001",  # octal
        "0x7f000001",  # hex
        "0177.0.0.1",
        "0x7f.1",
        "0x7F.0.0.1",
        "127.1",
        "0",
        "0x0",
        "10.1",
        "3232235777",  # 192.168.1.1
        "0xa9fea9fe",  # 169.254.169.254
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[fe80::1%25eth0]",
        "127.0.0.1.",
        "localhost",
        "LocalHost",
        "localhost.",
        "api.localhost",
    ],
)
def test_literal_forbidden_hosts(host: str) -> None:
    assert host_is_literal_forbidden(host)


@pytest.mark.parametrize(
    "host",
    [
        "8.8.8.8",
        "134744072",  # decimal 8.8.8.8
        "0x08080808",
        "[2606:4700::1]",
        "haitiantimes.com",
        "www.nation.africa",
        "1e100.net",
        "0x7f.example.com",  # a name, resolved later, not a literal
        "localhost.example.com",
        "notlocalhost",
        "",
    ],
)
def test_hosts_that_are_not_forbidden_literals(host: str) -> None:
    assert not host_is_literal_forbidden(host)


def test_resolve_forbidden_localhost() -> None:
    assert resolve_forbidden("localhost") is not None
    assert is_forbidden_ip(resolve_forbidden("localhost") or "")


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:169.254.169.254", "::ffff:a9fe:a9fe"),
        ("whatever.localhost", "whatever.localhost"),
    ],
)
def test_resolve_forbidden_literals(host: str, address: str) -> None:
    assert resolve_forbidden(host) == address


def test_resolve_forbidden_public_literal_is_none() -> None:
    assert resolve_forbidden("8.8.8.8") is None
    assert resolve_forbidden("[2606:4700::1]") is None


def test_resolve_forbidden_reports_the_first_private_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A name with one public and one private address (DNS rebinding style) is refused.
    def fake_getaddrinfo(host: str, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        assert host == "mixed.test"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fd12::5", 0, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert resolve_forbidden("mixed.test") == "fd12::5"


def test_resolve_forbidden_all_public_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_getaddrinfo(host: str, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert resolve_forbidden("news.test") is None


def test_resolve_forbidden_propagates_resolution_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_getaddrinfo(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing_getaddrinfo)
    with pytest.raises(OSError, match="not known"):
        resolve_forbidden("no-such-host.test")


@pytest.mark.parametrize("host", ["", "  ", "a" * 300 + ".test", "bad\x00host"])
def test_resolve_forbidden_unresolvable_names_raise_oserror(host: str) -> None:
    with pytest.raises(OSError):
        resolve_forbidden(host)


# -- properties --------------------------------------------------------------------------------


@given(st.ip_addresses())
def test_every_address_agrees_with_ipaddress_on_the_obvious_cases(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    forbidden = is_forbidden_ip(str(address))
    mapped = isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None
    if mapped:
        return  # judged by the IPv4 address inside, as tested below
    if address.is_loopback or address.is_private or address.is_multicast or address.is_link_local:
        assert forbidden
    if isinstance(address, ipaddress.IPv4Address):
        assert is_forbidden_ip(f"::ffff:{address}") == forbidden


@given(st.ip_addresses(v=4))
def test_decimal_form_of_an_ipv4_address_is_judged_like_the_dotted_form(
    address: ipaddress.IPv4Address,
) -> None:
    assert host_is_literal_forbidden(str(int(address))) == is_forbidden_ip(str(address))
    assert host_is_literal_forbidden(hex(int(address))) == is_forbidden_ip(str(address))


@given(st.text(max_size=40))
def test_arbitrary_text_never_raises(text: str) -> None:
    assert isinstance(is_forbidden_ip(text), bool)
    assert isinstance(host_is_literal_forbidden(text), bool)
