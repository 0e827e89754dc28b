"""VIP cashback by the worker: at each period's end in the programme's time zone, once
per player and period (also when a run stops half-way), never to a player ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Tenant, make_tenant
from tests.integration.bonus_support import bonuses_of, entries, ledger_problems, template
from tests.integration.support import body, count_rows, create_player, outbox
from tests.integration.vip_support import (
    BRONZE,
    SILVER,
    configure,
    german_brand,
    standing,
    wager,
)
from wowsino.kernel.clock import ManualClock
from wowsino.vip import cashback
from wowsino.worker import Worker

LOSER_LADDER = [{**BRONZE, "cashback_pct": 10}, {**SILVER, "xp_required": 100_000}]


async def bonus_programme(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    cash = await template(tenant, name="VIP cashback", type="cashback", amount_pct=1,
                          amount=None, wagering_multiple=1)
    await configure(tenant, **{"cashback_as": "bonus", "cashback_template": cash["id"],
                               "levels": LOSER_LADDER, **fields})
    return cash


async def test_cashback_is_granted_as_a_bonus_once_when_the_day_ends(
    tenant: Tenant, app: Any, clock: ManualClock, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    cash = await bonus_programme(tenant, levels=[{**BRONZE, "cashback_pct": 10}, SILVER])
    await wager(tenant, "w1", "8.00")  # 80 XP: still Bronze, 10 %
    await wager(tenant, "w2", "50.00", win_amount="8.00", game_category="slots")  # now Silver
    assert (await standing(tenant))["cashback"]["accrued"] == Decimal("2.50")
    worker = Worker(app.state.platform)
    assert (await worker.tick())["vip_cashback_decided"] == 0  # the day is not over
    clock.advance(timedelta(hours=12))  # 2026-01-02 00:00 UTC
    assert (await worker.tick())["vip_cashback_decided"] == 1
    assert (await worker.tick())["vip_cashback_decided"] == 0
    [bonus] = await bonuses_of(tenant)
    # net loss 50.00 at Silver (5 %), the level when the day's cashback is paid
    assert (bonus["type"], bonus["bonus_amount"], bonus["template_id"]) == (
        "cashback", Decimal("2.50"), cash["id"])
    [event] = await outbox(engine, tenant.id, "test", "vip.cashback_granted")
    assert (event["period_start"], event["period_end"], event["amount"],
            event["granted_as"], event["operator_pays"]) == (
        "2026-01-01", "2026-01-02", 2.5, "bonus", False)
    assert body(await tenant.get("/v1/vip"))["vip"]["cashback_paid_until"] == "2026-01-02"
    assert await ledger_problems(engine) == []


async def test_no_cashback_for_a_player_who_won_or_broke_even(
    tenant: Tenant, app: Any, clock: ManualClock, engine: Any,
) -> None:
    for name in ("winner", "even"):
        await create_player(tenant, name)
    await bonus_programme(tenant)
    await wager(tenant, "w1", "10.00", user="winner", win_amount="30.00")
    await wager(tenant, "w2", "10.00", user="even", win_amount="10.00")
    await wager(tenant, "w3", "20.00", user="even", funding="bonus")  # bonus play: no loss
    clock.advance(timedelta(days=1))
    assert await cashback.run_due(app.state.platform) == 0
    assert await count_rows(engine, "vip_cashback", tenant.id) == 0
    assert await bonuses_of(tenant, "winner") == []


async def test_an_interrupted_run_resumes_and_pays_everyone_exactly_once(
    tenant: Tenant, app: Any, clock: ManualClock, engine: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [f"p{i}" for i in range(5)]
    for name in names:
        await create_player(tenant, name)
        await wager(tenant, f"w-{name}", "10.00", user=name)
    await bonus_programme(tenant)
    for name in names:
        await wager(tenant, f"x-{name}", "10.00", user=name)
    clock.advance(timedelta(days=1))
    grant, calls = cashback._grant, []

    async def crashing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:  # the process dies in the middle of the second chunk
            raise RuntimeError("worker killed")
        return await grant(*args, **kwargs)

    monkeypatch.setattr(cashback, "_grant", crashing)
    with pytest.raises(RuntimeError):
        await cashback.run_due(app.state.platform, chunk=2)
    assert await count_rows(engine, "vip_cashback", tenant.id) == 2  # the first chunk stands
    monkeypatch.setattr(cashback, "_grant", grant)
    assert await cashback.run_due(app.state.platform, chunk=2) == 3
    assert await cashback.run_due(app.state.platform, chunk=2) == 0
    for name in names:
        [bonus] = await bonuses_of(tenant, name)
        assert bonus["bonus_amount"] == Decimal("1.00")  # 10 % of the 10.00 lost today
    assert await count_rows(engine, "vip_cashback", tenant.id) == 5


async def test_real_cashback_of_a_plug_in_operator_is_owed_by_the_operator(
    tenant: Tenant, app: Any, clock: ManualClock, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await configure(tenant, cashback_as="real", levels=LOSER_LADDER)
    await wager(tenant, "w1", "5.00")
    clock.advance(timedelta(days=1))
    assert await cashback.run_due(app.state.platform) == 1
    [entry] = await entries(engine, "vip.cashback")
    assert entry["postings"] == {"operator_payouts real USD": 50,
                                 "operator_settlement real USD": -50}
    [event] = await outbox(engine, tenant.id, "test", "vip.cashback_granted")
    assert (event["granted_as"], event["operator_pays"], event["bonus_id"]) == (
        "real", True, None)


async def test_real_cashback_in_white_label_credits_the_player(
    client: Any, app: Any, clock: ManualClock, engine: Any,
) -> None:
    tenant = await make_tenant(client, "casino", service_mode="white_label")
    await create_player(tenant, "alice")
    await configure(tenant, cashback_as="real", levels=LOSER_LADDER)
    await wager(tenant, "w1", "5.00")
    clock.advance(timedelta(days=1))
    assert await cashback.run_due(app.state.platform) == 1
    [entry] = await entries(engine, "vip.cashback")
    assert entry["postings"][f"{(await standing(tenant))['user_id']} real USD"] == 50


async def test_a_weekly_period_in_local_time_is_paid_after_its_last_local_day(
    tenant: Tenant, app: Any, clock: ManualClock, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    clock.set(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # Monday
    await configure(tenant, cashback_as="real", cashback_period="weekly",
                    timezone="America/New_York", levels=LOSER_LADDER)
    await wager(tenant, "w1", "5.00")
    # Sunday 23:30 in New York is Monday 04:30 UTC: the week is not over there
    clock.set(datetime(2026, 1, 12, 4, 30, tzinfo=UTC))
    await wager(tenant, "w2", "5.00")
    assert await cashback.run_due(app.state.platform) == 0
    clock.set(datetime(2026, 1, 12, 5, 0, tzinfo=UTC))  # Monday 00:00 in New York
    assert await cashback.run_due(app.state.platform) == 1
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT period_start, period_end, net_loss, amount FROM vip_cashback"))).one()
    assert (str(row.period_start), str(row.period_end), row.net_loss, row.amount) == (
        "2026-01-05", "2026-01-12", 1000, 100)


async def test_a_brand_without_vip_gets_no_cashback(
    tenant: Tenant, app: Any, clock: ManualClock, engine: Any,
) -> None:
    de = await german_brand(tenant)
    r = await tenant.client.post("/v1/players", headers=de,
                                 json={"username": "hans", "email": "hans@example.com"})
    assert r.status_code == 201, r.text
    await configure(tenant, cashback_as="real", levels=LOSER_LADDER)
    await wager(tenant, "w1", "100.00", user="hans", headers=de)
    clock.advance(timedelta(days=1))
    assert await cashback.run_due(app.state.platform) == 0
    assert await count_rows(engine, "vip_cashback", tenant.id) == 0
