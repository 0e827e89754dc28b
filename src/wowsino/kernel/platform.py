"""The running platform's shared parts, built once per process by ``create_app``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.kernel.admin import AdminThrottle
from wowsino.kernel.clock import Clock
from wowsino.kernel.config import Settings
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.grouping import Coalescer
from wowsino.kernel.idempotency import IdempotentWrites
from wowsino.kernel.keycache import KeyCache
from wowsino.kernel.ratelimit import RateLimiter, open_buckets
from wowsino.kernel.replicas import ReadRouter
from wowsino.kernel.usage import UsageMeter

T = TypeVar("T")


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    writes: IdempotentWrites
    rate_limiter: RateLimiter
    usage: UsageMeter
    keys: KeyCache[Any]  # resolved API keys (kernel.auth)
    reads: ReadRouter  # where reads that accept bounded staleness run (kernel.replicas)
    admin_throttle: AdminThrottle = field(default_factory=AdminThrottle)
    coalescers: dict[str, Coalescer[Any, Any]] = field(default_factory=dict)  # by endpoint

    def coalescer(self, name: str, make: Callable[[Platform], Coalescer[Any, Any]]
                  ) -> Coalescer[Any, Any]:
        """This process's group commit for ``name``, made on first use."""
        found = self.coalescers.get(name)
        if found is None:
            found = self.coalescers[name] = make(self)
        return found

    async def change_tenancy(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run a change to keys, tenants or brands in its unit of work, then empty this
        process's key cache (other processes hear of the change by NOTIFY)."""
        try:
            return await unit_of_work(self.engine, work)
        finally:
            self.keys.invalidate()

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
                burst=settings.rate_limit_burst, per_second=settings.rate_limit_per_second,
                store=open_buckets(settings.rate_limit_store, engine=engine,
                                   redis_url=settings.redis_url),
            ),
            usage=UsageMeter(clock),
            keys=KeyCache(engine.url.render_as_string(hide_password=False)),
            reads=ReadRouter.build(engine, settings.replica_urls,
                                   max_lag_ms=settings.replica_max_lag_ms,
                                   pool_size=settings.db_pool_size),
        )
