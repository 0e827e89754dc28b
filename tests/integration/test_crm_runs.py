"""Campaign runs: exactly once per player per run through crashes and concurrent workers,
short transactions with visible progress, budgets that stop a run, and manual runs named
by their idempotency key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from tests.conftest import Tenant
from tests.integration.crm_support import (
    campaign,
    entries_per_player,
    player,
    run,
    segment,
    winz_grants,
)
from tests.integration.support import assert_error, body, outbox
from wowsino.crm import actions, runs
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.realm import Mode, Realm
from wowsino.worker import Worker

FRIDAY = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
WEEKLY = {"weekly": {"day": "fri", "time": "10:00", "tz": "Europe/Malta"}}
WINZ_100 = {"type": "grant_winz", "amount": 100}


async def _players(tenant: Tenant, engine: Any, count: int) -> list[str]:
    return [(await player(tenant, engine, f"p{i:02d}"))["user_id"] for i in range(count)]


async def _run_row(tenant: Tenant, campaign_id: str) -> dict[str, Any]:
    [latest, *_] = body(await tenant.get(f"/v1/campaigns/{campaign_id}/runs"))["data"]
    result: dict[str, Any] = latest
    return result


async def test_a_worker_killed_mid_run_resumes_and_grants_every_player_exactly_once(
    app: Any, tenant: Tenant, engine: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await _players(tenant, engine, 23)
    made = await campaign(tenant, (await segment(tenant, "true"))["id"], WINZ_100, WEEKLY)
    monkeypatch.setattr(runs, "BATCH", 5)
    real_give, calls = actions.give, 0

    async def dies_after_12(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls > 12:
            raise RuntimeError("the worker's process was killed")
        return await real_give(*args, **kwargs)

    monkeypatch.setattr(actions, "give", dies_after_12)
    clock.set(FRIDAY)
    worker = Worker(app.state.platform)
    assert "campaign_batches" not in await worker.tick()  # the job failed mid-batch
    halfway = await _run_row(tenant, made["id"])
    # two batches of five committed, each its own transaction; the third rolled back
    assert (halfway["status"], halfway["processed"], halfway["granted"]) == ("running", 10, 10)
    assert sorted(await entries_per_player(engine, tenant.id)) == sorted(ids[:10])

    monkeypatch.setattr(actions, "give", real_give)
    await worker.tick()
    done = await _run_row(tenant, made["id"])
    assert (done["status"], done["processed"], done["granted"]) == ("completed", 23, 23)
    assert await entries_per_player(engine, tenant.id) == {i: 1 for i in ids}
    assert await winz_grants(engine, tenant.id) == {i: 100 for i in ids}
    assert done["total_cost"] == {"WINZ": Decimal(2300)}


async def test_two_workers_on_one_run_never_grant_a_player_twice(
    app: Any, tenant: Tenant, engine: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await _players(tenant, engine, 30)
    made = await campaign(tenant, (await segment(tenant, "true"))["id"], WINZ_100, WEEKLY)
    monkeypatch.setattr(runs, "BATCH", 4)
    clock.set(FRIDAY)
    platform = app.state.platform
    assert await runs.schedule_due(platform) == 1
    row = await _run_row(tenant, made["id"])
    realm = Realm(UUID(tenant.id), Mode.TEST)
    for _ in range(10):  # until both have found nothing left
        await asyncio.gather(*(runs.drive(platform, realm, UUID(row["id"]), seconds=30)
                               for _ in range(3)))
    assert (await _run_row(tenant, made["id"]))["status"] == "completed"
    assert await entries_per_player(engine, tenant.id) == {i: 1 for i in ids}


async def test_a_run_stops_and_pauses_its_campaign_at_its_budget(
    tenant: Tenant, engine: Any,
) -> None:
    await _players(tenant, engine, 5)
    made = await campaign(tenant, (await segment(tenant, "true"))["id"], WINZ_100,
                          budget=250)
    done = await run(tenant, made["id"])
    assert (done["status"], done["stopped_by"], done["granted"]) == (
        "budget_reached", "run_budget", 2)
    assert done["total_cost"] == {"WINZ": Decimal(200)}
    assert sum((await winz_grants(engine, tenant.id)).values()) == 200
    shown = body(await tenant.get(f"/v1/campaigns/{made['id']}"))["campaign"]
    assert (shown["status"], shown["paused_reason"]) == ("paused", "run_budget_reached")
    assert_error(await tenant.post(f"/v1/campaigns/{made['id']}/run", {}), 409, "NOT_ACTIVE")


async def test_the_monthly_budget_stops_runs_pauses_campaigns_and_says_so_once(
    tenant: Tenant, engine: Any, clock: ManualClock,
) -> None:
    await _players(tenant, engine, 5)
    everyone = (await segment(tenant, "true"))["id"]
    first = await campaign(tenant, everyone, WINZ_100)
    second = await campaign(tenant, everyone, {"type": "grant_winz", "amount": 1})
    r = await tenant.client.put("/v1/crm/budget", headers=tenant.headers(),
                                json={"monthly": {"WINZ": 300}})
    assert r.status_code == 200, r.text
    done = await run(tenant, first["id"])
    assert (done["status"], done["stopped_by"], done["granted"]) == (
        "budget_reached", "monthly_budget", 3)
    for made in (first, second):
        shown = body(await tenant.get(f"/v1/campaigns/{made['id']}"))["campaign"]
        assert (shown["status"], shown["paused_reason"]) == ("paused", "budget_reached")
    [reached] = await outbox(engine, tenant.id, "test", "crm.budget_reached")
    assert reached["asset"] == "WINZ" and reached["spent"] == 300 and reached["limit"] == 300
    assert sorted(reached["paused_campaigns"]) == sorted([first["id"], second["id"]])
    shown = body(await tenant.get("/v1/crm/budget"))["budget"]
    assert shown["month"] == clock.now().strftime("%Y-%m")
    winz = shown["monthly"]["WINZ"]
    assert (winz["limit"], winz["spent"], winz["remaining"], winz["reached"]) == (
        Decimal(300), Decimal(300), Decimal(0), True)
    # resumed within the month, the budget still refuses, without a second event
    assert (await tenant.post(f"/v1/campaigns/{second['id']}/resume", {})).status_code == 200
    again = await run(tenant, second["id"])
    assert (again["status"], again["granted"]) == ("budget_reached", 0)
    assert len(await outbox(engine, tenant.id, "test", "crm.budget_reached")) == 1


async def test_a_manual_run_is_named_by_its_idempotency_key(tenant: Tenant, engine: Any) -> None:
    ids = await _players(tenant, engine, 3)
    made = await campaign(tenant, (await segment(tenant, "true"))["id"], WINZ_100)
    r = await tenant.post(f"/v1/campaigns/{made['id']}/run", {"idempotency_key": "friday-1"})
    assert r.status_code == 201 and r.headers["Idempotency-Key"] == "friday-1"
    first = body(r)["run"]
    assert (first["status"], first["granted"]) == ("completed", 3)
    r = await tenant.post(f"/v1/campaigns/{made['id']}/run", {"idempotency_key": "friday-1"})
    assert r.status_code == 200 and body(r)["deduped"] is True
    assert body(r)["run"]["id"] == first["id"]
    assert await entries_per_player(engine, tenant.id) == {i: 1 for i in ids}
    # another key is another run: each run grants once per player
    await run(tenant, made["id"], key="friday-2")
    assert await entries_per_player(engine, tenant.id) == {i: 2 for i in ids}


async def test_max_per_player_per_month_skips_players_granted_enough(
    tenant: Tenant, engine: Any,
) -> None:
    await _players(tenant, engine, 2)
    made = await campaign(tenant, (await segment(tenant, "true"))["id"], WINZ_100,
                          max_per_player_per_month=1)
    assert (await run(tenant, made["id"]))["granted"] == 2
    second = await run(tenant, made["id"])
    assert (second["granted"], second["skipped"]) == (0, {"max_per_player_per_month": 2})


async def test_notify_sends_one_crm_message_per_player_and_costs_nothing(
    tenant: Tenant, engine: Any,
) -> None:
    await _players(tenant, engine, 2)
    await player(tenant, engine, "quiet")
    assert (await tenant.patch("/v1/players/quiet/status", {
        "status": "self_excluded", "reason": "asked to"})).status_code == 200
    made = await campaign(tenant, (await segment(tenant, "true"))["id"],
                          {"type": "notify", "message": "Reload Friday is on"})
    done = await run(tenant, made["id"])
    assert (done["granted"], done["skipped"], done["total_cost"]) == (
        2, {"self_excluded": 1}, {})
    messages = await outbox(engine, tenant.id, "test", "crm.message")
    assert sorted(m["user"]["username"] for m in messages) == ["p00", "p01"]
    assert {m["message"] for m in messages} == {"Reload Friday is on"}


async def test_a_free_lootbox_open_is_drawn_through_the_lootbox(
    tenant: Tenant, engine: Any,
) -> None:
    await _players(tenant, engine, 2)
    box = body(await tenant.post("/v1/lootbox", {"name": "Box", "cost_winz": 25, "prize_table": [
        {"segment_label": "coins", "weight": 1, "asset": "WINZ", "amount": 10}]}))["lootbox"]
    made = await campaign(tenant, (await segment(tenant, "true"))["id"],
                          {"type": "open_lootbox", "lootbox_id": box["id"]})
    done = await run(tenant, made["id"])
    assert (done["granted"], done["total_cost"]) == (2, {"WINZ": Decimal(50)})
    opens = body(await tenant.get(f"/v1/lootbox/{box['id']}/opens"))["data"]
    assert len(opens) == 2 and {o["cost_winz"] for o in opens} == {0}


async def test_a_paused_campaign_neither_runs_by_hand_nor_on_schedule(
    app: Any, tenant: Tenant, engine: Any, clock: ManualClock,
) -> None:
    await _players(tenant, engine, 1)
    made = await campaign(tenant, (await segment(tenant, "true"))["id"], WINZ_100, WEEKLY)
    assert (await tenant.post(f"/v1/campaigns/{made['id']}/pause", {})).status_code == 200
    assert_error(await tenant.post(f"/v1/campaigns/{made['id']}/run", {}), 409, "NOT_ACTIVE")
    clock.set(FRIDAY)
    await Worker(app.state.platform).tick()
    assert body(await tenant.get(f"/v1/campaigns/{made['id']}/runs"))["data"] == []


async def test_a_grant_failing_in_the_database_skips_that_player_and_the_run_goes_on(
    tenant: Tenant, engine: Any,
) -> None:
    """One player's grant failing for a reason that is neither a conflict nor an outage
    (here a trigger refusing that player's WINZ account) is skipped as ``error``, rolled
    back alone; the run completes instead of failing its batch at every worker pass."""
    from sqlalchemy import text

    ids = await _players(tenant, engine, 3)
    async with engine.begin() as conn:
        await conn.execute(text(
            "CREATE FUNCTION refuse_p01() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.owner_key = '{ids[1]}' AND NEW.rail = 'winz' THEN "
            "RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$"))
        await conn.execute(text(
            "CREATE TRIGGER refuse_p01 BEFORE INSERT ON ledger_accounts "
            "FOR EACH ROW EXECUTE FUNCTION refuse_p01()"))
    made = await campaign(tenant, (await segment(tenant, "true"))["id"], WINZ_100)
    done = await run(tenant, made["id"], key="with-a-failure")
    assert (done["status"], done["granted"], done["skipped"]) == ("completed", 2, {"error": 1})
    assert await entries_per_player(engine, tenant.id) == {ids[0]: 1, ids[2]: 1}
