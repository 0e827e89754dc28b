"""Bonuses under concurrency: exact progress, one conversion, one grant per limit."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from tests.conftest import Tenant
from tests.integration.bonus_support import bonuses_of, entries, ledger_problems, template
from tests.integration.support import create_player


async def test_32_concurrent_wagers_give_exact_progress_and_one_conversion(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    quick = await template(tenant, name="Quick", amount="10.00", wagering_multiple=10)
    slow = await template(tenant, name="Slow", amount="10.00", wagering_multiple=100)
    for made in (quick, slow):
        r = await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                    "template": made["id"]})
        assert r.status_code == 201, r.text

    async def wager(n: int) -> int:
        r = await tenant.post("/v1/events/wager", {
            "user_id": "alice", "source_wager_id": f"w-{n}", "amount": "5.00",
            "currency": "USD", "game_category": "slots"})
        return r.status_code

    assert await asyncio.gather(*(wager(n) for n in range(32))) == [201] * 32
    views = {v["template_id"]: v for v in await bonuses_of(tenant)}
    assert views[quick["id"]]["status"] == "completed"
    assert views[quick["id"]]["wagering_completed"] == Decimal("100.00")
    assert views[slow["id"]]["status"] == "active"
    assert views[slow["id"]]["wagering_completed"] == Decimal("160.00")
    assert len(await entries(engine, "bonus.convert")) == 1
    assert await ledger_problems(engine) == []


async def test_32_concurrent_grants_with_a_limit_of_one_grant_once(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    made = await template(tenant, max_grants_per_player=1, wagering_multiple=5)

    async def attempt() -> int:
        r = await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                    "template": made["id"]})
        assert r.status_code in (201, 409), r.text
        return r.status_code

    statuses = await asyncio.gather(*(attempt() for _ in range(32)))
    assert sorted(statuses) == [201] + [409] * 31
    assert len(await bonuses_of(tenant)) == 1
    assert len(await entries(engine, "bonus.grant")) == 1
