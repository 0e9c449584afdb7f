"""SSRF guard: refuse to fetch addresses inside the machine or its private networks.

A configured source, a redirect or a link in a feed could otherwise point the crawler at
127.0.0.1, a cloud metadata service (169.254.169.254) or the LAN. The checks are pure, apart
from ``resolve_forbidden``, which asks the system resolver.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "Origin",
    "host_is_literal_forbidden",
    "is_forbidden_ip",
    "resolve_forbidden",
    "url_origin",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Where a connection goes: lower-case host (no brackets, no trailing dot) and port.
Origin = tuple[str, int]
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

# The IANA special-purpose address registries (RFC 6890 and later RFCs): every block a news
# crawler has no business reaching, written out because the interpreter's own tables differ
# between Python versions (3.11's ipaddress calls 192.0.0.0/24, where some clouds serve
# metadata, global). ipaddress's checks still apply on top (_is_special).
_SPECIAL_V4: Final = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments (192.0.0.192: a cloud metadata address)
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the limited broadcast address
    )
)
_SPECIAL_V6: Final = tuple(
    ipaddress.IPv6Network(block)
    for block in (
        "::/128",  # unspecified
        "::1/128",  # loopback
        "::/96",  # deprecated IPv4-compatible addresses (::127.0.0.1)
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing (SRv6) SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
_NAT64_WELL_KNOWN: Final = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
# The legacy IPv4 spellings inet_aton accepts: "2130706433", "0177.0.0.1", "0x7f.1", "127.1".
_LEGACY_V4_RE: Final = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


def url_origin(url: str) -> Origin | None:
    """The host and port ``url`` connects to; None when it names neither (or a bad port)."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    return (host, port) if host and port else None


def is_forbidden_ip(ip: str) -> bool:
    """True unless ``ip`` is a public unicast address; unparsable input is forbidden too."""
    try:
        address = ipaddress.ip_address(ip.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return True
    return _address_is_forbidden(address)


def host_is_literal_forbidden(host: str) -> bool:
    """True when ``host`` is written as a forbidden IP address, or is localhost.

    Names that need the resolver give False here; ``resolve_forbidden`` checks those.
    """
    address = _literal_address(host)
    if address is not None:
        return _address_is_forbidden(address)
    name = host.strip().rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def resolve_forbidden(host: str) -> str | None:
    """The first forbidden address ``host`` resolves to, or None when all are public.

    Raises OSError when the name does not resolve.
    """
    literal = _literal_address(host)
    if literal is not None:
        return str(literal) if _address_is_forbidden(literal) else None
    name = host.strip().rstrip(".")
    if not name:
        raise OSError("empty host name")
    if host_is_literal_forbidden(name):
        return name  # "*.localhost": loopback by definition (RFC 6761), whatever DNS says
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (UnicodeError, ValueError) as e:  # a name the idna codec or the C API refuses
        raise OSError(f"cannot resolve {host!r}: {e}") from e
    if not infos:
        raise OSError(f"{host!r} resolved to no address")
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if is_forbidden_ip(address):
            return address
    return None


def _literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form a resolver accepts; None for a name."""
    text = host.strip().lower()
    bracketed = text.startswith("[") and text.endswith("]")
    text = text.removeprefix("[").removesuffix("]").rstrip(".")
    try:
        return ipaddress.ip_address(text.replace("%25", "%"))
    except ValueError:
        pass
    if bracketed or not _LEGACY_V4_RE.fullmatch(text):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def _address_is_forbidden(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if address.ipv4_mapped is not None and embedded is not None:
            return _v4_is_forbidden(embedded)  # the packet goes to the IPv4 address
        if embedded is not None and _v4_is_forbidden(embedded):
            return True
        return _v6_is_forbidden(address)
    return _v4_is_forbidden(address)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _v4_is_forbidden(address: ipaddress.IPv4Address) -> bool:
    return any(address in block for block in _SPECIAL_V4) or _is_special(address)


def _v6_is_forbidden(address: ipaddress.IPv6Address) -> bool:
    if address in _NAT64_WELL_KNOWN:
        return False  # its embedded IPv4 address was checked; the prefix itself is routable
    return any(address in block for block in _SPECIAL_V6) or _is_special(address)


def _is_special(address: IPAddress) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )
