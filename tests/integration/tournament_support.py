"""Helpers for the tournament tests: a tournament, wagers, scores and the leaderboard."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.support import body
from wowsino.kernel.clock import ManualClock, iso

WINZ_PRIZES = [{"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 1000}},
               {"rank_from": 2, "rank_to": 3, "prize": {"asset": "WINZ", "amount": 250}}]


def window(clock: ManualClock, *, started: timedelta = timedelta(hours=1),
           lasts: timedelta = timedelta(hours=24)) -> dict[str, str]:
    """``starts_at``/``ends_at`` of a tournament that started ``started`` ago."""
    start: datetime = clock.now() - started
    return {"starts_at": iso(start), "ends_at": iso(start + lasts)}


async def make_tournament(tenant: Tenant, clock: ManualClock, *, mode: str = "test",
                          **fields: Any) -> dict[str, Any]:
    payload = {"name": "Weekend race", "scoring": "sum_wagered", **window(clock),
               "prize_table": WINZ_PRIZES, **fields}
    r = await tenant.post("/v1/tournaments", payload, mode=mode)
    assert r.status_code == 201, r.text
    made: dict[str, Any] = body(r)["tournament"]
    return made


async def wager(tenant: Tenant, user: str, wager_id: str, amount: Any, *, win: Any = 0,
                mode: str = "test", **fields: Any) -> dict[str, Any]:
    """A settled wager through the spine; its tournament effects."""
    r = await tenant.post("/v1/events/wager", {
        "user_id": user, "source_wager_id": wager_id, "amount": amount, "currency": "USD",
        "win_amount": win, **fields}, mode=mode)
    assert r.status_code in (200, 201), r.text
    effects: dict[str, Any] = body(r)["effects"]
    return effects


async def rollback(tenant: Tenant, wager_id: str) -> dict[str, Any]:
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": wager_id})
    assert r.status_code == 201, r.text
    effects: dict[str, Any] = body(r)["effects"]
    return effects


async def score(tenant: Tenant, tournament_id: str, user: str, wager_id: str,
                **fields: Any) -> httpx.Response:
    return await tenant.post(f"/v1/tournaments/{tournament_id}/score",
                             {"user_id": user, "source_wager_id": wager_id, **fields})


async def board(tenant: Tenant, tournament_id: str, **params: Any) -> dict[str, Any]:
    r = await tenant.get(f"/v1/tournaments/{tournament_id}/leaderboard", params=params)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = body(r)
    return result


async def standings(tenant: Tenant, tournament_id: str, **params: Any) -> list[tuple[Any, ...]]:
    """``(rank, username, score)`` rows of the leaderboard."""
    rows = (await board(tenant, tournament_id, **params))["data"]
    return [(int(r["rank"]), r["user"]["username"], r["score"]) for r in rows]


async def show(tenant: Tenant, tournament_id: str) -> dict[str, Any]:
    r = await tenant.get(f"/v1/tournaments/{tournament_id}")
    assert r.status_code == 200, r.text
    result: dict[str, Any] = body(r)["tournament"]
    return result
