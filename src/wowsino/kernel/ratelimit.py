"""Per-realm token buckets over all of ``/v1`` (200 burst, 50/s by default).

Where the buckets live is ``WOWSINO_RATE_LIMIT_STORE``:

- ``memory``: in this process. Right for one API process; behind a balancer with *N*
  of them a tenant gets up to *N* times its rate.
- ``postgres``: one UPSERT on the UNLOGGED table ``rate_limit_buckets``, on the app's
  engine, with the refill computed from the database's clock.
- ``redis``: one Lua script (EVALSHA, one round trip), with the refill computed from
  Redis's clock; an idle bucket expires once it would be full again.

With a shared store, a busy process takes several tokens per call (``RateLimiter``):
one call per request at a few requests per 50 ms, far fewer above.

A shared store that cannot be answered (Redis or the database down, a timeout) fails
open to this process's own bucket: metering is not money, and an outage of the store
must not turn every request into an error. While it is down the limit holds per process
(as with ``memory``): the store is tried again every 5 seconds, and each failed try logs
one warning (not one per request).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from wowsino.kernel.db import database_unavailable
from wowsino.kernel.errors import RateLimited
from wowsino.kernel.realm import Realm

log = structlog.get_logger("wowsino.ratelimit")

# after a failure of the shared store, this process's buckets serve for this long
# before the store is tried again: one slow or failed call per pause, not per request
RETRY_SHARED_AFTER_SECONDS = 5.0


class Limited(Protocol):
    """A caller with a realm and its tenant's rate-limit overrides (an API key's
    principal or a player session): one bucket per realm whoever calls."""

    @property
    def realm(self) -> Realm: ...
    @property
    def rate_limit_burst(self) -> int | None: ...
    @property
    def rate_limit_per_second(self) -> int | None: ...


@dataclass(frozen=True)
class Taken:
    """What a bucket said: the tokens left, and how many it gave (a shared store may be
    asked for several at once, see ``RateLimiter``); 0 when it refused."""

    tokens: float
    granted: int

    @property
    def allowed(self) -> bool:
        return self.granted > 0


class Buckets(Protocol):
    """A store of token buckets keyed by (tenant, mode). ``now`` is in seconds on the
    store's own time line; None: the store's clock (tests pass a frozen one)."""

    name: str

    async def take(self, tenant_id: UUID, mode: str, burst: int, rate: int,
                   now: float | None, count: int = 1) -> Taken:
        """Take up to ``count`` whole tokens (as many as there are, at least one to be
        allowed)."""
        ...

    async def close(self) -> None: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class MemoryBuckets:
    """This process's buckets."""

    name = "memory"

    def __init__(self) -> None:
        self._buckets: dict[tuple[UUID, str], _Bucket] = {}
        self._lock = threading.Lock()

    async def take(self, tenant_id: UUID, mode: str, burst: int, rate: int,
                   now: float | None, count: int = 1) -> Taken:
        at = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get((tenant_id, mode))
            if bucket is None:
                bucket = self._buckets[(tenant_id, mode)] = _Bucket(float(burst), at)
            bucket.tokens = min(float(burst),
                                bucket.tokens + max(0.0, at - bucket.updated) * rate)
            bucket.updated = max(bucket.updated, at)
            granted = min(count, int(bucket.tokens)) if bucket.tokens >= 1.0 else 0
            bucket.tokens -= granted
            return Taken(bucket.tokens, granted)

    async def close(self) -> None:
        return None


# One statement: insert a full bucket less the tokens taken, or refill the existing one
# for the seconds since it was last refreshed (capped at the burst) and take up to $6
# whole tokens if there is one. The conflicting row is locked before the SET is
# evaluated, so concurrent requests from any process queue on it and each sees the one
# before. ``granted`` holds how many were taken (``allowed``, granted > 0, is still
# written for API processes of the release before, during a rolling upgrade). $1 tenant,
# $2 mode, $3 burst, $4 rate per second, $5 now in seconds (NULL: the database's clock),
# $6 tokens wanted (>= 1).
_TAKE = """
INSERT INTO rate_limit_buckets AS b (tenant_id, mode, tokens, refreshed_at, allowed, granted)
VALUES ($1, $2, $3 - least($6::integer, $3::integer),
        coalesce($5::double precision, extract(epoch FROM clock_timestamp())), true,
        least($6::integer, $3::integer))
ON CONFLICT (tenant_id, mode) DO UPDATE SET (tokens, refreshed_at, allowed, granted) = (
    SELECT r.level - r.granted, greatest(b.refreshed_at, r.now), r.granted > 0, r.granted
    FROM (SELECT l.level, l.now,
                 CASE WHEN l.level >= 1 THEN least($6::integer, floor(l.level)::integer)
                      ELSE 0 END AS granted
          FROM (SELECT least($3::double precision,
                             b.tokens + greatest(0, n.now - b.refreshed_at) * $4) AS level,
                       n.now
                FROM (SELECT coalesce($5::double precision,
                                      extract(epoch FROM clock_timestamp())) AS now) n) l) r)
RETURNING tokens, granted
"""


