"""The public "Reload Friday" recipe end to end, with a moved clock: every Friday at 10:00
Malta time, a 50% reload for players at VIP level 2 or more who have not deposited for a
week; the players the compliance gate blocks are skipped and reported, and the operator
hears ``campaign.run_completed`` on a signed webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.conftest import Tenant
from tests.integration.bonus_support import bonuses_of, template
from tests.integration.crm_support import campaign, deposit, player, segment
from tests.integration.support import body
from tests.support.receiver import receiver
from wowsino.kernel.clock import ManualClock
from wowsino.webhooks import delivery
from wowsino.worker import Worker

WEDNESDAY = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
FRIDAY_10_MALTA = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)  # CET, UTC+1, before DST


async def _population(tenant: Tenant, engine: Any, clock: ManualClock) -> None:
    long_ago, recently = WEDNESDAY - timedelta(days=10), WEDNESDAY - timedelta(days=1)
    for name, vip, last_deposit, extra in (
        ("alice", 2, long_ago, {}),  # granted
        ("amy", 4, long_ago, {}),  # granted
        ("bob", 3, recently, {}),  # deposited this week: not in the segment
        ("carol", 1, long_ago, {}),  # level 1: not in the segment
        ("frank", 2, None, {}),  # never deposited: not in the segment
        ("dave", 2, long_ago, {}),  # self-excluded: skipped
        ("erin", 2, long_ago, {}),  # on a time-out: skipped
        ("gina", 2, long_ago, {"country_code": "KP"}),  # the jurisdiction blocks KP: skipped
        ("hugo", 2, long_ago, {}),  # suspended: skipped
    ):
        await player(tenant, engine, name, vip=vip, **extra)
        if last_deposit is not None:
            await deposit(tenant, clock, name, "40.00", last_deposit, f"dep-{name}")
    assert (await tenant.patch("/v1/players/dave/status", {
        "status": "self_excluded", "reason": "asked to"})).status_code == 200
    assert (await tenant.patch("/v1/players/hugo/status", {
        "status": "suspended", "reason": "checks"})).status_code == 200
    r = await tenant.post("/v1/players/erin/rg", {"timeout_until": "2026-04-30T00:00:00Z"})
    assert r.status_code == 200, r.text
    r = await tenant.client.put("/v1/brands/main/jurisdiction", headers=tenant.headers(),
                                json={"profile": "default",
                                      "overrides": {"blocked_countries": ["KP"]}})
    assert r.status_code == 200, r.text


async def test_reload_friday_runs_at_10_malta_time_grants_and_reports_skips(
    app: Any, tenant: Tenant, engine: Any, clock: ManualClock,
) -> None:
    clock.set(WEDNESDAY)
    await _population(tenant, engine, clock)
    reload = await template(tenant, name="Reload Friday", type="reload", amount_pct=50,
                            max_amount="100.00", wagering_multiple=10)
    target = await segment(tenant, "min_vip_level=2 AND last_deposit_at < now() - 7d",
                           name="Lapsed VIPs")
    friday = await campaign(tenant, target["id"], {"type": "grant_bonus",
                                                   "template": reload["id"]},
                            schedule={"weekly": {"day": "fri", "time": "10:00",
                                                 "tz": "Europe/Malta"}})
    assert friday["next_run_at"] == "2026-03-20T09:00:00Z"

    preview = body(await tenant.get(f"/v1/segments/{target['id']}/preview"))
    assert preview["count"] == 6
    assert {p["username"] for p in preview["sample"]} == {"alice", "amy", "dave", "erin",
                                                         "gina", "hugo"}

    dry = body(await tenant.post(f"/v1/campaigns/{friday['id']}/dry-run", {}))
    assert dry["count"] == 2 and dry["total_cost"] == {"USD": Decimal("40.00")}
    assert dry["skipped"] == {"jurisdiction": 1, "self_excluded": 1, "status": 1,
                              "timeout": 1}
    assert await bonuses_of(tenant, "alice") == []  # a dry run grants nothing

    with receiver() as rx:
        hook = body(await tenant.post("/v1/webhooks", {"url": rx.url,
                                                       "events": ["campaign.*"]}))["webhook"]
        worker = Worker(app.state.platform)
        clock.set(FRIDAY_10_MALTA - timedelta(seconds=1))
        assert (await worker.tick())["campaign_batches"] == 0  # not yet
        clock.set(FRIDAY_10_MALTA)
        await worker.tick()
        async with delivery.client() as http:
            assert await delivery.deliver_due(app.state.platform, http) == 1

    runs = body(await tenant.get(f"/v1/campaigns/{friday['id']}/runs"))["data"]
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "completed" and run["trigger"] == "schedule"
    assert run["scheduled_for"] == "2026-03-20T09:00:00Z"
    assert run["granted"] == 2 and run["total_cost"] == {"USD": Decimal("40.00")}
    assert run["skipped"] == {"jurisdiction": 1, "self_excluded": 1, "status": 1, "timeout": 1}
    for name in ("alice", "amy"):
        [bonus] = await bonuses_of(tenant, name)
        assert bonus["type"] == "reload" and bonus["bonus_amount"] == Decimal("20.00")
    for name in ("bob", "carol", "frank", "dave", "erin", "gina", "hugo"):
        assert await bonuses_of(tenant, name) == []

    [received] = rx.requests
    event = Webhook(hook["signing_secret"]).verify(received.body, received.headers)
    assert event["type"] == "campaign.run_completed"
    assert event["data"] == {"campaign_id": friday["id"], "run_id": run["id"],
                             "status": "completed", "granted": 2,
                             "skipped": run["skipped"], "total_cost": {"USD": 40}}

    # the next Friday's 10:00 in Malta is 09:00 UTC; after the clocks change, 08:00 UTC
    shown = body(await tenant.get(f"/v1/campaigns/{friday['id']}"))["campaign"]
    assert shown["next_run_at"] == "2026-03-27T09:00:00Z"
    clock.set(datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    await Worker(app.state.platform).tick()
    shown = body(await tenant.get(f"/v1/campaigns/{friday['id']}"))["campaign"]
    assert shown["next_run_at"] == "2026-04-03T08:00:00Z"
