"""Every writer takes its locks in one global order — engine row, then player rows, then
balances (in account order) — so a mixed load on the same players never deadlocks. The
server would retry a deadlocked unit; here no retry may happen at all."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Tenant
from tests.integration.support import adjust, create_player
from wowsino.kernel import db
from wowsino.kernel.config import Settings

PRIZES = [{"segment_label": "coins", "weight": 1, "asset": "WINZ", "amount": 1}]
PLAYERS = ["ann", "ben", "cat"]


@pytest.fixture
def settings() -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=12, rate_limit_burst=100_000)


async def test_raffle_entries_adjustments_and_opens_on_the_same_players_never_deadlock(
    tenant: Tenant, engine: Any,
) -> None:
    for name in PLAYERS:
        await create_player(tenant, name)
        assert (await adjust(tenant, name, "100000", rail="winz", asset="WINZ")).status_code == 201
    raffles = []
    for i in range(2):
        r = await tenant.post("/v1/raffles", {"name": f"R{i}", "ticket_cost_winz": 1,
                                              "prize_winz": 10})
        raffles.append(r.json()["raffle"]["id"])
    r = await tenant.post("/v1/lootbox", {"name": "Box", "prize_table": PRIZES, "cost_winz": 2})
    box = r.json()["lootbox"]["id"]
    rng = random.Random(6)
    before = db.RETRIES["40P01"]

    async def one(i: int) -> httpx.Response:
        who = rng.choice(PLAYERS)
        kind = i % 3
        if kind == 0:
            return await tenant.post(f"/v1/raffles/{rng.choice(raffles)}/enter",
                                     {"user_id": who, "tickets": 1})
        if kind == 1:
            return await adjust(tenant, who, rng.choice(["3", "-1"]), rail="winz", asset="WINZ")
        return await tenant.post(f"/v1/lootbox/{box}/open", {"user_id": who})

    for _ in range(4):
        answers = await asyncio.gather(*(one(i) for i in range(60)))
        assert {r.status_code for r in answers} == {201}, [r.text for r in answers
                                                         if r.status_code != 201][:3]
    assert db.RETRIES["40P01"] == before, "a writer took its locks out of the global order"
