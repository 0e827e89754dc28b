"""VIP over HTTP: the programme, XP from real-money wagers (capped per local day),
levels and their rewards, rollbacks, responsible gambling and jurisdictions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.bonus_support import ledger_problems, template
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    body,
    count_rows,
    create_player,
    outbox,
)
from tests.integration.vip_support import (
    BRONZE,
    GOLD,
    SILVER,
    balance,
    cached_xp,
    configure,
    german_brand,
    programme,
    rollback,
    standing,
    wager,
)
from wowsino.kernel.clock import ManualClock

# --- the programme ------------------------------------------------------------------------


async def test_a_ladder_that_does_not_climb_from_zero_is_refused_and_changes_nothing(
    tenant: Tenant,
) -> None:
    cases = [
        ([{**BRONZE, "xp_required": 5}, SILVER], "levels.0.xp_required"),
        ([BRONZE, {**SILVER, "level": 1}], "levels.1.level"),
        ([BRONZE, SILVER, {**GOLD, "xp_required": 100}], "levels.2.xp_required"),
        ([BRONZE, {**SILVER, "level": 0}], "levels.1.level"),
    ]
    for levels, field in cases:
        assert_validation(await tenant.put("/v1/vip", programme(levels=levels)), field)
    assert_validation(await tenant.put("/v1/vip", programme(timezone="Mars/Olympus")),
                      "timezone")
    assert_validation(await tenant.put("/v1/vip", programme(xp_per_unit=0)), "xp_per_unit")
    assert_validation(await tenant.put("/v1/vip", programme(xp_daily_cap=0)), "xp_daily_cap")
    assert_validation(await tenant.put("/v1/vip", programme(levels=[])), "levels")
    assert_validation(await tenant.put("/v1/vip", programme(
        levels=[{**BRONZE, "cashback_pct": "100.5"}])), "levels.0.cashback_pct")
    assert_validation(await tenant.put("/v1/vip", programme(
        levels=[BRONZE, {**SILVER, "level_up_reward": {}}])), "levels.1.level_up_reward")
    r = await tenant.get("/v1/vip")
    assert r.status_code == 200 and body(r)["vip"] is None


async def test_cashback_as_a_bonus_needs_a_cashback_template(tenant: Tenant) -> None:
    assert_validation(await tenant.put("/v1/vip", programme(cashback_as="bonus")),
                      "cashback_template")
    welcome = await template(tenant, promo_code="WELCOME")
    assert_validation(await tenant.put("/v1/vip", programme(
        cashback_as="bonus", cashback_template="WELCOME")), "cashback_template")
    assert_error(await tenant.put("/v1/vip", programme(
        cashback_as="bonus", cashback_template="NOPE")), 404, "NO_TEMPLATE")
    cashback = await template(tenant, type="cashback", amount_pct=10, amount=None)
    done = await configure(tenant, cashback_as="bonus", cashback_template=cashback["id"])
    assert done["vip"]["cashback_template"] == cashback["id"]
    assert welcome["id"] != cashback["id"]


async def test_the_programme_reads_back_as_set_and_names_brands_without_vip(
    tenant: Tenant,
) -> None:
    await german_brand(tenant)
    done = await configure(tenant, xp_per_unit="2.5", timezone="Europe/Malta")
    assert done["players_moved"] == 0
    r = await tenant.get("/v1/vip")
    shown = body(r)
    assert shown["disallowed_brands"] == ["de-site"]
    vip = shown["vip"]
    assert (vip["xp_per_unit"], vip["xp_daily_cap"], vip["timezone"]) == (
        Decimal("2.5"), 10_000, "Europe/Malta")
    assert [x["name"] for x in vip["levels"]] == ["Bronze", "Silver", "Gold"]
    assert vip["levels"][1]["level_up_reward"] == {"winz": 50, "bonus_template": None,
                                                   "lootbox_id": None}
    assert vip["version"] == 1
    assert (await configure(tenant))["vip"]["version"] == 2


# --- XP ------------------------------------------------------------------------------------


async def test_xp_is_the_stake_times_the_rate_per_whole_unit_rounded_down(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await configure(tenant)
    done = await wager(tenant, "w1", "1.99")
    assert done["effects"]["vip"] == [{"xp": 19, "capped": False, "day": "2026-01-01",
                                       "xp_today": 19, "xp_daily_cap": 10_000}]
    assert await balance(tenant, "alice", "xp", "XP") == 19
    assert await cached_xp(engine, "alice") == 19
    assert await ledger_problems(engine) == []


async def test_only_real_money_earns_xp(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    await configure(tenant)
    done = await wager(tenant, "w1", "50.00", funding="bonus")
    assert done["effects"]["vip"] == []
    assert await balance(tenant, "alice", "xp", "XP") == 0
    assert await count_rows(engine, "vip_wagers", tenant.id) == 0


async def test_a_realm_without_a_programme_earns_nothing(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    done = await wager(tenant, "w1", "50.00")
    assert done["effects"]["vip"] == []
    assert await count_rows(engine, "vip_days", tenant.id) == 0


async def test_the_daily_cap_holds_until_local_midnight_and_resets_after(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    await configure(tenant, xp_daily_cap=100, timezone="Europe/Malta")  # UTC+1 in January
    clock.set(datetime(2026, 1, 10, 12, 0, tzinfo=UTC))
    assert (await wager(tenant, "w1", "8.00"))["effects"]["vip"][0]["xp"] == 80
    capped = (await wager(tenant, "w2", "5.00"))["effects"]["vip"][0]
    assert (capped["xp"], capped["capped"], capped["xp_today"]) == (20, True, 100)
    clock.set(datetime(2026, 1, 10, 22, 59, 59, tzinfo=UTC))  # 23:59:59 in Malta
    assert (await wager(tenant, "w3", "5.00"))["effects"]["vip"][0]["xp"] == 0
    assert (await standing(tenant))["xp_today"] == 100
    clock.set(datetime(2026, 1, 10, 23, 0, tzinfo=UTC))  # midnight in Malta
    fresh = (await wager(tenant, "w4", "5.00"))["effects"]["vip"][0]
    assert (fresh["xp"], fresh["day"], fresh["xp_today"]) == (50, "2026-01-11", 50)
    view = await standing(tenant)
    assert (view["xp"], view["xp_today"], view["xp_daily_cap"]) == (150, 50, 100)


async def test_the_local_day_follows_a_daylight_saving_change(
    tenant: Tenant, clock: ManualClock,
) -> None:
    """Malta moves to UTC+2 at 01:00 UTC on 29 March 2026: that local day ends at 22:00
    UTC, an hour earlier than the one before."""
    await create_player(tenant, "alice")
    await configure(tenant, xp_daily_cap=100, timezone="Europe/Malta")
    clock.set(datetime(2026, 3, 28, 22, 30, tzinfo=UTC))  # 23:30 on the 28th, UTC+1
    assert (await wager(tenant, "w1", "10.00"))["effects"]["vip"][0]["day"] == "2026-03-28"
    clock.set(datetime(2026, 3, 28, 23, 0, tzinfo=UTC))  # midnight: the 29th begins
    assert (await wager(tenant, "w2", "10.00"))["effects"]["vip"][0]["xp"] == 100
    clock.set(datetime(2026, 3, 29, 21, 59, tzinfo=UTC))  # 23:59 on the 29th, UTC+2
    late = (await wager(tenant, "w3", "10.00"))["effects"]["vip"][0]
    assert (late["xp"], late["day"]) == (0, "2026-03-29")
    clock.set(datetime(2026, 3, 29, 22, 0, tzinfo=UTC))  # midnight on the new offset
    fresh = (await wager(tenant, "w4", "10.00"))["effects"]["vip"][0]
    assert (fresh["xp"], fresh["day"]) == (100, "2026-03-30")


async def test_the_cap_is_shared_by_the_wagers_of_one_batch_in_their_order(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    await configure(tenant, xp_daily_cap=100)
    events = [{"user_id": "alice", "source_wager_id": f"b{i}", "amount": "4.00",
               "currency": "USD"} for i in range(4)]
    r = await tenant.post("/v1/events/wager:batch", {"events": events})
    assert r.status_code == 201, r.text
    assert [x["effects"]["vip"][0]["xp"] for x in body(r)["results"]] == [40, 40, 20, 0]


async def test_a_rollback_takes_the_xp_back_but_not_the_level(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await configure(tenant)
    await wager(tenant, "w1", "15.00")
    assert (await standing(tenant))["level"] == 2
    done = await rollback(tenant, "w1")
    assert done["effects"]["vip"] == [{"xp_reversed": 150}]
    view = await standing(tenant)
    assert (view["level"], view["name"], view["xp"], view["xp_today"]) == (2, "Silver", 0, 0)
    assert await cached_xp(engine, "alice") == 0
    again = await rollback(tenant, "w1")
    assert again["already_rolled_back"] is True
    assert await ledger_problems(engine) == []


# --- levels and their rewards -------------------------------------------------------------


async def test_reaching_a_level_announces_it_and_rewards_it_once_ever(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await configure(tenant)
    done = (await wager(tenant, "w1", "15.00"))["effects"]["vip"][0]
    assert done["level"]["from"] == 1 and done["level"]["to"] == 2
    assert done["level"]["rewards"][0]["granted"] is True
    assert await balance(tenant, "alice", "winz", "WINZ") == 50
    changed = await outbox(engine, tenant.id, "test", "vip.level_changed")
    assert [(e["from"], e["to"]) for e in changed] == [(1, 2)]
    # XP taken back and earned again: the level never left, nothing more is given
    await rollback(tenant, "w1")
    assert "level" not in (await wager(tenant, "w2", "15.00"))["effects"]["vip"][0]
    # a ladder edit moves the player down; reaching the level again gives nothing more
    moved = await configure(tenant, levels=[BRONZE, {**SILVER, "xp_required": 500}, GOLD])
    assert moved["players_moved"] == 1
    assert (await standing(tenant))["level"] == 1
    back = (await wager(tenant, "w3", "40.00"))["effects"]["vip"][0]["level"]
    assert (back["from"], back["to"], back["rewards"]) == (1, 2, [])
    assert await balance(tenant, "alice", "winz", "WINZ") == 50
    changed = await outbox(engine, tenant.id, "test", "vip.level_changed")
    assert [(e["from"], e["to"]) for e in changed] == [(1, 2), (2, 1), (1, 2)]


async def test_a_jump_over_several_levels_rewards_each_of_them(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    await configure(tenant)
    done = (await wager(tenant, "w1", "150.00"))["effects"]["vip"][0]["level"]
    assert (done["from"], done["to"]) == (1, 3)
    assert [x["level"] for x in done["rewards"]] == [2, 3]
    assert await balance(tenant, "alice", "winz", "WINZ") == 250


async def test_concurrent_wagers_crossing_a_level_reward_it_once(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await configure(tenant)
    await wager(tenant, "w0", "9.00")  # 90 XP: every next wager reaches Silver
    results = await asyncio.gather(*(wager(tenant, f"c{i}", "1.00") for i in range(12)))
    ups = [r for r in results if "level" in r["effects"]["vip"][0]]
    assert len(ups) == 1
    assert await balance(tenant, "alice", "winz", "WINZ") == 50
    assert await count_rows(engine, "vip_level_rewards", tenant.id) == 1
    assert await cached_xp(engine, "alice") == 210
    assert await ledger_problems(engine) == []


async def test_a_held_player_levels_up_without_the_reward_and_the_skip_is_on_the_timeline(
    tenant: Tenant, engine: Any, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    await configure(tenant)
    until = (clock.now() + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    r = await tenant.post("/v1/players/alice/rg", {"timeout_until": until})
    assert r.status_code == 200, r.text
    done = (await wager(tenant, "w1", "15.00"))["effects"]["vip"][0]["level"]
    assert done["to"] == 2
    assert done["rewards"] == [{"level": 2, "skipped": "rg", "reason": "timeout"}]
    assert await balance(tenant, "alice", "winz", "WINZ") == 0
    timeline = body(await tenant.get("/v1/players/alice/timeline"))["data"]
    skips = [t["detail"]["after"] for t in timeline if t["type"] == "engagement.skipped"]
    assert skips == [{"engine": "vip", "ref": "level_up", "skipped": "rg",
                      "reason": "timeout"}], timeline
    # withheld, not deferred: once the time-out is over nothing arrives later
    clock.advance(timedelta(days=3))
    await wager(tenant, "w2", "1.00")
    assert await balance(tenant, "alice", "winz", "WINZ") == 0


async def test_a_level_up_reward_may_be_a_bonus_and_a_lootbox_open(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    gift = await template(tenant, type="vip_comp", amount="5.00", promo_code="GIFT")
    r = await tenant.post("/v1/lootbox", {"name": "Silver box", "prize_table": [
        {"segment_label": "coins", "weight": 1, "asset": "WINZ", "amount": 7}]})
    box = body(r)["lootbox"]["id"]
    reward = {"bonus_template": "GIFT", "lootbox_id": box}
    await configure(tenant, levels=[BRONZE, {**SILVER, "level_up_reward": reward}])
    shown = body(await tenant.get("/v1/vip"))["vip"]["levels"][1]["level_up_reward"]
    assert shown == {"winz": 0, "bonus_template": gift["id"], "lootbox_id": box}
    given = (await wager(tenant, "w1", "15.00"))["effects"]["vip"][0]["level"]["rewards"][0]
    assert given["bonus"]["type"] == "vip_comp"
    assert given["lootbox_open"]["reward"]["amount"] == 7
    assert await balance(tenant, "alice", "winz", "WINZ") == 7


# --- jurisdictions --------------------------------------------------------------------------


async def test_a_brand_without_vip_earns_no_xp_and_no_level(tenant: Tenant, engine: Any) -> None:
    de = await german_brand(tenant)
    r = await tenant.client.post("/v1/players", headers=de,
                                 json={"username": "hans", "email": "hans@example.com"})
    assert r.status_code == 201, r.text
    await configure(tenant)
    done = await wager(tenant, "w1", "500.00", user="hans", headers=de)
    assert done["effects"]["vip"] == []
    view = await standing(tenant, "hans", headers=de)
    assert (view["vip_allowed"], view["level"], view["xp"], view["cashback"]) == (
        False, None, 0, None)
    assert await count_rows(engine, "vip_days", tenant.id) == 0
    # an override on the brand brings it back
    r = await tenant.put("/v1/brands/de-site/jurisdiction",
                         {"profile": "DE", "overrides": {"vip_allowed": True}})
    assert r.status_code == 200, r.text
    assert body(await tenant.get("/v1/vip"))["disallowed_brands"] == []
    assert (await wager(tenant, "w2", "5.00", user="hans", headers=de))[
        "effects"]["vip"][0]["xp"] == 50


# --- views ------------------------------------------------------------------------------------


async def test_the_player_view_and_the_dossier_show_standing_and_progress(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    before = body(await tenant.get("/v1/players/alice"))["player"]["vip"]
    assert before == {"level": None, "name": None, "xp": 0, "progress": None}
    await configure(tenant)
    await wager(tenant, "w1", "55.00", win_amount="5.00")  # 550 XP, 50.00 lost
    view = await standing(tenant)
    assert (view["level"], view["name"], view["xp"], view["xp_today"]) == (2, "Silver", 550, 550)
    assert view["progress"] == {"next_level": {"level": 3, "name": "Gold", "xp_required": 1000},
                                "xp_to_next_level": 450, "progress_pct": Decimal("50.00")}
    cashback = view["cashback"]
    assert (cashback["period_start"], cashback["period_end"]) == ("2026-01-01", "2026-01-02")
    assert (cashback["net_loss"], cashback["cashback_pct"], cashback["accrued"]) == (
        Decimal("50.00"), 5, Decimal("2.50"))
    dossier = body(await tenant.get("/v1/players/alice"))["player"]["vip"]
    assert (dossier["level"], dossier["name"], dossier["xp"]) == (2, "Silver", 550)
    assert dossier["progress"]["xp_to_next_level"] == 450
    assert_error(await tenant.get("/v1/players/nobody/vip"), 404, "NO_PLAYER")


async def test_xp_from_prizes_and_adjustments_keeps_the_standing_in_step(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/lootbox", {"name": "XP box", "prize_table": [
        {"segment_label": "xp", "weight": 1, "asset": "XP", "amount": 40}]})
    box = body(r)["lootbox"]["id"]
    assert (await tenant.post(f"/v1/lootbox/{box}/open", {"user_id": "alice"})).status_code == 201
    assert await cached_xp(engine, "alice") == 40
    assert (await adjust(tenant, "alice", 70, rail="xp", asset="XP")).status_code == 201
    assert (await adjust(tenant, "alice", -10, rail="xp", asset="XP")).status_code == 201
    assert await cached_xp(engine, "alice") == 100
    # the first ladder places the player by that XP
    moved = await configure(tenant)
    assert moved["players_moved"] == 1
    assert (await standing(tenant))["level"] == 2
    async with engine.connect() as conn:
        level = await conn.scalar(text("SELECT level FROM vip_players WHERE tenant_id = "
                                       "CAST(:t AS uuid)"), {"t": tenant.id})
    assert level == 2
