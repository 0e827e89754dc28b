"""The running platform's shared parts, built once per process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.kernel.admin import AdminThrottle
from wowsino.kernel.clock import Clock
from wowsino.kernel.config import Settings
from wowsino.kernel.idempotency import IdempotentWrites
from wowsino.kernel.keycache import KeyCache
from wowsino.kernel.ratelimit import RateLimiter
from wowsino.kernel.usage import UsageMeter


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    writes: IdempotentWrites
    rate_limiter: RateLimiter
    usage: UsageMeter
    keys: KeyCache[Any]  # resolved API keys (kernel.auth)
    admin_throttle: AdminThrottle = field(default_factory=AdminThrottle)

    @classmethod
    def build(cls, settings: Settings, engine: AsyncEngine, clock: Clock) -> Platform:
        return cls(
            settings=settings,
            engine=engine,
            clock=clock,
            writes=IdempotentWrites(
                engine, clock, retention_days=settings.idempotency_retention_days
            ),
            rate_limiter=RateLimiter(
                burst=settings.rate_limit_burst, per_second=settings.rate_limit_per_second
            ),
            usage=UsageMeter(clock),
            keys=KeyCache(engine.url.render_as_string(hide_password=False)),
        )
