"""A batch and the same events one by one end in the same state."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.support import body, create_player, unthrottle

N = 1000


def events() -> list[dict[str, Any]]:
    """1,000 events: most good, some repeated, some reusing an id with other content,
    some malformed, some for an unknown player."""
    rng = random.Random(7)
    out: list[dict[str, Any]] = []
    for n in range(N):
        roll = rng.random()
        if out and roll < 0.05:
            out.append(dict(rng.choice(out)))  # an exact repeat
            continue
        event = {"user_id": rng.choice(["alice", "bob"]), "source_wager_id": f"w-{n}",
                 "amount": f"{rng.randint(1, 900) / 100:.2f}", "currency": "USD",
                 "win_amount": f"{rng.randint(0, 900) / 100:.2f}",
                 "game_category": rng.choice(["slots", "table", "live"])}
        if roll < 0.08 and out:
            event = {**rng.choice(out), "amount": "3.33"}  # id reused, other content
        elif roll < 0.10:
            event["amount"] = "1.234"
        elif roll < 0.12:
            event["user_id"] = "nobody"
        out.append(event)
    return out


async def prepare(tenant: Tenant, mode: str) -> None:
    for name in ("alice", "bob"):
        await create_player(tenant, name, mode=mode)
    for n, multiple in enumerate((5, 50)):
        r = await tenant.post("/v1/bonus-templates", {
            "name": f"B{n}", "type": "no_deposit", "amount": "20.00",
            "wagering_multiple": multiple, "max_bet": "8.50",
            "game_weights": {"slots": 1, "table": "0.2"}}, mode=mode)
        template_id = r.json()["template"]["id"]
        for name in ("alice", "bob"):
            r = await tenant.post("/v1/bonuses/grant", {"player_id": name,
                                                        "template": template_id}, mode=mode)
            assert r.status_code == 201, r.text
    r = await tenant.post("/v1/jackpots", {"name": "Pot", "currency": "USD", "seed_usd": 10,
                                           "contribution_pct": "0.5"}, mode=mode)
    assert r.status_code == 201, r.text


async def state(engine: Any, tenant: Tenant, mode: str) -> dict[str, Any]:
    params = {"t": tenant.id, "m": mode}
    async with engine.connect() as conn:
        def rows(sql: str) -> Any:
            return conn.execute(text(sql), params)
        stats = (await rows(
            "SELECT p.username, s.wager_count, s.total_wagered, s.total_won FROM player_stats s "
            "JOIN players p ON p.tenant_id = s.tenant_id AND p.id = s.player_id "
            "WHERE s.tenant_id = CAST(:t AS uuid) AND s.mode = :m ORDER BY 1")).all()
        daily = (await rows(
            "SELECT p.username, d.game_category, d.bets, d.wagered, d.won FROM player_stats_daily "
            "d JOIN players p ON p.tenant_id = d.tenant_id AND p.id = d.player_id "
            "WHERE d.tenant_id = CAST(:t AS uuid) AND d.mode = :m ORDER BY 1, 2")).all()
        bonuses = (await rows(
            "SELECT p.username, t.name, b.status, b.wagering_completed, b.end_reason, "
            "b.real_credited FROM bonuses b JOIN players p ON p.tenant_id = b.tenant_id "
            "AND p.id = b.player_id JOIN bonus_templates t ON t.tenant_id = b.tenant_id "
            "AND t.id = b.template_id WHERE b.tenant_id = CAST(:t AS uuid) AND b.mode = :m "
            "ORDER BY 1, 2")).all()
        contributions = await conn.scalar(text(
            "SELECT sum(amount) FROM jackpot_contributions WHERE tenant_id = CAST(:t AS uuid) "
            "AND mode = :m"), params)
        wagers = await conn.scalar(text(
            "SELECT count(*) FROM wager_events WHERE tenant_id = CAST(:t AS uuid) "
            "AND mode = :m"), params)
    return {"stats": [tuple(r) for r in stats], "daily": [tuple(r) for r in daily],
            "bonuses": [tuple(r) for r in bonuses], "contributions": contributions,
            "wagers": wagers}


async def test_a_1000_event_batch_ends_like_the_same_events_one_by_one(
    tenant: Tenant, engine: Any,
) -> None:
    sent = events()
    await unthrottle(tenant)  # 1,000 calls below
    await prepare(tenant, "test")
    await prepare(tenant, "live")
    r = await tenant.post("/v1/events/wager:batch", {"events": sent}, mode="test")
    assert r.status_code == 201, r.text
    batch = [x["status"] for x in body(r)["results"]]
    single = []
    for event in sent:
        single.append((await tenant.post("/v1/events/wager", event, mode="live")).status_code)
    assert batch == single
    assert {200, 201, 400, 404, 409} <= set(batch)
    test_state, live_state = await state(engine, tenant, "test"), await state(engine, tenant,
                                                                               "live")
    assert test_state == live_state
    assert any(b[2] != "active" for b in test_state["bonuses"])  # conversions and forfeits
