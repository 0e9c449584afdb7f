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

__all__ = ["host_is_literal_forbidden", "is_forbidden_ip", "resolve_forbidden"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED_V4: Final = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT
_THIS_NETWORK_V4: Final = ipaddress.IPv4Network("0.0.0.0/8")
_NAT64_WELL_KNOWN: Final = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE: Final = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: operator-internal
# The legacy IPv4 spellings inet_aton accepts: "2130706433", "0177.0.0.1", "0x7f.1", "127.1".
_LEGACY_V4_RE: Final = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


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
    return (
        _is_special(address)
        or address in _SHARED_V4
        or address in _THIS_NETWORK_V4
        or address == ipaddress.IPv4Address("255.255.255.255")
    )


def _v6_is_forbidden(address: ipaddress.IPv6Address) -> bool:
    if address in _NAT64_WELL_KNOWN:
        return False  # its embedded IPv4 address was checked; the prefix itself is routable
    return _is_special(address) or address.is_site_local or address in _NAT64_LOCAL_USE


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
