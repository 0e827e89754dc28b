"""Helpers for the CRM tests: players with VIP standing and deposits, segments, campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.support import body, create_player
from wowsino.kernel.clock import ManualClock


async def set_vip(engine: Any, tenant: Tenant, user_id: str, level: int, xp: int = 0,
                  mode: str = "test") -> None:
    """VIP standing as the VIP engine keeps it (``vip_players``)."""
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO vip_players (tenant_id, mode, player_id, level, xp, level_changed_at) "
            "VALUES (CAST(:t AS uuid), :m, CAST(:p AS uuid), :level, :xp, now()) "
            "ON CONFLICT (tenant_id, mode, player_id) DO UPDATE SET level = excluded.level, "
            "xp = excluded.xp"), {"t": tenant.id, "m": mode, "p": user_id, "level": level,
                                  "xp": xp})


async def deposit(tenant: Tenant, clock: ManualClock, user: str, amount: str,
                  at: datetime, ref: str) -> None:
    """A deposit event sent at ``at`` (the clock is put back where it was)."""
    now = clock.now()
    clock.set(at)
    try:
        r = await tenant.post("/v1/events/deposit", {"user_id": user, "source_deposit_id": ref,
                                                      "amount": amount, "currency": "USD"})
        assert r.status_code in (200, 201), r.text
    finally:
        clock.set(now)


async def player(tenant: Tenant, engine: Any, username: str, *, vip: int | None = None,
                 **fields: Any) -> dict[str, Any]:
    made = await create_player(tenant, username, **fields)
    if vip is not None:
        await set_vip(engine, tenant, made["user_id"], vip)
    return made


async def segment(tenant: Tenant, expression: str, name: str = "Segment") -> dict[str, Any]:
    r = await tenant.post("/v1/segments", {"name": name, "expression": expression})
    assert r.status_code == 201, r.text
    result: dict[str, Any] = body(r)["segment"]
    return result


async def campaign(tenant: Tenant, segment_id: str, action: dict[str, Any],
                   schedule: Any = "once", **fields: Any) -> dict[str, Any]:
    r = await tenant.post("/v1/campaigns", {"name": "Campaign", "segment_id": segment_id,
                                            "action": action, "schedule": schedule, **fields})
    assert r.status_code == 201, r.text
    result: dict[str, Any] = body(r)["campaign"]
    return result


async def run(tenant: Tenant, campaign_id: str, key: str | None = None) -> dict[str, Any]:
    r = await tenant.post(f"/v1/campaigns/{campaign_id}/run",
                          {} if key is None else {"idempotency_key": key})
    assert r.status_code in (200, 201), r.text
    result: dict[str, Any] = body(r)["run"]
    return result


async def winz_grants(engine: Any, tenant_id: str) -> dict[str, int]:
    """WINZ each player received from campaigns: owner key → total."""
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT a.owner_key, sum(p.amount) FROM ledger_entries e JOIN ledger_postings p "
            "ON p.tenant_id = e.tenant_id AND p.entry_id = e.id JOIN ledger_accounts a "
            "ON a.tenant_id = p.tenant_id AND a.id = p.account_id WHERE e.kind = 'campaign.grant' "
            "AND a.owner_type = 'player' AND e.tenant_id = CAST(:t AS uuid) GROUP BY 1"),
            {"t": tenant_id})
        return {r[0]: int(r[1]) for r in rows}


async def entries_per_player(engine: Any, tenant_id: str) -> dict[str, int]:
    """How many campaign grant entries each player has."""
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT a.owner_key, count(*) FROM ledger_entries e JOIN ledger_postings p "
            "ON p.tenant_id = e.tenant_id AND p.entry_id = e.id JOIN ledger_accounts a "
            "ON a.tenant_id = p.tenant_id AND a.id = p.account_id WHERE e.kind = 'campaign.grant' "
            "AND a.owner_type = 'player' AND e.tenant_id = CAST(:t AS uuid) GROUP BY 1"),
            {"t": tenant_id})
        return {r[0]: int(r[1]) for r in rows}
