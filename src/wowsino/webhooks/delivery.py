"""Sending webhook deliveries: claim due rows (``FOR UPDATE SKIP LOCKED``, so several
workers may run), sign and post each, record the attempt, schedule retries.

A claim is a lease (``lease_until``, ``WOWSINO_WEBHOOK_LEASE_SECONDS`` ahead): a worker
that dies holding one loses it when it expires, and another worker sends the delivery.
A worker stopped in an orderly way (a cancelled pass) hands back at once what it
claimed and has not recorded, so nothing waits for the lease.

2xx acknowledges. 4xx fails at once (408 and 429 are retried: they mean "later").
5xx, timeouts and network errors retry with backoff and jitter — about 30 s, 2 m,
10 m, 1 h, 6 h, then every 12 h — until 3 days after the first attempt. A
subscription whose deliveries keep failing for 3 days turns ``failed``.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.db import unit_of_work
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.platform import Platform
from wowsino.webhooks import guard, signing

log = structlog.get_logger("wowsino.webhooks")

BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
           timedelta(hours=1), timedelta(hours=6))
EVERY_LATER = timedelta(hours=12)
GIVE_UP_AFTER = timedelta(days=3)
LEASE = timedelta(seconds=60)  # the default of WOWSINO_WEBHOOK_LEASE_SECONDS
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRYABLE_4XX = {408, 429}


def next_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """The wait after the ``attempts``-th failed attempt, with ±20 % jitter."""
    base = BACKOFF[attempts - 1] if attempts <= len(BACKOFF) else EVERY_LATER
    return base * (rng or random).uniform(0.8, 1.2)


@dataclass(frozen=True)
class Claimed:
    tenant_id: Any
    mode: str
    id: Any
    subscription_id: Any
    event_type: str
    data: Any
    event_created_at: datetime
    attempts: int
    created_at: datetime
    url: str
    secret: str
    lease_until: datetime  # this claim's lease: with ``attempts``, which claim a row is under


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def permanent(self) -> bool:
        return (self.status_code is not None and 400 <= self.status_code < 500
                and self.status_code not in RETRYABLE_4XX) or self.error == "refused"


_CLAIM = text(
    "UPDATE webhook_deliveries d SET status = 'delivering', lease_until = :lease, "
    "attempts = d.attempts + 1, last_attempt_at = :now FROM (SELECT dd.tenant_id, dd.id "
    "FROM webhook_deliveries dd JOIN webhook_subscriptions s ON s.tenant_id = dd.tenant_id "
    "AND s.id = dd.subscription_id WHERE s.status = 'active' AND ((dd.status = 'pending' AND "
    "dd.next_attempt_at <= :now) OR (dd.status = 'delivering' AND dd.lease_until < :now)) "
    "ORDER BY dd.next_attempt_at LIMIT :batch FOR UPDATE OF dd SKIP LOCKED) c, "
    "webhook_subscriptions s WHERE d.tenant_id = c.tenant_id AND d.id = c.id "
    "AND s.tenant_id = d.tenant_id AND s.id = d.subscription_id "
    "RETURNING d.tenant_id, d.mode, d.id, d.subscription_id, d.event_type, d.data, "
    "d.event_created_at, d.attempts, d.created_at, s.url, s.secret, d.lease_until"
)

# Hands back a claim not recorded: due again at once, as if never claimed (the attempt
# it counted was not made, or not seen through), and idle workers are woken for it. A
# row recorded since, or claimed again by another worker after the lease ran out, does
# not match and is left alone.
_RELEASE = text(
    "UPDATE webhook_deliveries SET status = 'pending', lease_until = NULL, "
    "attempts = attempts - 1 WHERE tenant_id = :t AND id = :id AND status = 'delivering' "
    "AND lease_until = :lease AND attempts = :n"
)


def lease(platform: Platform) -> timedelta:
    return timedelta(seconds=platform.settings.webhook_lease_seconds)


async def claim(platform: Platform, batch: int = 50) -> list[Claimed]:
    now = platform.clock.now()

    async def work(conn: AsyncConnection) -> list[Claimed]:
        rows = await conn.execute(_CLAIM, {"now": now, "lease": now + lease(platform),
                                           "batch": batch})
        return [Claimed(**dict(r._mapping)) for r in rows]

    return await unit_of_work(platform.engine, work)


async def release(platform: Platform, items: list[Claimed]) -> int:
    """Hand back claims that were not recorded (see ``_RELEASE``); returns how many."""
    if not items:
        return 0

    async def work(conn: AsyncConnection) -> int:
        released = 0
        for item in items:
            result = await conn.execute(_RELEASE, {"t": item.tenant_id, "id": item.id,
                                                   "lease": item.lease_until,
                                                   "n": item.attempts})
            released += result.rowcount
        if released:
            await conn.execute(text("SELECT pg_notify('wowsino_webhooks', '')"))
        return released

    released = await unit_of_work(platform.engine, work)
    if released:
        log.info("webhook deliveries released", count=released)
    return released


def envelope(item: Claimed, delivered_at: datetime) -> bytes:
    return dumps({"id": str(item.id), "type": item.event_type,
                  "created_at": item.event_created_at, "delivered_at": delivered_at,
                  "mode": item.mode, "data": item.data}).encode()


async def send(http: httpx.AsyncClient, item: Claimed, *, now: datetime,
               production: bool) -> Outcome:
    """Post one signed attempt; never raises."""
    started = time.perf_counter()
    body = envelope(item, now)
    headers = signing.headers(item.secret, str(item.id), int(time.time()), body)
    try:
        target = await guard.resolve(item.url, production=production)
        if target.host_header:
            headers["host"] = target.host_header
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        response = await http.post(target.url, content=body, headers=headers,
                                   extensions=extensions)
        return Outcome(response.status_code, None, _ms(started))
    except guard.DestinationRefused as exc:
        log.warning("webhook destination refused", delivery=str(item.id), reason=str(exc))
        return Outcome(None, "refused", _ms(started))
    except httpx.TimeoutException:
        return Outcome(None, "timeout", _ms(started))
    except httpx.HTTPError as exc:
        return Outcome(None, f"network error: {type(exc).__name__}", _ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def record(platform: Platform, item: Claimed, outcome: Outcome) -> str:
    """Store the attempt and the delivery's next state; returns that state."""
    now = platform.clock.now()
    if outcome.ok:
        state, next_at = "succeeded", None
    elif outcome.permanent:
        state, next_at = "failed", None
    else:
        next_at = now + next_delay(item.attempts)
        state = "failed" if next_at - item.created_at > GIVE_UP_AFTER else "pending"

    async def work(conn: AsyncConnection) -> str:
        params = {"t": item.tenant_id, "id": item.id, "sid": item.subscription_id, "now": now}
        await conn.execute(
            text("INSERT INTO webhook_attempts (tenant_id, mode, delivery_id, attempt, at, "
                 "status_code, error, duration_ms) VALUES (:t, :mode, :id, :n, :now, :code, "
                 ":error, :ms) ON CONFLICT DO NOTHING"),
            {**params, "mode": item.mode, "n": item.attempts, "code": outcome.status_code,
             "error": outcome.error, "ms": outcome.duration_ms},
        )
        await conn.execute(
            text("UPDATE webhook_deliveries SET status = :state, lease_until = NULL, "
                 "next_attempt_at = coalesce(:next_at, next_attempt_at), last_status_code = "
                 ":code, last_error = :error, delivered_at = CASE WHEN :ok THEN "
                 "CAST(:now AS timestamptz) END WHERE tenant_id = :t AND id = :id"),
            {**params, "state": state, "next_at": next_at, "code": outcome.status_code,
             "error": outcome.error, "ok": outcome.ok},
        )
        exhausted = state == "failed" and not outcome.permanent
        await _track_subscription(conn, params, ok=outcome.ok, exhausted=exhausted)
        return state

    return await unit_of_work(platform.engine, work)


