"""The platform admin credential (``WOWSINO_ADMIN_TOKEN``): its strength in production and
the throttle on guessing it.

Failed admin authentications (``/tenants`` and the console's sign-in) are counted per
client address (an IPv6 client by its /64, the block one subscriber usually holds). After
``MAX_FAILURES`` failures within ``WINDOW_SECONDS`` the address is locked out for
``LOCKOUT_SECONDS``: every admin authentication from it, right or wrong, answers 429 with
``Retry-After`` until then. Other addresses are never affected, and a success clears the
address's count. Counts live in process memory, like the per-realm rate limits.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from wowsino.kernel.config import Settings
from wowsino.kernel.errors import RateLimited

MIN_PRODUCTION_TOKEN_LENGTH = 32
MAX_FAILURES = 10
WINDOW_SECONDS = 15 * 60
LOCKOUT_SECONDS = 15 * 60
MAX_TRACKED_ADDRESSES = 100_000


class WeakAdminToken(Exception):
    """The configuration refuses to serve: the admin token is too short for production."""


def check_admin_token_strength(settings: Settings) -> None:
    """Refuse a production admin token shorter than 32 characters (``WeakAdminToken``).

    An unset token is allowed: nobody can then authenticate as the platform admin.
    """
    token = settings.admin_token
    if settings.production and token is not None and len(token) < MIN_PRODUCTION_TOKEN_LENGTH:
        raise WeakAdminToken(
            f"WOWSINO_ADMIN_TOKEN is {len(token)} characters; with WOWSINO_ENV=production it "
            f"must be at least {MIN_PRODUCTION_TOKEN_LENGTH} (e.g. `openssl rand -hex 24`)")


def client_address(request: Any) -> str:
    """The throttling key of a request's client: its IPv4 address or its IPv6 /64."""
    host = request.client.host if request.client is not None else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class AdminLockedOut(RateLimited):
    """Too many failed admin authentications from this address (429 with ``Retry-After``)."""


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class AdminThrottle:
    """Failed admin authentications per client address, and the lockouts they earn."""

    def __init__(self, *, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS,
                 lockout: float = LOCKOUT_SECONDS) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self._by_address: OrderedDict[str, _Failures] = OrderedDict()

    def check(self, address: str, now: float) -> None:
        """Raise ``AdminLockedOut`` while ``address`` is locked out."""
        record = self._by_address.get(address)
        if record is not None and record.locked_until > now:
            retry_after = max(1, math.ceil(record.locked_until - now))
            raise AdminLockedOut(
                "too many failed admin authentications from this address; "
                f"retry in {retry_after}s", retry_after=retry_after)

    def failed(self, address: str, now: float) -> None:
        """Count a failure; the one that reaches the limit starts the lockout."""
        record = self._by_address.pop(address, None) or _Failures()
        self._by_address[address] = record  # most recently failed last
        while record.times and record.times[0] <= now - self.window:
            record.times.popleft()
        record.times.append(now)
        if len(record.times) >= self.max_failures:
            record.locked_until = now + self.lockout
            record.times.clear()
        while len(self._by_address) > MAX_TRACKED_ADDRESSES:
            self._by_address.popitem(last=False)

    def succeeded(self, address: str) -> None:
        """A right token clears the address's count."""
        self._by_address.pop(address, None)
