"""Fuzz: URL canonicalisation (crawler/urls.py) and address parsing (crawler/netguard.py).

Documented errors:
- ``canonical_url``, ``fetch_url``, ``host_of``, ``registered_domain``: UnusableURL only
  ("not an http(s) URL with a host that haitiwatch can fetch or key").
- ``absolute_url``: none (None for anything unusable); ``is_tracking_param``: none.
- ``url_origin``, ``is_forbidden_ip``, ``host_is_literal_forbidden``: none (None / True /
  False for what they cannot read; unparsable addresses are forbidden).
- ``resolve_forbidden``: OSError only (fuzzed here with literal addresses, never DNS).
"""

from __future__ import annotations

import ipaddress
import socket

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.crawler.netguard import (
    host_is_literal_forbidden,
    is_forbidden_ip,
    resolve_forbidden,
    url_origin,
)
from haitiwatch.crawler.urls import (
    UnusableURL,
    absolute_url,
    canonical_url,
    fetch_url,
    host_of,
    is_tracking_param,
    registered_domain,
)
from tests.fuzz import fuzzed

_URL_PIECES = [
    "http://", "https://", "HTTPS://", "ftp://", "//", "http:", "www.", "m.", "amp.", "xn--",
    "news.example", "例え.テスト", "ß.de", "☃.net", "[::1]", "[fe80::1%25eth0]",
    "[::ffff:127.0.0.1]",
    "127.0.0.1", "0x7f.1", "2130706433", "0177.0.0.1", "localhost", "user:pw@", "@", ":",
    ":80", ":443", ":0", ":65536", ":99999999999", ":-1", ":8o", "/", "//", "/../", "/./",
    "/amp/", "/index.html", ".amp", "?", "&", "=", "#", "%", "%2e", "%zz", "%00", "%E2%82",
    "utm_source=x", "id=1", "amp=1", "\x00", "\t", " ", "\n", "\\", "é", "\u200b", "\ufeff",
    ".", "..", "-", "_", "[", "]",
]  # fmt: skip
URLS = st.one_of(
    st.lists(st.one_of(st.sampled_from(_URL_PIECES), st.text(max_size=6)), max_size=10).map(
        "".join
    ),
    st.text(max_size=40),
)


def _unusable_only(fn: object, url: str) -> str | None:
    assert callable(fn)
    try:
        result = fn(url)
    except UnusableURL:
        return None
    assert isinstance(result, str)
    return result


@fuzzed
@given(URLS)
def test_url_keys_raise_only_unusable_url(url: str) -> None:
    key = _unusable_only(canonical_url, url)
    _unusable_only(fetch_url, url)
    _unusable_only(host_of, url)
    _unusable_only(registered_domain, url)
    if key is not None:  # a key is a fixed point: stored keys never change meaning
        assert canonical_url(key) == key


@fuzzed
@given(st.one_of(st.none(), URLS), st.one_of(st.none(), URLS))
def test_absolute_url_gives_a_web_url_or_none(href: str | None, base: str | None) -> None:
    resolved = absolute_url(href, base)
    assert resolved is None or resolved.startswith(("http://", "https://"))
    if resolved is not None:  # what a feed links to can always be requested, or is refused
        _unusable_only(fetch_url, resolved)
        _unusable_only(canonical_url, resolved)


@fuzzed
@given(URLS)
def test_tracking_param_and_origin_never_raise(text: str) -> None:
    assert isinstance(is_tracking_param(text), bool)
    origin = url_origin(text)
    assert origin is None or (origin[0] and 0 < origin[1] < 65536)


@fuzzed
@given(URLS)
def test_address_checks_never_raise(host: str) -> None:
    assert isinstance(is_forbidden_ip(host), bool)
    assert isinstance(host_is_literal_forbidden(host), bool)


def _spellings(address: ipaddress.IPv4Address) -> st.SearchStrategy[str]:
    """The ways a resolver (inet_aton) lets a URL write one IPv4 address."""
    n, parts = int(address), address.packed
    return st.sampled_from([
        str(address), str(n), hex(n), "0" + oct(n)[2:], ".".join(hex(p) for p in parts),
        ".".join("0" + oct(p)[2:] for p in parts), f"{parts[0]}.{n & 0xFFFFFF}",
        f"{parts[0]}.{parts[1]}.{n & 0xFFFF}", f"[::ffff:{address}]", f"{address}.",
        str(address).upper(),
    ])  # fmt: skip


@fuzzed
@given(st.ip_addresses(v=4).flatmap(lambda a: st.tuples(st.just(a), _spellings(a))))
def test_every_spelling_of_an_ipv4_address_is_judged_as_the_address(
    pair: tuple[ipaddress.IPv4Address, str],
) -> None:
    address, spelling = pair
    forbidden = is_forbidden_ip(str(address))
    assert host_is_literal_forbidden(spelling) == forbidden
    try:
        found = resolve_forbidden(spelling)
    except OSError:
        return
    assert (found is not None) == forbidden


@fuzzed
@given(st.ip_addresses(v=6))
def test_ipv6_literals_are_judged_without_the_resolver(address: ipaddress.IPv6Address) -> None:
    forbidden = is_forbidden_ip(str(address))
    assert host_is_literal_forbidden(f"[{address}]") == forbidden
    assert (resolve_forbidden(f"[{address}]") is not None) == forbidden
    if address.ipv4_mapped is not None:  # the packet goes to the IPv4 address
        assert forbidden == is_forbidden_ip(str(address.ipv4_mapped))


def test_the_legacy_spellings_are_the_resolvers() -> None:
    """The spellings above are ones inet_aton really accepts (else the property is empty)."""
    assert socket.inet_aton("0x7f.1") == socket.inet_aton("127.0.0.1")
    assert socket.inet_aton("017700000001") == socket.inet_aton("127.0.0.1")
