"""Per-realm token buckets over all of ``/v1`` (200 burst, 50/s by default).

Buckets live in process memory: right for one API process. Several processes
behind a balancer need a shared store (PostgreSQL or Redis), see design.md.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from wowsino.kernel.errors import RateLimited
from wowsino.kernel.realm import Realm


class Limited(Protocol):
    """A caller with a realm and its tenant's rate-limit overrides (an API key's
    principal or a player session): one bucket per realm whoever calls."""

    @property
    def realm(self) -> Realm: ...
    @property
    def rate_limit_burst(self) -> int | None: ...
    @property
    def rate_limit_per_second(self) -> int | None: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, *, burst: int, per_second: int) -> None:
        self.burst = burst
        self.per_second = per_second
        self._buckets: dict[tuple[Any, str], _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, request: Any, principal: Limited) -> None:
        """Take one token for the principal's realm or raise RateLimited (429).

        The RateLimit-* headers are left on ``request.state`` for the response.
        """
        burst = principal.rate_limit_burst or self.burst
        rate = principal.rate_limit_per_second or self.per_second
        key = (principal.realm.tenant_id, principal.realm.mode.value)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(burst), now)
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            allowed = bucket.tokens >= 1.0
            if allowed:
                bucket.tokens -= 1.0
            remaining = int(bucket.tokens)
            reset = math.ceil((burst - bucket.tokens) / rate)
        request.state.rate_limit_headers = {
            "RateLimit-Limit": str(burst),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
        }
        if not allowed:
            retry_after = max(1, math.ceil((1.0 - bucket.tokens) / rate))
            request.state.rate_limit_headers["Retry-After"] = str(retry_after)
            raise RateLimited(
                f"rate limit of {burst} requests, refilled at {rate}/s, exceeded; "
                f"retry in {retry_after}s",
                retry_after=retry_after,
            )
