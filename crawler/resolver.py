"""The reactor's name resolver, refusing private answers: the crawler connects only to
addresses that were checked.

The private-address guard (crawler/middlewares.py) looks a host up before a request goes out,
but Twisted looks it up again to connect. A hostname that answers a public address first and
127.0.0.1 next (DNS rebinding) would pass the first check and connect to the second answer.
Filtering the answers Twisted itself connects to closes that gap, whatever the guard saw.
A configured source on a private address keeps its own host and port.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer

from haitiwatch.crawler.netguard import Origin, is_forbidden_ip

log = logging.getLogger(__name__)
# Twisted's objects are typed Any: mypy cannot call methods through zope interfaces.


@implementer(IHostnameResolver)
class PublicAddressResolver:
    """Passes on only public addresses, except for the hosts and ports in ``private_origins``."""

    def __init__(self, inner: Any, private_origins: Collection[Origin]) -> None:
        self.inner = inner
        self._private_origins = private_origins

    def resolveHostName(
        self,
        resolutionReceiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type] | None = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        origin = (hostName.lower().rstrip("."), portNumber)
        receiver = _PublicOnly(resolutionReceiver, hostName, origin in self._private_origins)
        return self.inner.resolveHostName(
            receiver, hostName, portNumber, addressTypes, transportSemantics
        )


@implementer(IResolutionReceiver)
class _PublicOnly:
    def __init__(self, receiver: Any, host: str, allow_private: bool) -> None:
        self._receiver = receiver
        self._host = host
        self._allow_private = allow_private

    def resolutionBegan(self, resolution: Any) -> None:
        self._receiver.resolutionBegan(resolution)

    def addressResolved(self, address: Any) -> None:
        ip = str(getattr(address, "host", ""))
        if self._allow_private or not is_forbidden_ip(ip):
            self._receiver.addressResolved(address)
        else:
            log.warning("refused: %s resolved to private address %s", self._host, ip)

    def resolutionComplete(self) -> None:
        self._receiver.resolutionComplete()


def install(reactor: Any, private_origins: Collection[Origin]) -> None:
    """Make the reactor connect through a ``PublicAddressResolver`` (once per reactor)."""
    current = reactor.nameResolver
    inner = current.inner if isinstance(current, PublicAddressResolver) else current
    reactor.installNameResolver(PublicAddressResolver(inner, private_origins))
