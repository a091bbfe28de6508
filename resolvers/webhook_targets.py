"""Where a webhook may be delivered: the host of its URL read as a resolver reads it, and every
address it stands for, checked against the public internet and the allow-list for local
receivers (``TSP_WEBHOOK_ALLOWED_HOSTS``).

A resolver reads ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and ``127.1`` as 127.0.0.1
(inet_aton, and the WHATWG URL standard, accept decimal, octal and hex parts and short forms),
so a host is compared only after :func:`canonical_host` has read it the same way. A name is
refused when it plainly names this machine or a local network; what it resolves to is checked
again at delivery, where the connection goes to the address checked (``edge.webhooks``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TypeAlias

import idna

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata (AWS/GCP/Azure/OpenStack, AWS over IPv6, ECS tasks, Alibaba): never a
# webhook target, whatever the allow-list says.
METADATA_ADDRESSES: frozenset[Address] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan")
# IPv6 ranges that carry an IPv4 address in their low 32 bits: NAT64 and IPv4-compatible.
_EMBEDDING_V4 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))
_NUMERIC_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


class HostError(ValueError):
    """The host of a URL is neither a name nor an address a resolver would read."""


@dataclass(frozen=True)
class AllowedTargets:
    """Hosts (exact names) and networks that may receive webhooks although they are not on the
    public internet: local receivers for development and tests. Empty by default."""

    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowedTargets:
        """Comma-separated names and addresses or CIDRs, e.g. ``localhost,127.0.0.0/8,::1``."""
        names: set[str] = set()
        networks: list[Network] = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            try:
                host = canonical_host(entry)
            except HostError as error:
                raise ValueError(f"{entry[:200]!r} is not a host name or CIDR: {error}") from None
            if isinstance(host, str):
                names.add(host)
            else:
                networks.append(ipaddress.ip_network(host))
        return cls(frozenset(names), tuple(networks))

    def allows(self, host: str | Address) -> bool:
        """Whether ``host`` (from :func:`canonical_host`) is allowed by name or network."""
        if isinstance(host, str):
            return host in self.names
        return host not in METADATA_ADDRESSES and any(
            host.version == n.version and host in n for n in self.networks
        )


def canonical_host(host: str) -> str | Address:
    """The address a resolver reads in ``host`` (any numeric spelling, IPv6 in brackets or
    not), else the name in lower-case ASCII (IDNA) without its trailing dot."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            raise HostError(f"{host!r} is not an IPv6 address") from None
    if not text.isascii():
        try:
            text = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            raise HostError(f"{host!r} is not a valid international name ({error})") from None
    name = text.lower().removesuffix(".")
    labels = name.split(".")
    if not name or not all(labels):
        raise HostError(f"{host!r} has an empty label")
    if _NUMERIC_PART.match(labels[-1]):
        return _ipv4(name, host)
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise HostError(f"{host!r} is not a valid host name")
    return name


def _ipv4(name: str, host: str) -> ipaddress.IPv4Address:
    """A host that ends in a number is an IPv4 address (WHATWG URL "ends in a number"): up to
    four parts, each decimal, 0-led octal or 0x-led hex, the last filling the remaining bytes."""
    parts = name.split(".")
    if len(parts) > 4 or not all(_NUMERIC_PART.match(p) for p in parts):
        raise HostError(f"{host!r} ends in a number but is not an IPv4 address")
    try:
        numbers = [_number(p) for p in parts]
    except ValueError:
        raise HostError(f"{host!r} has a part that is not a number") from None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise HostError(f"{host!r} has a part out of range for an IPv4 address")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)
    return int(part, 10)


def address_refusal(address: Address) -> str | None:
    """Why ``address`` is not a public internet address a webhook may reach (None: it is)."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            refused = address_refusal(embedded)
            return f"{refused} (as {embedded} inside an IPv6 address)" if refused else None
    for matches, reason in (
        (address.is_unspecified, "an unspecified address"),
        (address == _BROADCAST, "the broadcast address"),
        (address.is_loopback, "a loopback address (this machine)"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private network address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public internet address"),
    ):
        if matches:
            return reason
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in n for n in _EMBEDDING_V4) and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def name_refusal(name: str) -> str | None:
    """Why the host name ``name`` (from :func:`canonical_host`) plainly is not on the public
    internet (None: only its resolved addresses can tell)."""
    if name == "localhost" or name.endswith(_LOCAL_SUFFIXES):
        return "a name of this machine or a local network"
    if "." not in name:
        return "a single-label name (resolved on the local network)"
    return None


def host_refusal(host: str | Address, allowed: AllowedTargets) -> str | None:
    """Why a webhook may not be registered for ``host`` (None: it may)."""
    if allowed.allows(host):
        return None
    return name_refusal(host) if isinstance(host, str) else address_refusal(host)


def resolved_refusal(
    host: str | Address, addresses: list[Address], allowed: AllowedTargets
) -> str | None:
    """Why a webhook may not be delivered to ``host`` resolved to ``addresses``: a name on the
    allow-list may resolve anywhere but a metadata address; any other must resolve only to
    public addresses or allowed networks."""
    if not addresses:
        return "it resolves to no address"
    for address in addresses:
        if address in METADATA_ADDRESSES:
            return f"it resolves to {address}, a cloud metadata address"
        if allowed.allows(host) or allowed.allows(address):
            continue
        refused = address_refusal(address)
        if refused is not None:
            return f"it resolves to {address}, {refused}"
    return None
