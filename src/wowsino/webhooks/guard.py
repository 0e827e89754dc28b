"""Server-side request forgery guard for webhook destinations.

In production every delivery resolves the host at send time and refuses every
address that is not globally routable (loopback, private, carrier-grade NAT,
link-local and cloud metadata, multicast, reserved, documentation, unspecified),
looking through the IPv6 forms that carry an IPv4 address (IPv4-mapped,
IPv4-compatible, 6to4, Teredo, NAT64) so an internal IPv4 address cannot hide
inside them. The request then goes to the checked address (pinned), so a DNS
answer cannot change between the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from wowsino.kernel.errors import ValidationFailed

METADATA_HOSTS = {"metadata.google.internal", "metadata"}


class DestinationRefused(Exception):
    """The destination resolves to an address deliveries may not reach."""


@dataclass(frozen=True)
class Target:
    url: str  # what to connect to (host replaced by the pinned address when guarded)
    host_header: str | None
    sni_hostname: str | None


def check_subscription_url(url: str, *, production: bool, live: bool) -> str:
    """Validate a subscription URL at creation (400 naming ``url``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("url: an absolute http(s) URL", field="url")
    if parts.username or parts.password:
        raise ValidationFailed("url: credentials in the URL are not allowed", field="url")
    if production:
        if live and parts.scheme != "https":
            raise ValidationFailed("url: live webhooks require https", field="url")
        try:
            check_address(ipaddress.ip_address(parts.hostname))
        except ValueError:
            pass  # a name: checked on every delivery
        except DestinationRefused as exc:
            raise ValidationFailed(f"url: {exc}", field="url") from None
        if parts.hostname.lower() in METADATA_HOSTS:
            raise ValidationFailed("url: metadata endpoints are not allowed", field="url")
    return url


# Python's own tables (which differ between releases) call these global; they
# are not: NAT64 local-use prefixes (RFC 8215) reach only a local translator.
_NOT_GLOBAL_V6 = (ipaddress.IPv6Network("64:ff9b:1::/48"),)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (and would reach) in its known forms."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:  # 2002:aabb:ccdd::/48
        found.append(address.sixtofour)
    if address.teredo is not None:  # 2001:0::/32, (server, obfuscated client)
        found.extend(address.teredo)
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64_WELL_KNOWN or any(address in net for net in _NOT_GLOBAL_V6):
        found.append(low32)  # RFC 6052 /96 form: the IPv4 address is the last 32 bits
    if address in _IPV4_COMPATIBLE:  # ::a.b.c.d (deprecated IPv4-compatible)
        found.append(low32)
    return found


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and any(
            address in net for net in _NOT_GLOBAL_V6):
        return False
    return address.is_global and not (
        address.is_multicast or address.is_loopback or address.is_link_local
        or address.is_private or address.is_reserved or address.is_unspecified)


def check_address(address: IPAddress) -> None:
    """Refuse an address (or an IPv4 address embedded in it) that is not globally routable.

    Raises ``DestinationRefused`` naming the offending address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        # Both reach exactly the IPv4 host they carry, so they are judged as that host.
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64_WELL_KNOWN:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            raise DestinationRefused(f"{address} is not a public address")
        for inner in embedded_ipv4(address):
            if not _is_public(inner):
                raise DestinationRefused(
                    f"{address} embeds {inner}, which is not a public address")
    if not _is_public(address):
        raise DestinationRefused(f"{address} is not a public address")


async def resolve(url: str, *, production: bool) -> Target:
    """Where to send: unguarded outside production; else a checked, pinned address."""
    if not production:
        return Target(url, None, None)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host.lower() in METADATA_HOSTS:
        raise DestinationRefused("metadata endpoints are not allowed")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DestinationRefused(f"cannot resolve {host}: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        check_address(address)
    pinned = addresses[0]
    literal = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned_url = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(pinned_url, host_header, host if parts.scheme == "https" else None)
