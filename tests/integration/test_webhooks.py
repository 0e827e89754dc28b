from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from tests.conftest import Tenant
from tests.integration.support import create_player
from tests.support.receiver import receiver
from wowsino.webhooks import delivery


async def _subscribe(tenant: Tenant, url: str, events: list[str], mode: str = "test") -> dict:
    r = await tenant.post("/v1/webhooks", {"url": url, "events": events}, mode=mode)
    assert r.status_code == 201, r.text
    return r.json()["webhook"]


async def _suspend(tenant: Tenant, username: str = "alice", key: str | None = None) -> None:
    body: dict[str, Any] = {"status": "suspended", "reason": "checks"}
    if key:
        body["idempotency_key"] = key
    r = await tenant.patch(f"/v1/players/{username}/status", body)
    assert r.status_code == 200, r.text


async def _deliver(app: Any) -> int:
    async with delivery.client() as http:
        return await delivery.deliver_due(app.state.platform, http)


async def test_delivery_is_signed_per_standard_webhooks_and_carries_the_envelope(
    app: Any, tenant: Tenant
) -> None:
    await create_player(tenant, "alice")
    with receiver() as rx:
        hook = await _subscribe(tenant, rx.url, ["player.status_changed"])
        assert hook["signing_secret"].startswith("whsec_")
        await _suspend(tenant)
        assert await _deliver(app) == 1
    assert len(rx.requests) == 1
    req = rx.requests[0]
    payload = Webhook(hook["signing_secret"]).verify(req.body, req.headers)
    assert payload["type"] == "player.status_changed"
    assert payload["mode"] == "test"
    assert payload["id"] == req.headers["webhook-id"]
    assert payload["data"]["from"] == "active" and payload["data"]["to"] == "suspended"
    assert payload["data"]["user"]["username"] == "alice"
    assert {"created_at", "delivered_at"} <= payload.keys()
    with pytest.raises(Exception):  # noqa: B017 - any verification failure
        Webhook(hook["signing_secret"]).verify(req.body + b" ", req.headers)


@pytest.mark.parametrize(("patterns", "delivered"), [
    (["player.status_changed"], True), (["player.*"], True), (["*"], True),
    (["rg.limit_changed"], False), (["lootbox.*"], False),
])
async def test_filters_exact_prefix_and_global(app: Any, tenant: Tenant, patterns: list[str],
                                               delivered: bool) -> None:
    await create_player(tenant, "alice")
    with receiver() as rx:
        await _subscribe(tenant, rx.url, patterns)
        await _suspend(tenant)
        await _deliver(app)
    assert (len(rx.requests) == 1) is delivered