class PostgresBuckets:
    """Buckets in ``rate_limit_buckets``: one statement per request, autocommitted, on a
    connection of the app's pool. It is sent on the driver (asyncpg, its statement
    prepared once per connection), past SQLAlchemy's execution layer: about 0.4 ms of
    the API's CPU per request through SQLAlchemy, under 0.2 ms this way."""

    name = "postgres"

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def take(self, tenant_id: UUID, mode: str, burst: int, rate: int,
                   now: float | None, count: int = 1) -> Taken:
        pooled = await greenlet_spawn(self.engine.sync_engine.raw_connection)
        try:
            driver = pooled.driver_connection
            assert driver is not None  # checked out: open
            row = await driver.fetchrow(_TAKE, tenant_id, mode, burst, rate, now, count)
        except BaseException:
            # lost, refused mid-way or cancelled: its state is unknown, never reuse it
            with suppress(Exception):
                await greenlet_spawn(pooled.invalidate)
            raise
        finally:
            await greenlet_spawn(pooled.close)  # back to the pool (no transaction to end)
        return Taken(float(row["tokens"]), int(row["granted"]))

    async def close(self) -> None:
        return None  # the engine is the app's


# KEYS[1]: the bucket (a hash of tokens and ts); ARGV: burst, rate, now (empty: the
# server's clock), tokens wanted. Returns {tokens taken, tokens left as a string} (a Lua
# number would be cut to an integer). The key expires once the bucket would be full
# again, when forgetting it changes nothing. TIME before a write is fine from Redis 5
# (effects replication).
_TAKE_LUA = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
local level = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = 0
if level >= 1 then
  granted = math.min(tonumber(ARGV[4]), math.floor(level))
  level = level - granted
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', level),
           'ts', string.format('%.17g', math.max(ts, now)))
