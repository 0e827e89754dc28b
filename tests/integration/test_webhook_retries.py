"""Webhook retries against a real local HTTP receiver: which answers are retried, and
when each retry is due (the nominal schedule ±20 % jitter, written from the contract)."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Tenant
from tests.support.receiver import receiver
from wowsino.kernel.clock import ManualClock
from wowsino.webhooks import delivery

NOMINAL = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
           timedelta(hours=1), timedelta(hours=6)]
LATER = timedelta(hours=12)
GIVE_UP = timedelta(days=3)
JITTER = 0.2


async def _subscribe_and_ping(tenant: Tenant, url: str) -> str:
    r = await tenant.post("/v1/webhooks", {"url": url, "events": ["*"]})
    assert r.status_code == 201, r.text
    hook = r.json()["webhook"]["id"]
    r = await tenant.post(f"/v1/webhooks/{hook}/ping")
    assert r.status_code == 201, r.text
    delivery_id: str = r.json()["delivery"]["id"]
    return delivery_id


async def _deliver(app: Any) -> int:
    async with delivery.client() as http:
        return await delivery.deliver_due(app.state.platform, http)


async def _state(engine: Any, delivery_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT status, attempts, next_attempt_at, last_attempt_at, last_status_code, "
            "last_error, created_at FROM webhook_deliveries WHERE id = CAST(:id AS uuid)"),
            {"id": delivery_id})).one()
    return dict(row._mapping)


def _within(wait: timedelta, nominal: timedelta) -> bool:
    return nominal * (1 - JITTER) <= wait <= nominal * (1 + JITTER)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("status", [408, 429, 500, 503])
async def test_retryable_answers_are_retried_after_about_30_seconds(
    app: Any, tenant: Tenant, engine: Any, clock: ManualClock, status: int,
) -> None:
    with receiver(statuses=[status]) as rx:
        delivery_id = await _subscribe_and_ping(tenant, rx.url)
        assert await _deliver(app) == 1
        first = await _state(engine, delivery_id)
        assert first["status"] == "pending", first
        assert first["last_status_code"] == status
        wait = first["next_attempt_at"] - first["last_attempt_at"]
        assert _within(wait, NOMINAL[0]), wait
        clock.set(first["next_attempt_at"] - timedelta(seconds=1))
        assert await _deliver(app) == 0  # not due yet
        clock.set(first["next_attempt_at"])
        assert await _deliver(app) == 1
    assert len(rx.requests) == 2
    assert rx.requests[0].headers["webhook-id"] == rx.requests[1].headers["webhook-id"]
    done = await _state(engine, delivery_id)
    assert done["status"] == "succeeded" and done["attempts"] == 2


@pytest.mark.parametrize("status", [400, 404, 410, 422])
async def test_other_4xx_answers_fail_the_delivery_at_once(
    app: Any, tenant: Tenant, engine: Any, clock: ManualClock, status: int,
) -> None:
    with receiver(statuses=[status]) as rx:
        delivery_id = await _subscribe_and_ping(tenant, rx.url)
        assert await _deliver(app) == 1
        failed = await _state(engine, delivery_id)
        assert failed["status"] == "failed" and failed["last_status_code"] == status
        for _ in range(3):
            clock.advance(timedelta(hours=13))
            assert await _deliver(app) == 0
    assert len(rx.requests) == 1


async def test_a_refused_connection_is_retried_after_about_30_seconds(
    app: Any, tenant: Tenant, engine: Any,
) -> None:
    delivery_id = await _subscribe_and_ping(tenant, f"http://127.0.0.1:{_closed_port()}/hooks")
    assert await _deliver(app) == 1
    state = await _state(engine, delivery_id)
    assert state["status"] == "pending", state
    assert state["last_error"].startswith("network error"), state
    assert _within(state["next_attempt_at"] - state["last_attempt_at"], NOMINAL[0])


async def test_a_failing_receiver_is_retried_on_the_whole_schedule_then_given_up(
    app: Any, tenant: Tenant, engine: Any, clock: ManualClock,
) -> None:
    """Every attempt answered 503: each wait falls in its band (30 s, 2 m, 10 m, 1 h,
    6 h, then 12 h) until three days after the first attempt, then the delivery fails."""
    with receiver(statuses=[503] * 40) as rx:
        delivery_id = await _subscribe_and_ping(tenant, rx.url)
        waits: list[timedelta] = []
        first_attempt: datetime | None = None
        for _ in range(30):
            assert await _deliver(app) == 1
            state = await _state(engine, delivery_id)
            first_attempt = first_attempt or state["last_attempt_at"]
            if state["status"] != "pending":
                break
            waits.append(state["next_attempt_at"] - state["last_attempt_at"])
            clock.set(state["next_attempt_at"])
        attempts = len(rx.requests)
    assert state["status"] == "failed", state
    assert state["attempts"] == attempts == len(waits) + 1
    expected = [*NOMINAL, *[LATER] * (len(waits) - len(NOMINAL))]
    off = [(n, w, e) for n, (w, e) in enumerate(zip(waits, expected, strict=True), 1)
           if not _within(w, e)]
    assert not off, f"waits outside their band (attempt, wait, nominal): {off}"
    assert len(waits) > len(NOMINAL), waits  # the 12-hourly retries were reached
    # retried for (about) three days, and not a retry more
    assert first_attempt is not None
    spent = clock.now() - first_attempt
    assert GIVE_UP - LATER * (1 + JITTER) <= spent <= GIVE_UP, spent
    clock.advance(timedelta(days=1))
    assert await _deliver(app) == 0
