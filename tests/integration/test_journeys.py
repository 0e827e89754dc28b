"""Journeys over HTTP: configuration, entry and steps by named triggers (from the
spine, the RG endpoint, VIP and the operator), expiry, rewards once, repeatable runs,
and players held by responsible-gambling rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Tenant
from tests.integration.bonus_support import ledger_problems
from tests.integration.support import (
    assert_error,
    assert_validation,
    body,
    create_player,
    outbox,
)
from tests.integration.vip_support import balance, configure, wager
from wowsino.kernel.clock import ManualClock
from wowsino.worker import Worker


async def journey(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    payload = {"name": "Welcome mission", "entry_trigger": "signup",
               "steps": [{"trigger": "wager"}], "reward_winz": 100, **fields}
    r = await tenant.post("/v1/journeys", payload)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = body(r)["journey"]
    return result


async def event(tenant: Tenant, trigger: str, user: str = "alice",
                **properties: Any) -> dict[str, Any]:
    r = await tenant.post("/v1/journeys/event", {"user_id": user, "trigger": trigger,
                                                 "properties": properties or None})
    assert r.status_code == 201, r.text
    result: dict[str, Any] = body(r)["effects"]["journeys"]
    return result


async def deposit(tenant: Tenant, deposit_id: str, amount: str,
                  user: str = "alice") -> dict[str, Any]:
    r = await tenant.post("/v1/events/deposit", {"user_id": user, "source_deposit_id": deposit_id,
                                                 "amount": amount, "currency": "USD"})
    assert r.status_code == 201, r.text
    result: dict[str, Any] = body(r)
    return result


async def runs(tenant: Tenant, user: str = "alice") -> list[dict[str, Any]]:
    r = await tenant.get(f"/v1/players/{user}/journeys")
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = body(r)["data"]
    return result


async def test_a_journey_is_validated_and_reads_back_as_created(tenant: Tenant) -> None:
    base = {"name": "J", "entry_trigger": "signup", "steps": [{"trigger": "wager"}]}
    assert_validation(await tenant.post("/v1/journeys", {**base, "entry_trigger": "no spaces"}),
                      "entry_trigger")
    assert_validation(await tenant.post("/v1/journeys", {**base, "steps": []}), "steps")
    assert_validation(await tenant.post("/v1/journeys", {
        **base, "steps": [{"trigger": "wager", "count": 0}]}), "steps.0.count")
    assert_validation(await tenant.post("/v1/journeys", {
        **base, "steps": [{"trigger": "wager", "min_amount": "-1"}]}), "steps.0.min_amount")
    assert_validation(await tenant.post("/v1/journeys", {**base, "time_limit_hours": 0}),
                      "time_limit_hours")
    assert_error(await tenant.post("/v1/journeys", {**base, "reward_bonus_template": "NOPE"}),
                 404, "NO_TEMPLATE")
    made = await journey(tenant, steps=[{"trigger": "deposit", "count": 2, "min_amount": "20",
                                         "within_hours": 48}], time_limit_hours=72)
    assert made["steps"] == [{"trigger": "deposit", "count": 2, "min_amount": 20,
                              "within_hours": 48}]
    assert (made["status"], made["reward_winz"], made["repeatable"]) == ("active", 100, False)
    listed = body(await tenant.get("/v1/journeys"))
    assert [j["id"] for j in listed["data"]] == [made["id"]]
    assert body(await tenant.get(f"/v1/journeys/{made['id']}"))["journey"] == made
    assert_error(await tenant.get("/v1/journeys/00000000-0000-4000-8000-000000000000"),
                 404, "NO_JOURNEY")


async def test_steps_advance_by_trigger_amount_and_count_and_the_reward_comes_once(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    made = await journey(tenant, entry_trigger="first_deposit", steps=[
        {"trigger": "wager", "count": 3, "min_amount": "5"}, {"trigger": "login"}])
    entered = (await deposit(tenant, "d1", "20.00"))["effects"]["journeys"]
    assert entered == [{"journey_id": made["id"], "name": "Welcome mission", "entered": True,
                        "run": 1, "step": 0, "steps_total": 2, "expires_at": None}]
    assert (await wager(tenant, "w0", "4.99"))["effects"]["journeys"] == []  # below min
    assert await event(tenant, "login") == []  # not the current step
    for i in range(3):
        done = (await wager(tenant, f"w{i + 1}", "5.00"))["effects"]["journeys"]
        assert (done[0]["step"], done[0]["step_count"]) == ((0, i + 1) if i < 2 else (1, 0))
    [completed] = await event(tenant, "login")
    assert completed["completed"] is True and completed["reward"]["winz"] == 100
    assert await balance(tenant, "alice", "winz", "WINZ") == 100
    [announced] = await outbox(engine, tenant.id, "test", "journey.completed")
    assert (announced["journey_id"], announced["reward_winz_granted"], announced["run"]) == (
        made["id"], 100, 1)
    # completed, not repeatable: neither the steps nor a new entry trigger do anything
    assert await event(tenant, "login") == []
    assert (await deposit(tenant, "d2", "20.00"))["effects"]["journeys"] == []
    assert await balance(tenant, "alice", "winz", "WINZ") == 100
    [row] = await runs(tenant)
    assert (row["status"], row["step"], row["steps_total"]) == ("completed", 2, 2)
    assert await ledger_problems(engine) == []


async def test_a_step_not_done_within_its_hours_expires_the_run(
    tenant: Tenant, clock: ManualClock, app: Any,
) -> None:
    await create_player(tenant, "alice")
    await journey(tenant, steps=[{"trigger": "deposit", "within_hours": 24}])
    [entered] = await event(tenant, "signup")
    assert entered["expires_at"] == "2026-01-02T12:00:00Z"
    clock.advance(timedelta(hours=23, minutes=59))
    assert (await runs(tenant))[0]["status"] == "active"
    clock.advance(timedelta(minutes=1))
    assert (await runs(tenant))[0]["status"] == "expired"  # shown at once
    assert (await Worker(app.state.platform).tick())["journeys_expired"] == 1
    done = (await deposit(tenant, "d1", "10.00"))["effects"]["journeys"]
    assert done == []
    assert await balance(tenant, "alice", "winz", "WINZ") == 0


async def test_the_time_limit_covers_the_whole_run(tenant: Tenant, clock: ManualClock) -> None:
    await create_player(tenant, "alice")
    await journey(tenant, steps=[{"trigger": "wager"}, {"trigger": "wager", "within_hours": 5}],
                  time_limit_hours=3)
    await event(tenant, "signup")
    clock.advance(timedelta(hours=1))
    step = (await wager(tenant, "w1", "1.00"))["effects"]["journeys"][0]
    # the second step's 5 hours end after the run's 3: the run's limit decides
    assert step["step"] == 1
    assert (await runs(tenant))[0]["expires_at"] == "2026-01-01T15:00:00Z"
    clock.advance(timedelta(hours=2))
    expired = (await wager(tenant, "w2", "1.00"))["effects"]["journeys"]
    assert expired == [{"journey_id": expired[0]["journey_id"], "name": "Welcome mission",
                        "expired": True}]


async def test_a_repeatable_journey_starts_over_and_rewards_each_run(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await journey(tenant, entry_trigger="deposit", steps=[{"trigger": "wager"}],
                  repeatable=True, reward_winz=10)
    for n in range(1, 4):
        [entered] = (await deposit(tenant, f"d{n}", "10.00"))["effects"]["journeys"]
        assert entered["run"] == n
        assert (await wager(tenant, f"w{n}", "1.00"))["effects"]["journeys"][0]["completed"]
    assert await balance(tenant, "alice", "winz", "WINZ") == 30
    assert [e["run"] for e in await outbox(engine, tenant.id, "test", "journey.completed")] == [
        1, 2, 3]


async def test_a_held_player_is_not_entered_and_the_skip_is_on_the_timeline(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    await journey(tenant)
    until = (clock.now() + timedelta(hours=6)).isoformat().replace("+00:00", "Z")
    assert (await tenant.post("/v1/players/alice/rg", {"timeout_until": until})).status_code == 200
    [skipped] = await event(tenant, "signup")
    assert (skipped["entered"], skipped["skipped"], skipped["reason"]) == (False, "rg", "timeout")
    assert await runs(tenant) == []
    timeline = body(await tenant.get("/v1/players/alice/timeline"))["data"]
    skips = [t["detail"]["after"] for t in timeline if t["type"] == "engagement.skipped"]
    assert skips == [{"engine": "journeys", "ref": None, "skipped": "rg", "reason": "timeout"}]
    clock.advance(timedelta(hours=7))  # the time-out is over
    [entered] = await event(tenant, "signup")
    assert entered["entered"] is True


async def test_a_player_who_reaches_a_daily_limit_gets_no_completion_reward(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await journey(tenant, steps=[{"trigger": "wager", "count": 2}])
    await event(tenant, "signup")
    r = await tenant.post("/v1/players/alice/rg", {"wager_daily_limit": "10.00"})
    assert r.status_code == 200, r.text
    await wager(tenant, "w1", "6.00")
    [done] = (await wager(tenant, "w2", "6.00"))["effects"]["journeys"]  # 12.00 >= 10.00
    assert done["completed"] is True
    assert done["reward"] == {"skipped": "rg", "reason": "limit_hit"}
    assert await balance(tenant, "alice", "winz", "WINZ") == 0
    [announced] = await outbox(engine, tenant.id, "test", "journey.completed")
    assert announced["reward_winz_granted"] == 0


async def test_setting_a_limit_completes_a_safer_gambling_mission(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await journey(tenant, name="Play safe", entry_trigger="first_deposit",
                  steps=[{"trigger": "rg.limit_set"}], reward_winz=250)
    await deposit(tenant, "d1", "20.00")
    r = await tenant.post("/v1/players/alice/rg", {"deposit_daily_limit": "50.00"})
    assert r.status_code == 200, r.text
    assert await balance(tenant, "alice", "winz", "WINZ") == 250
    # loosening a limit (a cooling-off) is not setting one
    r = await tenant.post("/v1/players/alice/rg", {"deposit_daily_limit": "500.00"})
    assert r.status_code == 200, r.text
    assert len(await outbox(engine, tenant.id, "test", "journey.completed")) == 1


async def test_a_vip_level_up_is_a_journey_trigger(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    await configure(tenant)
    await journey(tenant, steps=[{"trigger": "vip.level_up"}], reward_winz=7)
    await event(tenant, "signup")
    done = await wager(tenant, "w1", "15.00")  # Silver: 50 WINZ, then the journey's 7
    assert done["effects"]["vip"][0]["level"]["to"] == 2
    assert await balance(tenant, "alice", "winz", "WINZ") == 57


async def test_a_paused_journey_neither_enters_nor_advances_and_started_steps_are_fixed(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    made = await journey(tenant, steps=[{"trigger": "login"}])
    r = await tenant.patch(f"/v1/journeys/{made['id']}", {"steps": [{"trigger": "logout"}]})
    assert r.status_code == 200 and body(r)["journey"]["steps"][0]["trigger"] == "logout"
    assert (await tenant.post(f"/v1/journeys/{made['id']}/pause", {})).status_code == 200
    assert await event(tenant, "signup") == []
    assert (await tenant.post(f"/v1/journeys/{made['id']}/resume", {})).status_code == 200
    assert (await event(tenant, "signup"))[0]["entered"] is True
    assert_error(await tenant.patch(f"/v1/journeys/{made['id']}",
                                    {"steps": [{"trigger": "login"}]}), 409, "JOURNEY_STARTED")
    assert_validation(await tenant.patch(f"/v1/journeys/{made['id']}", {"name": None}), "name")
    r = await tenant.patch(f"/v1/journeys/{made['id']}", {"reward_winz": 5, "name": "Renamed"})
    assert body(r)["journey"]["name"] == "Renamed"


async def test_a_players_journeys_are_paginated_newest_first(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    for n in range(3):
        await journey(tenant, name=f"J{n}", entry_trigger=f"enter{n}")
        await event(tenant, f"enter{n}")
        clock.advance(timedelta(minutes=1))
    first = body(await tenant.get("/v1/players/alice/journeys?limit=2"))
    assert [r["journey_name"] for r in first["data"]] == ["J2", "J1"]
    rest = body(await tenant.get(
        f"/v1/players/alice/journeys?limit=2&cursor={first['next_cursor']}"))
    assert [r["journey_name"] for r in rest["data"]] == ["J0"] and rest["next_cursor"] is None
    assert_error(await tenant.get("/v1/players/nobody/journeys"), 404, "NO_PLAYER")
    assert_validation(await tenant.get("/v1/players/alice/journeys?cursor=bogus"), "cursor")