redis.call('EXPIRE', KEYS[1], math.ceil((burst - level) / rate) + 1)
return {granted, string.format('%.17g', level)}
"""


class RedisBuckets:
    """Buckets in Redis under ``wowsino:ratelimit:<tenant>:<mode>``."""

    name = "redis"

    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # no retries: a failed call falls back at once (see RateLimiter); short timeouts,
        # a local Redis answers in well under a millisecond
        self.client = Redis.from_url(url, socket_timeout=timeout,
                                     socket_connect_timeout=timeout,
                                     retry=Retry(NoBackoff(), 0))
        self._script = self.client.register_script(_TAKE_LUA)

    async def take(self, tenant_id: UUID, mode: str, burst: int, rate: int,
                   now: float | None, count: int = 1) -> Taken:
        granted, tokens = await self._script(
            keys=[f"wowsino:ratelimit:{tenant_id}:{mode}"],
            args=[burst, rate, "" if now is None else repr(now), count])
        return Taken(float(tokens), int(granted))

    async def close(self) -> None:
        await self.client.aclose()


def open_buckets(store: str, *, engine: AsyncEngine, redis_url: str | None) -> Buckets:
    """The store ``WOWSINO_RATE_LIMIT_STORE`` names (checked by ``Settings``)."""
    if store == "postgres":
        return PostgresBuckets(engine)
    if store == "redis":
        if not redis_url:
            raise ValueError("WOWSINO_RATE_LIMIT_STORE=redis needs WOWSINO_REDIS_URL")
        return RedisBuckets(redis_url)
    return MemoryBuckets()


# A process takes several tokens at once from a shared store when its requests come fast
# enough to spend them within this window (see ``RateLimiter``)
LEASE_SECONDS = 0.05
# and never more than this share of the burst at once
LEASE_SHARE_OF_BURST = 20


@dataclass
class _Lease:
    """Tokens this process took from the shared store and has not spent yet."""

    left: int = 0
    shared: float = 0.0  # the shared bucket's tokens when they were taken
    until: float = 0.0  # spendable until then
    started: float = 0.0  # the current window of the request count
    seen: int = 0  # requests in the current window
    last_seen: int = 1  # requests in the window before
    # the store's last refusal: its tokens, when it came, under which (burst, rate)
    refused: tuple[float, float, int, int] | None = None


class RateLimiter:
    """Token buckets per realm, in ``store``.

    With a shared store (PostgreSQL, Redis) each request would cost a round trip to it.
    A process whose requests for a realm come fast takes several tokens at once instead:
    as many as it asked for in the last ``LEASE_SECONDS`` (at most a twentieth of the
    burst), and spends them itself within the next ``LEASE_SECONDS``. The shared bucket
    counts every token when it is taken, so together the processes never get more than
    the limit; a token left when its window ends is dropped (the limit errs on the side
    of refusing, by at most one lease per process). At a few requests per window, and for
    any burst under 40, each request takes its own single token, as without leases.

    A refusal from the shared store is answered again without asking it until the refill
    could have brought the bucket's next token: nothing else adds tokens to it.
    """

    def __init__(self, *, burst: int, per_second: int, store: Buckets | None = None) -> None:
        self.burst = burst
        self.per_second = per_second
        self.store: Buckets = store or MemoryBuckets()
        # this process's buckets: the store when it is ``memory``, else the fallback
        self.local = self.store if isinstance(self.store, MemoryBuckets) else MemoryBuckets()
        # the buckets' time in seconds; None: each store's own clock (tests freeze it)
        self.clock: Callable[[], float] | None = None
        self.retry_shared_after = RETRY_SHARED_AFTER_SECONDS
        self._shared_down_until = 0.0  # time.monotonic() until which ``local`` serves
        self._leases: dict[tuple[UUID, str], _Lease] = {}

    async def take(self, request: Any, principal: Limited) -> None:
        """Take one token for the principal's realm or raise RateLimited (429).

        The RateLimit-* headers are left on ``request.state`` for the response.
        """
        burst = principal.rate_limit_burst or self.burst
        rate = principal.rate_limit_per_second or self.per_second
        taken = await self._take(principal.realm, burst, rate)
        remaining = int(taken.tokens)
        reset = math.ceil((burst - taken.tokens) / rate)
        request.state.rate_limit_headers = {
            "RateLimit-Limit": str(burst),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
        }
        if not taken.allowed:
            retry_after = max(1, math.ceil((1.0 - taken.tokens) / rate))
            request.state.rate_limit_headers["Retry-After"] = str(retry_after)
            raise RateLimited(
                f"rate limit of {burst} requests, refilled at {rate}/s, exceeded; "
                f"retry in {retry_after}s",
                retry_after=retry_after,
            )

    async def _take(self, realm: Realm, burst: int, rate: int) -> Taken:
        tenant_id, mode = realm.tenant_id, realm.mode.value
        now = None if self.clock is None else self.clock()
        if self.store is self.local or time.monotonic() < self._shared_down_until:
            return await self.local.take(tenant_id, mode, burst, rate, now)
        at = time.monotonic() if now is None else now
        lease = self._leases.get((tenant_id, mode))
        if lease is None:
            lease = self._leases[(tenant_id, mode)] = _Lease(started=at)
        if at - lease.started >= LEASE_SECONDS:
            lease.last_seen = lease.seen if at - lease.started < 2 * LEASE_SECONDS else 0
            lease.started, lease.seen = at, 0
        lease.seen += 1
        if lease.left > 0 and at < lease.until:
            lease.left -= 1
            return Taken(lease.shared + lease.left, 1)
        if lease.refused is not None:
            # only the refill adds tokens to the shared bucket: while it cannot have
            # brought a whole one since the refusal, the answer is the same
            tokens, when, refused_burst, refused_rate = lease.refused
            level = tokens + (at - when) * rate
            if level < 1.0 and (refused_burst, refused_rate) == (burst, rate):
                return Taken(level, 0)
            lease.refused = None
        wanted = max(1, min(lease.last_seen, burst // LEASE_SHARE_OF_BURST))
        tried = time.monotonic()
        try:
            taken = await self.store.take(tenant_id, mode, burst, rate, now, wanted)
        except Exception as exc:
            # the first failure of a try, not each of the calls that were in flight with it
            if tried >= self._shared_down_until:
                self._shared_down_until = time.monotonic() + self.retry_shared_after
                self._log_fallback(exc)
            return await self.local.take(tenant_id, mode, burst, rate, now)
        if self._shared_down_until and tried >= self._shared_down_until:  # back after a pause
            self._shared_down_until = 0.0
            log.info("rate limits shared again", store=self.store.name)
        if not taken.allowed:
            lease.refused = (taken.tokens, at, burst, rate)
            return taken
        if taken.granted > 1:  # the rest are this process's to spend
            fresh = lease.left if at < lease.until else 0
            lease.left, lease.shared = fresh + taken.granted - 1, taken.tokens
            lease.until = at + LEASE_SECONDS
            return Taken(taken.tokens + lease.left, 1)
        return taken

    def _log_fallback(self, exc: Exception) -> None:
        fields = {"store": self.store.name, "retry_in_seconds": self.retry_shared_after}
        if _unreachable(exc):
            log.warning("rate limit store unavailable: limits hold per process",
                        error=f"{type(exc).__name__}: {exc}", **fields)
        else:
            log.error("rate limit store failed: limits hold per process", exc_info=exc,
                      **fields)

    async def close(self) -> None:
        await self.store.close()


def _unreachable(exc: BaseException) -> bool:
    """An outage of the store (not a bug): Redis refused or timed out, or the database is
    unavailable."""
    from redis.exceptions import ConnectionError as RedisDown
    from redis.exceptions import TimeoutError as RedisSlow

    return isinstance(exc, (RedisDown, RedisSlow, TimeoutError)) or database_unavailable(exc)
