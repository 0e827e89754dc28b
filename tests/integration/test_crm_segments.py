"""Segments over HTTP: the expression language's errors with their positions, previews,
edits and deletes, campaigns' checks of what they reference, and backtests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import ADMIN, Tenant
from tests.integration.bonus_support import bet, template
from tests.integration.crm_support import campaign, deposit, player, segment, set_vip
from tests.integration.support import (
    assert_error,
    assert_validation,
    bearer,
    body,
    create_key,
)
from wowsino.kernel.clock import ManualClock


@pytest.mark.parametrize(("expression", "position", "expected", "name"), [
    ("vip_level >", 11, ["a number", "a quoted string", "false", "now()", "true"], None),
    ("xp > 1 AND", 10, ["(", "NOT", "a field", "false", "has_tag(", "true"], None),
    ("(xp > 1", 7, [")"], None),
    ("xp > 1 $ 2", 7, None, None),
    ("favourite_game = 'slots'", 0, None, "favourite_game"),
    ("country_code = 5", 15, ["a quoted string"], "country_code"),
    ("last_deposit_at < 7", 18, None, "last_deposit_at"),
    ("country_code < 'MT'", 13, ["=", "!=", "IN"], "country_code"),
    ("status = 'gone'", 9, None, "status"),
    ("min_vip_level > 2", 14, ["="], "min_vip_level"),
    ("registered_at > 'yesterday'", 16, None, "registered_at"),
])
async def test_a_bad_expression_answers_400_with_its_position_and_what_was_expected(
    tenant: Tenant, expression: str, position: int, expected: list[str] | None,
    name: str | None,
) -> None:
    r = await tenant.post("/v1/segments", {"name": "Bad", "expression": expression})
    payload = assert_validation(r, "expression")
    details = payload["details"]
    assert details["position"] == position, payload
    assert isinstance(details["expected"], list) and details["expected"], payload
    if expected is not None:
        assert details["expected"] == expected, payload
    if name is not None:
        assert details["name"] == name, payload
    assert body(await tenant.get("/v1/segments"))["data"] == []


async def test_a_preview_counts_the_brands_matching_players_and_shows_why_they_match(
    tenant: Tenant, engine: Any, clock: ManualClock,
) -> None:
    now = clock.now()
    for name, vip, country in (("ann", 3, "MT"), ("ben", 1, "MT"), ("cat", None, "DE"),
                               ("dan", 2, None)):
        await player(tenant, engine, name, vip=vip, tags=["vip"] if name != "ben" else [],
                     **({"country_code": country} if country else {}))
    await deposit(tenant, clock, "ann", "25.50", now - timedelta(days=9), "d-ann")
    made = await segment(tenant, "(min_vip_level = 2 OR country_code IN ('DE')) "
                                 "AND has_tag('vip') AND NOT deposit_count > 3")
    assert made["fields"] == ["country_code", "deposit_count", "vip_level"]
    shown = body(await tenant.get(f"/v1/segments/{made['id']}/preview"))
    assert shown["count"] == 3
    assert [s["username"] for s in shown["sample"]] == ["dan", "cat", "ann"]  # newest first
    assert shown["sample"][2]["values"] == {"country_code": "MT", "deposit_count": 1,
                                            "vip_level": 3}
    assert shown["sample"][1]["values"]["vip_level"] is None  # no VIP standing

    money = await segment(tenant, "total_deposited >= 25.5 AND last_deposit_at < now() - 1w")
    shown = body(await tenant.get(f"/v1/segments/{money['id']}/preview"))
    assert shown["count"] == 1
    assert shown["sample"][0]["values"]["total_deposited"] == Decimal("25.50")


async def test_net_losses_read_the_daily_stats_of_the_last_7_and_30_days(
    tenant: Tenant, engine: Any, clock: ManualClock,
) -> None:
    await player(tenant, engine, "alice")
    await player(tenant, engine, "bob")
    start = clock.now()
    clock.set(start - timedelta(days=10))
    await bet(tenant, "old", "50.00", user="alice")
    clock.set(start)
    await bet(tenant, "new", "5.00", user="alice", win_amount="1.00")
    await bet(tenant, "bob-1", "5.00", user="bob", win_amount="9.00")
    week = await segment(tenant, "net_loss_7d > 3.99")
    month = await segment(tenant, "net_loss_30d >= 54 AND net_loss_7d < 4.01")
    winners = await segment(tenant, "net_loss_7d < 0")
    for made, names in ((week, ["alice"]), (month, ["alice"]), (winners, ["bob"])):
        shown = body(await tenant.get(f"/v1/segments/{made['id']}/preview"))
        assert [s["username"] for s in shown["sample"]] == names, made["expression"]


async def test_a_segment_can_be_renamed_rechecked_and_deleted_unless_a_campaign_uses_it(
    tenant: Tenant,
) -> None:
    made = await segment(tenant, "xp > 10")
    r = await tenant.patch(f"/v1/segments/{made['id']}", {"expression": "xp >"})
    assert_validation(r, "expression")
    r = await tenant.patch(f"/v1/segments/{made['id']}", {"name": "Loyal",
                                                           "expression": "xp > 100"})
    assert body(r)["segment"]["name"] == "Loyal"
    assert body(r)["segment"]["expression"] == "xp > 100"
    assert_validation(await tenant.patch(f"/v1/segments/{made['id']}", {"name": None}), "name")
    used = await campaign(tenant, made["id"], {"type": "grant_winz", "amount": 5})
    assert_error(await tenant.client.delete(f"/v1/segments/{made['id']}",
                                            headers=tenant.headers()), 409, "SEGMENT_IN_USE")
    other = await segment(tenant, "true")
    assert (await tenant.patch(f"/v1/campaigns/{used['id']}",
                               {"segment_id": other["id"]})).status_code == 200
    r = await tenant.client.delete(f"/v1/segments/{made['id']}", headers=tenant.headers())
    assert r.status_code == 200 and body(r)["segment"]["deleted"] is True
    assert_error(await tenant.get(f"/v1/segments/{made['id']}"), 404, "NO_SEGMENT")


async def test_a_campaign_checks_its_segment_action_schedule_and_budget(
    tenant: Tenant,
) -> None:
    made = await segment(tenant, "true")
    match = await template(tenant, name="Match", type="deposit_match", amount_pct=100)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"segment_id": "nope"}, 404, "NO_SEGMENT"),
        ({"action": {"type": "grant_bonus", "template": "NOPE"}}, 404, "NO_TEMPLATE"),
        ({"action": {"type": "grant_bonus", "template": match["id"]}}, 400, "action.template"),
        ({"action": {"type": "grant_winz", "amount": "1.5"}}, 400, "action.amount"),
        ({"action": {"type": "grant_winz", "amount": 0}}, 400, "action.amount"),
        ({"action": {"type": "open_lootbox", "lootbox_id": "nope"}}, 404, "NO_LOOTBOX"),
        ({"action": {"type": "nothing"}}, 400, "action"),
        ({"schedule": "daily"}, 400, "schedule"),
        ({"schedule": {"weekly": {"day": "fri", "time": "25:00"}}}, 400,
         "schedule.weekly.time"),
        ({"schedule": {"weekly": {"day": "fri", "time": "10:00", "tz": "Mars/Olympus"}}}, 400,
         "schedule.weekly.tz"),
        ({"schedule": {"cron": "0 10 * *", "tz": "UTC"}}, 400, "schedule.cron"),
        ({"schedule": {"cron": "0 10 31 2 *", "tz": "UTC"}}, 400, "schedule.cron"),
        ({"budget": "0.5"}, 400, "budget"),
        ({"action": {"type": "notify", "message": "hi"}, "budget": 5}, 400, "budget"),
        ({"max_per_player_per_month": 0}, 400, "max_per_player_per_month"),
    ]
    for change, status, what in cases:
        fields = {"name": "C", "segment_id": made["id"],
                  "action": {"type": "grant_winz", "amount": 5}, **change}
        r = await tenant.post("/v1/campaigns", fields)
        if status == 400:
            assert_validation(r, what)
        else:
            assert_error(r, status, what)
    assert body(await tenant.get("/v1/campaigns"))["data"] == []


async def test_a_backtest_replays_each_scheduled_time_with_the_daily_stats(
    tenant: Tenant, engine: Any, clock: ManualClock,
) -> None:
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    clock.set(start)
    made = await player(tenant, engine, "alice")
    await set_vip(engine, tenant, made["user_id"], 2)
    await player(tenant, engine, "bob")
    clock.set(datetime(2026, 3, 10, 12, tzinfo=UTC))
    await bet(tenant, "w1", "30.00", user="alice")  # a loss on Tuesday the 10th
    clock.set(datetime(2026, 3, 31, 12, tzinfo=UTC))
    target = await segment(tenant, "net_loss_7d > 20 AND min_vip_level = 2")
    weekly = await campaign(tenant, target["id"], {"type": "grant_winz", "amount": 50},
                            {"weekly": {"day": "fri", "time": "10:00", "tz": "Europe/Malta"}})
    r = await tenant.post(f"/v1/campaigns/{weekly['id']}/backtest", {"days": 30})
    result = body(r)["backtest"]
    assert [(x["at"], x["count"]) for x in result["runs"]] == [
        ("2026-03-06T09:00:00Z", 0), ("2026-03-13T09:00:00Z", 1),
        ("2026-03-20T09:00:00Z", 0), ("2026-03-27T09:00:00Z", 0)]
    assert result["total_cost"] == {"WINZ": Decimal(50)}
    assert result["rebuilt_fields"] == ["net_loss_7d"]
    assert result["current_fields"] == ["vip_level"]
    once = await campaign(tenant, target["id"], {"type": "grant_winz", "amount": 50})
    assert_error(await tenant.post(f"/v1/campaigns/{once['id']}/backtest", {}), 409,
                 "NOT_SCHEDULED")
    assert_validation(await tenant.post(f"/v1/campaigns/{weekly['id']}/backtest",
                                        {"days": 91}), "days")


async def test_a_brands_segments_and_campaigns_are_its_own_and_select_its_players_only(
    client: Any, tenant: Tenant, engine: Any,
) -> None:
    r = await client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                          json={"slug": "other", "name": "Other"})
    assert r.status_code == 201, r.text
    other = bearer((await create_key(client, tenant, ["*"], brand="other"))["key"])
    await player(tenant, engine, "alice")
    r = await client.post("/v1/players", headers=other,
                          json={"username": "zed", "email": "zed@other.example"})
    assert r.status_code == 201, r.text
    mine = await segment(tenant, "true")
    made = await campaign(tenant, mine["id"], {"type": "grant_winz", "amount": 5})
    for path in (f"/v1/segments/{mine['id']}", f"/v1/segments/{mine['id']}/preview",
                 f"/v1/campaigns/{made['id']}", f"/v1/campaigns/{made['id']}/runs"):
        assert_error(await client.get(path, headers=other), 404)
    assert_error(await client.post(f"/v1/campaigns/{made['id']}/run", headers=other, json={}),
                 404, "NO_CAMPAIGN")
    assert (await client.get("/v1/segments", headers=other)).json()["data"] == []
    theirs = (await client.post("/v1/segments", headers=other, json={
        "name": "All", "expression": "true"})).json()["segment"]
    shown = body(await client.get(f"/v1/segments/{theirs['id']}/preview", headers=other))
    assert (shown["count"], [s["username"] for s in shown["sample"]]) == (1, ["zed"])
    done = body(await tenant.post(f"/v1/campaigns/{made['id']}/run", {}))["run"]
    assert done["granted"] == 1  # alice only: zed is another brand's player
