"""Where one endpoint's deliveries go: its host resolved once, every address checked
(``resolvers.webhook_targets``), and the connection made to the address checked.

httpx would resolve the name again when it connects, and a name can answer differently the
second time (DNS rebinding: public when checked, 127.0.0.1 when connected). So the request goes
to the address itself, with the name in the ``Host`` header and as the TLS server name
(httpcore's ``sni_hostname`` request extension), which the certificate is verified against.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from resolvers.webhook_targets import AllowedTargets, canonical_host, resolved_refusal

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Every address a host name resolves to (for a TCP connection to ``port``)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The system resolver's addresses for ``host``, looked up off the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


class DestinationRefused(ValueError):
    """The endpoint's host is not, or no longer resolves to, an address it may reach."""


@dataclass(frozen=True)
class Route:
    """A request to an endpoint: the URL with the address checked as its host, and what
    names the endpoint's host to the receiver (``Host``) and to TLS (``sni_hostname``)."""

    url: str
    host_header: str
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass
class Destination:
    """One endpoint for one round of deliveries: resolved on first use, then reused, so every
    event of the round goes to the one address checked."""

    url: str
    allowed: AllowedTargets
    resolve: Resolver
    _route: Route | None = None

    async def route(self) -> Route:
        if self._route is None:
            self._route = await _route_of(self.url, self.allowed, self.resolve)
        return self._route


async def _route_of(url: str, allowed: AllowedTargets, resolve: Resolver) -> Route:
    parts = urlsplit(url)
    host = canonical_host(parts.hostname or "")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if isinstance(host, str):
        addresses = [ipaddress.ip_address(a) for a in await resolve(host, port)]
    else:
        addresses = [host]
    refused = resolved_refusal(host, addresses, allowed)
    if refused is not None:
        raise DestinationRefused(f"{host}: {refused}; not delivered")
    address = addresses[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    userinfo, _, host_header = parts.netloc.rpartition("@")
    netloc = (f"{userinfo}@" if userinfo else "") + f"{shown}:{port}"
    extensions = {"sni_hostname": host} if isinstance(host, str) else {}
    return Route(
        url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        host_header=host_header,
        extensions=extensions if parts.scheme == "https" else {},
    )