async def test_unknown_event_pattern_is_refused(tenant: Tenant) -> None:
    r = await tenant.post("/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["nope.x"]})
    assert r.status_code == 400 and r.json()["details"]["field"] == "events"
    assert (await tenant.get("/v1/webhooks")).json()["data"] == []


async def test_rolled_back_write_produces_no_delivery(app: Any, tenant: Tenant,
                                                      engine: Any) -> None:
    await create_player(tenant, "alice")
    with receiver() as rx:
        await _subscribe(tenant, rx.url, ["*"])
        # a debit larger than the balance fails after nothing was committed
        r = await tenant.post("/v1/players/alice/adjustments",
                              {"rail": "winz", "asset": "WINZ", "amount": -5, "reason": "x"})
        assert r.status_code == 402
        assert await _deliver(app) == 0
    async with engine.connect() as conn:
        count = await conn.scalar(text("SELECT count(*) FROM webhook_deliveries"))
    assert count == 0 and rx.requests == []


async def test_deduped_replay_emits_no_second_event(app: Any, tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    with receiver() as rx:
        await _subscribe(tenant, rx.url, ["player.status_changed"])
        await _suspend(tenant, key="same")
        await _suspend(tenant, key="same")
        await _deliver(app)
        await _deliver(app)
    assert len(rx.requests) == 1


async def test_5xx_retries_with_backoff_then_succeeds_with_a_stable_id(
    app: Any, tenant: Tenant, clock: Any
) -> None:
    await create_player(tenant, "alice")
    with receiver(statuses=[503, 500]) as rx:
        hook = await _subscribe(tenant, rx.url, ["*"])
        await _suspend(tenant)
        assert await _deliver(app) == 1
        assert await _deliver(app) == 0  # not due before the backoff
        clock.advance(timedelta(seconds=40))
        assert await _deliver(app) == 1
        clock.advance(timedelta(minutes=3))
        assert await _deliver(app) == 1
    ids = {r.headers["webhook-id"] for r in rx.requests}
    assert len(rx.requests) == 3 and len(ids) == 1
    log = (await tenant.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"]
    assert log[0]["status"] == "succeeded" and log[0]["attempts"] == 3
    assert log[0]["last_status_code"] == 200


async def test_4xx_fails_at_once_and_redeliver_sends_again(app: Any, tenant: Tenant,
                                                           clock: Any) -> None:
    await create_player(tenant, "alice")
    with receiver(statuses=[400]) as rx:
        hook = await _subscribe(tenant, rx.url, ["*"])
        await _suspend(tenant)
        await _deliver(app)
        clock.advance(timedelta(hours=1))
        assert await _deliver(app) == 0
        log = (await tenant.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"]
        assert log[0]["status"] == "failed" and log[0]["last_status_code"] == 400
        r = await tenant.post(f"/v1/webhook-deliveries/{log[0]['id']}/redeliver")
        assert r.status_code == 200 and r.json()["delivery"]["status"] == "pending"
        assert await _deliver(app) == 1
    assert len(rx.requests) == 2
    log = (await tenant.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"]
    assert log[0]["status"] == "succeeded"


async def test_network_errors_retry_and_subscription_fails_after_three_days(
    app: Any, tenant: Tenant, clock: Any
) -> None:
    await create_player(tenant, "alice")
    hook = await _subscribe(tenant, "http://127.0.0.1:9/closed", ["*"])
    await _suspend(tenant)
    for _ in range(30):
        await _deliver(app)
        clock.advance(timedelta(hours=13))
    got = (await tenant.get(f"/v1/webhooks/{hook['id']}")).json()["webhook"]
    assert got["status"] == "failed"
    log = (await tenant.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"]
    assert log[0]["status"] == "failed" and log[0]["last_error"].startswith("network error")
    assert 5 <= log[0]["attempts"] <= 12


async def test_ping_and_paused_subscription(app: Any, tenant: Tenant) -> None:
    with receiver() as rx:
        hook = await _subscribe(tenant, rx.url, ["player.*"])
        r = await tenant.post(f"/v1/webhooks/{hook['id']}/ping")
        assert r.status_code == 201
        await _deliver(app)
        assert json.loads(rx.requests[0].body)["type"] == "webhook.ping"
        r = await tenant.patch(f"/v1/webhooks/{hook['id']}", {"status": "paused"})
        assert r.json()["webhook"]["status"] == "paused"
        await create_player(tenant, "alice")
        await _suspend(tenant)
        await _deliver(app)
        assert len(rx.requests) == 1


async def test_worker_restart_still_sends_pending_deliveries(
    app: Any, tenant: Tenant, engine: Any
) -> None:
    await create_player(tenant, "alice")
    with receiver() as rx:
        await _subscribe(tenant, rx.url, ["*"])
        await _suspend(tenant)
        # a worker claims the delivery and dies before sending it
        claimed = await delivery.claim(app.state.platform)
        assert len(claimed) == 1
        assert await _deliver(app) == 0  # leased to the dead worker
        app.state.platform.clock.advance(delivery.LEASE + timedelta(seconds=1))
        assert await _deliver(app) == 1
    assert len(rx.requests) == 1


async def test_running_worker_delivers_within_two_seconds_of_the_commit(
    app: Any, tenant: Tenant
) -> None:
    from wowsino.worker import Worker

    await create_player(tenant, "alice")
    with receiver() as rx:
        await _subscribe(tenant, rx.url, ["*"])
        task = asyncio.create_task(Worker(app.state.platform, interval=5.0).run_forever())
        try:
            await asyncio.sleep(0.3)  # the worker is idle, waiting on LISTEN
            loop = asyncio.get_running_loop()
            started = loop.time()
            await _suspend(tenant)
            # the receiver records from its own thread: poll its list
            while not rx.requests and loop.time() - started < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            elapsed = loop.time() - started
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert rx.requests, "no delivery within 3 s"
    assert elapsed < 2.0


async def test_live_and_test_subscriptions_are_separate(app: Any, tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    with receiver() as rx:
        await _subscribe(tenant, rx.url, ["*"], mode="live")
        await _suspend(tenant)
        await _deliver(app)
    assert rx.requests == []
    assert (await tenant.get("/v1/webhooks")).json()["data"] == []


async def test_production_refuses_http_for_live_and_private_destinations(
    db_url: str, clock: Any
) -> None:
    from tests.conftest import ADMIN_TOKEN, make_tenant
    from wowsino.api import create_app
    from wowsino.kernel.config import Settings

    prod = create_app(Settings(admin_token=ADMIN_TOKEN, env="production"), database_url=db_url,
                      clock=clock)
    transport = httpx.ASGITransport(app=prod)
    async with httpx.AsyncClient(transport=transport, base_url="http://w.test") as c:
        t = await make_tenant(c, "prod")
        r = await t.post("/v1/webhooks", {"url": "http://example.com/h", "events": ["*"]},
                         mode="live")
        assert r.status_code == 400 and "https" in r.json()["error"]
        r = await t.post("/v1/webhooks", {"url": "https://10.0.0.5/h", "events": ["*"]},
                         mode="live")
        assert r.status_code == 400
        # a name is checked at send time: loopback is refused and nothing is sent
        with receiver() as rx:
            hook = await _subscribe(t, rx.url.replace("127.0.0.1", "localhost"), ["*"])
            await create_player(t, "alice")
            await _suspend(t)
            await _deliver(prod)
        assert rx.requests == []
        log = (await t.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"]
        assert log[0]["status"] == "failed" and log[0]["last_error"] == "refused"
    await prod.state.platform.engine.dispose()