async def _track_subscription(
    conn: AsyncConnection, params: dict[str, Any], *, ok: bool, exhausted: bool
) -> None:
    """Clear the failing streak on success; turn the subscription ``failed`` when its
    deliveries have kept failing for 3 days (or one delivery used up all its retries)."""
    if ok:
        await conn.execute(
            text("UPDATE webhook_subscriptions SET failing_since = NULL WHERE tenant_id = :t "
                 "AND id = :sid AND failing_since IS NOT NULL"), params)
        return
    await conn.execute(
        text("UPDATE webhook_subscriptions SET failing_since = coalesce(failing_since, :now), "
             "status = CASE WHEN status = 'active' AND (:exhausted OR :now - "
             "coalesce(failing_since, :now) >= CAST(:give_up AS interval)) THEN 'failed' "
             "ELSE status END, "
             "updated_at = :now WHERE tenant_id = :t AND id = :sid"),
        {**params, "give_up": GIVE_UP_AFTER, "exhausted": exhausted},
    )


async def deliver_due(platform: Platform, http: httpx.AsyncClient, *, batch: int = 50,
                      concurrency: int = 16) -> int:
    """Claim and send one batch of due deliveries; returns how many were attempted.

    Cancelled (the worker stopping), it releases the claims it has not recorded before
    it re-raises."""
    items = await claim(platform, batch)
    if not items:
        return 0
    gate = asyncio.Semaphore(concurrency)
    production = platform.settings.production
    unrecorded = {item.id: item for item in items}

    async def one(item: Claimed) -> None:
        async with gate:
            outcome = await send(http, item, now=platform.clock.now(), production=production)
            state = await record(platform, item, outcome)
            unrecorded.pop(item.id, None)
            if not outcome.ok and outcome.error != "refused":  # a refusal is logged by send
                log.warning("webhook delivery failed", delivery=str(item.id),
                            tenant_id=str(item.tenant_id), mode=item.mode,
                            event_type=item.event_type, attempt=item.attempts,
                            status_code=outcome.status_code, error=outcome.error, next=state)

    try:
        await asyncio.gather(*(one(item) for item in items))
    except asyncio.CancelledError:
        await asyncio.shield(release(platform, list(unrecorded.values())))
        raise
    return len(items)


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False,
                             limits=httpx.Limits(max_connections=64))
