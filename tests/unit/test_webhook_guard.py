"""The webhook destination guard refuses every address that is not globally routable."""

from __future__ import annotations

import ipaddress

import pytest

from wowsino.kernel.errors import ValidationFailed
from wowsino.webhooks import guard

REFUSED = [
    # plain IPv4 outside the public internet
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "0.0.0.0",  # noqa: S104
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.10",
    # carrier-grade NAT, including the Alibaba Cloud metadata address
    "100.64.0.1", "100.100.100.200", "100.127.255.254",
    # plain IPv6 outside the public internet
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    # IPv4-mapped
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    "::ffff:100.100.100.200",
    # IPv4-compatible (deprecated)
    "::127.0.0.1", "::10.0.0.1", "::a9fe:a9fe",
    # 6to4 2002::/16 carrying an internal address
    "2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::", "2002:6464:64c8::1",
    # Teredo 2001::/32: server 65.54.227.120, client (obfuscated) 127.0.0.1 / 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    # NAT64 well-known prefix 64:ff9b::/96 carrying an internal address
    "64:ff9b::7f00:1", "64:ff9b::10.0.0.1", "64:ff9b::169.254.169.254",
    "64:ff9b::100.100.100.200",
    # NAT64 local-use prefix 64:ff9b:1::/48 (a local translator), whatever it carries
    "64:ff9b:1::7f00:1", "64:ff9b:1::8.8.8.8",
]

ALLOWED = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111",
           "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8"]


@pytest.mark.parametrize("literal", REFUSED)
def test_an_address_that_is_not_globally_routable_is_refused(literal: str) -> None:
    with pytest.raises(guard.DestinationRefused):
        guard.check_address(ipaddress.ip_address(literal))


@pytest.mark.parametrize("literal", ALLOWED)
def test_a_public_address_is_allowed(literal: str) -> None:
    guard.check_address(ipaddress.ip_address(literal))


@pytest.mark.parametrize(("literal", "inner"), [
    ("::ffff:127.0.0.1", "127.0.0.1"),
    ("::10.0.0.1", "10.0.0.1"),
    ("2002:a9fe:a9fe::", "169.254.169.254"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),
    ("64:ff9b::100.100.100.200", "100.100.100.200"),
    ("64:ff9b:1::a00:1", "10.0.0.1"),
])
def test_the_embedded_ipv4_address_is_found_and_named(literal: str, inner: str) -> None:
    address = ipaddress.IPv6Address(literal)
    assert ipaddress.IPv4Address(inner) in guard.embedded_ipv4(address)
    with pytest.raises(guard.DestinationRefused, match=inner.replace(".", r"\.")):
        guard.check_address(address)


def test_a_zoned_ipv6_address_is_refused() -> None:
    with pytest.raises(guard.DestinationRefused):
        guard.check_address(ipaddress.ip_address("fe80::1%eth0"))


@pytest.mark.parametrize("url", [
    "https://100.100.100.200/hook", "https://[::ffff:127.0.0.1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook", "https://[2002:a00:1::]:8443/hook",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
])
def test_a_subscription_to_an_internal_literal_is_refused_in_production(url: str) -> None:
    with pytest.raises(ValidationFailed):
        guard.check_subscription_url(url, production=True, live=True)
    assert guard.check_subscription_url(url, production=False, live=True) == url


async def test_delivery_refuses_a_name_resolving_to_an_internal_address() -> None:
    with pytest.raises(guard.DestinationRefused):
        await guard.resolve("http://localhost:9/hook", production=True)
