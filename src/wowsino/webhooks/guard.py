"""Server-side request forgery guard for webhook destinations.

In production every delivery resolves the host at send time and refuses
loopback, private, link-local (cloud metadata), multicast, reserved and
unspecified addresses; the request then goes to the checked address (pinned),
so a DNS answer cannot change between the check and the connection.
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
            _check_address(ipaddress.ip_address(parts.hostname))
        except ValueError:
            pass  # a name: checked on every delivery
        except DestinationRefused as exc:
            raise ValidationFailed(f"url: {exc}", field="url") from None
        if parts.hostname.lower() in METADATA_HOSTS:
            raise ValidationFailed("url: metadata endpoints are not allowed", field="url")
    return url


def _check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if (address.is_loopback or address.is_private or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified):
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
        _check_address(address)
    pinned = addresses[0]
    literal = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned_url = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(pinned_url, host_header, host if parts.scheme == "https" else None)
