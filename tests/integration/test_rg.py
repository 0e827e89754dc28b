"""Responsible-gaming limits: tighten at once, loosen only after a 24 h cooling-off."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.support import (
    assert_error,
    assert_validation,
    body,
    create_player,
    outbox,
)
from wowsino.kernel.clock import ManualClock
from wowsino.worker import Worker

START = "2026-01-01T12:00:00Z"
A_DAY_LATER = "2026-01-02T12:00:00Z"


async def set_rg(tenant: Tenant, raw: str, ref: str = "alice") -> httpx.Response:
    """POST a raw JSON body (so amounts keep their exact decimals)."""
    return await tenant.client.post(
        f"/v1/players/{ref}/rg", content=raw,
        headers={**tenant.headers(), "Content-Type": "application/json"})


async def rg_of(tenant: Tenant, ref: str = "alice") -> dict[str, Any]:
    r = await tenant.get(f"/v1/players/{ref}")
    assert r.status_code == 200, r.text
    result: dict[str, Any] = body(r)["player"]["rg"]
    return result


async def stored_rg(engine: Any, tenant: Tenant) -> dict[str, Any]:
    async with engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT rg FROM players WHERE tenant_id = CAST(:t AS uuid) AND mode = 'test' "
                 "AND username = 'alice'"), {"t": tenant.id})
    assert isinstance(value, dict)
    return value


async def test_new_limit_and_decrease_apply_at_once(tenant: Tenant, clock: ManualClock) -> None:
    await create_player(tenant, "alice")
    r = await set_rg(tenant, '{"deposit_daily_limit": 100.00, "session_minutes_limit": 120}')
    assert r.status_code == 200, r.text
    assert {c["limit"]: c["immediate"] for c in r.json()["changes"]} == {
        "deposit_daily_limit": True, "session_minutes_limit": True}
    rg = await rg_of(tenant)
    assert rg["deposit_daily_limit"] == Decimal("100.00")
    assert rg["session_minutes_limit"] == 120
    assert rg["loss_daily_limit"] is None
    assert rg["pending"] == {}

    clock.advance(timedelta(minutes=5))
    r = await set_rg(tenant, '{"deposit_daily_limit": 40.50, "session_minutes_limit": 60}')
    assert r.status_code == 200, r.text
    rg = await rg_of(tenant)
    assert rg["deposit_daily_limit"] == Decimal("40.50")
    assert rg["session_minutes_limit"] == 60
    assert rg["pending"] == {}


async def test_increase_is_pending_for_24_hours_then_effective_on_read(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    assert (await set_rg(tenant, '{"loss_weekly_limit": 100}')).status_code == 200
    r = await set_rg(tenant, '{"loss_weekly_limit": 250.00}')
    assert r.status_code == 200, r.text
    assert r.json()["changes"] == [{"limit": "loss_weekly_limit", "immediate": False,
                                    "applies_at": A_DAY_LATER}]

    rg = await rg_of(tenant)
    assert rg["loss_weekly_limit"] == Decimal("100")
    assert rg["pending"] == {"loss_weekly_limit": {"value": Decimal("250.00"),
                                                   "applies_at": A_DAY_LATER}}

    clock.advance(timedelta(hours=23, minutes=59))
    assert (await rg_of(tenant))["loss_weekly_limit"] == Decimal("100")

    clock.advance(timedelta(minutes=1, seconds=1))
    rg = await rg_of(tenant)
    assert rg["loss_weekly_limit"] == Decimal("250.00")
    assert rg["pending"] == {}


async def test_removal_is_pending_for_24_hours(tenant: Tenant, clock: ManualClock) -> None:
    await create_player(tenant, "alice")
    assert (await set_rg(tenant, '{"wager_daily_limit": 500}')).status_code == 200
    r = await set_rg(tenant, '{"wager_daily_limit": null}')
    assert r.status_code == 200, r.text
    rg = await rg_of(tenant)
    assert rg["wager_daily_limit"] == Decimal("500")
    assert rg["pending"] == {"wager_daily_limit": {"value": None, "applies_at": A_DAY_LATER}}
    clock.advance(timedelta(hours=24, seconds=1))
    rg = await rg_of(tenant)
    assert rg["wager_daily_limit"] is None
    assert rg["pending"] == {}


async def test_worker_materialises_due_changes_and_emits_rg_limit_changed(
    app: Any, tenant: Tenant, clock: ManualClock, engine: Any,
) -> None:
    player = await create_player(tenant, "alice")
    assert (await set_rg(tenant, '{"deposit_weekly_limit": 100}')).status_code == 200
    assert (await set_rg(tenant, '{"deposit_weekly_limit": 300}')).status_code == 200
    events_before = await outbox(engine, tenant.id, "test", "rg.limit_changed")
    assert len(events_before) == 2
    assert events_before[1]["changes"][0]["immediate"] is False

    worker = Worker(app.state.platform)
    await worker.tick()  # not due yet: nothing changes
    assert "pending" in await stored_rg(engine, tenant)
    assert len(await outbox(engine, tenant.id, "test", "rg.limit_changed")) == 2

    clock.advance(timedelta(hours=24, seconds=1))
    done = await worker.tick()
    assert done["rg_applied"] == 1
    stored = await stored_rg(engine, tenant)
    assert "pending" not in stored
    assert stored["limits"]["deposit_weekly_limit"] == 30000
    events = await outbox(engine, tenant.id, "test", "rg.limit_changed")
    assert len(events) == 3
    applied = events[2]
    assert applied["user"] == {"user_id": player["user_id"], "username": "alice"}
    assert len(applied["changes"]) == 1
    change = applied["changes"][0]
    assert change["limit"] == "deposit_weekly_limit"
    assert Decimal(str(change["from"])) == Decimal("100")
    assert Decimal(str(change["to"])) == Decimal("300")
    assert change["immediate"] is False

    assert (await worker.tick())["rg_applied"] == 0
    assert len(await outbox(engine, tenant.id, "test", "rg.limit_changed")) == 3
    audit = await tenant.get("/v1/audit", params={"action": "player.rg_applied"})
    assert [row["actor"] for row in audit.json()["data"]] == [
        {"type": "system", "id": "wowsino"}]


async def test_tightening_cancels_a_pending_loosening(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    await set_rg(tenant, '{"loss_daily_limit": 50}')
    await set_rg(tenant, '{"loss_daily_limit": 80}')
    assert "loss_daily_limit" in (await rg_of(tenant))["pending"]
    r = await set_rg(tenant, '{"loss_daily_limit": 30}')
    assert r.status_code == 200
    rg = await rg_of(tenant)
    assert rg["loss_daily_limit"] == Decimal("30")
    assert rg["pending"] == {}


async def test_asking_for_the_current_value_cancels_a_pending_loosening(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    await set_rg(tenant, '{"loss_daily_limit": 50}')
    await set_rg(tenant, '{"loss_daily_limit": 80}')
    await set_rg(tenant, '{"loss_daily_limit": 50}')
    assert (await rg_of(tenant))["pending"] == {}
    clock.advance(timedelta(days=2))
    assert (await rg_of(tenant))["loss_daily_limit"] == Decimal("50")


async def test_timeout_until_later_applies_at_once_and_shorter_waits(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    r = await set_rg(tenant, '{"timeout_until": "2026-01-10T00:00:00Z"}')
    assert r.status_code == 200, r.text
    assert (await rg_of(tenant))["timeout_until"] == "2026-01-10T00:00:00Z"

    r = await set_rg(tenant, '{"timeout_until": "2026-01-20T00:00:00+02:00"}')
    assert r.status_code == 200, r.text
    assert (await rg_of(tenant))["timeout_until"] == "2026-01-19T22:00:00Z"

    r = await set_rg(tenant, '{"timeout_until": "2026-01-05T00:00:00Z"}')
    assert r.status_code == 200, r.text
    rg = await rg_of(tenant)
    assert rg["timeout_until"] == "2026-01-19T22:00:00Z"
    assert rg["pending"] == {"timeout_until": {"value": "2026-01-05T00:00:00Z",
                                               "applies_at": A_DAY_LATER}}

    r = await set_rg(tenant, '{"timeout_until": null}')
    assert r.status_code == 200
    assert (await rg_of(tenant))["pending"]["timeout_until"]["value"] is None
    clock.advance(timedelta(hours=25))
    rg = await rg_of(tenant)
    assert rg["timeout_until"] is None
    assert rg["pending"] == {}


async def test_timeout_until_without_a_timezone_is_400(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await set_rg(tenant, '{"timeout_until": "2026-01-10T00:00:00"}')
    assert_validation(r, "timeout_until")
    assert (await rg_of(tenant))["timeout_until"] is None


async def test_bad_limits_are_400_and_change_nothing(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    await set_rg(tenant, '{"deposit_daily_limit": 100}')
    before = await rg_of(tenant)
    cases = [
        ('{"deposit_daily_limit": 10.001}', "deposit_daily_limit"),
        ('{"deposit_daily_limit": -5}', "deposit_daily_limit"),
        ('{"loss_daily_limit": -0.01}', "loss_daily_limit"),
        ('{"loss_daily_limit": 0.001}', "loss_daily_limit"),
        ('{"wager_daily_limit": "lots"}', "wager_daily_limit"),
        ('{"wager_daily_limit": true}', "wager_daily_limit"),
        ('{"session_minutes_limit": 0}', "session_minutes_limit"),
        ('{"session_minutes_limit": 1441}', "session_minutes_limit"),
        ('{"session_minutes_limit": 30.5}', "session_minutes_limit"),
        ('{"timeout_until": "tomorrow"}', "timeout_until"),
        ('{"timeout_until": "2025-12-31T23:59:59Z"}', "timeout_until"),
        ('{"bet_limit": 5}', "bet_limit"),
    ]
    for raw, field in cases:
        r = await set_rg(tenant, raw)
        assert r.status_code == 400, (raw, r.text)
        assert_validation(r, field)
    for raw in ('{"deposit_daily_limit": NaN}', '{"deposit_daily_limit": Infinity}',
                '{"deposit_daily_limit": -Infinity}'):
        assert_error(await set_rg(tenant, raw), 400, "VALIDATION_ERROR")
    assert await rg_of(tenant) == before
    assert len(await outbox(engine, tenant.id, "test", "rg.limit_changed")) == 1


async def test_zero_limit_is_the_strictest_and_applies_at_once(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    await set_rg(tenant, '{"deposit_daily_limit": 100}')
    r = await set_rg(tenant, '{"deposit_daily_limit": 0}')
    assert r.status_code == 200, r.text
    assert r.json()["changes"][0]["immediate"] is True
    rg = await rg_of(tenant)
    assert rg["deposit_daily_limit"] == Decimal("0")
    assert rg["pending"] == {}
    r = await set_rg(tenant, '{"deposit_daily_limit": 0.01}')
    assert r.json()["changes"][0]["immediate"] is False
    assert (await rg_of(tenant))["deposit_daily_limit"] == Decimal("0")


async def test_limit_decimals_follow_the_players_currency(tenant: Tenant) -> None:
    await create_player(tenant, "yoko", currency="JPY")
    await create_player(tenant, "satoshi", currency="BTC")
    assert_validation(await set_rg(tenant, '{"deposit_daily_limit": 100.5}', "yoko"),
                      "deposit_daily_limit")
    assert (await set_rg(tenant, '{"deposit_daily_limit": 1000}', "yoko")).status_code == 200
    assert (await rg_of(tenant, "yoko"))["deposit_daily_limit"] == Decimal("1000")
    r = await set_rg(tenant, '{"deposit_daily_limit": 0.00012345}', "satoshi")
    assert r.status_code == 200, r.text
    assert (await rg_of(tenant, "satoshi"))["deposit_daily_limit"] == Decimal("0.00012345")
    assert_validation(await set_rg(tenant, '{"deposit_daily_limit": 0.000000001}', "satoshi"),
                      "deposit_daily_limit")


async def test_rg_for_unknown_player_is_404(tenant: Tenant) -> None:
    assert_error(await set_rg(tenant, '{"deposit_daily_limit": 10}', "ghost"), 404, "NO_PLAYER")


async def test_rg_change_is_audited_with_before_and_after(tenant: Tenant) -> None:
    player = await create_player(tenant, "alice")
    await set_rg(tenant, json.dumps({"session_minutes_limit": 90}))
    rows = (await tenant.get("/v1/audit", params={"action": "player.rg_changed",
                                                  "target": player["user_id"]})).json()["data"]
    assert len(rows) == 1
    assert rows[0]["before"] == {}
    assert rows[0]["after"] == {"limits": {"session_minutes_limit": 90}}
