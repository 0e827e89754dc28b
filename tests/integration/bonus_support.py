"""Helpers for the bonus tests: templates, grants, wagers and ledger checks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.support import body


async def template(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    payload = {"name": "Welcome", "type": "no_deposit", "amount": "10.00", **fields}
    r = await tenant.post("/v1/bonus-templates", payload)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = body(r)["template"]
    return result


async def grant(tenant: Tenant, template_ref: str, user: str = "alice",
                **fields: Any) -> dict[str, Any]:
    r = await tenant.post("/v1/bonuses/grant", {"player_id": user, "template": template_ref,
                                                **fields})
    assert r.status_code == 201, r.text
    result: dict[str, Any] = body(r)
    return result


async def bet(tenant: Tenant, wager_id: str, amount: str, user: str = "alice",
              **fields: Any) -> dict[str, Any]:
    r = await tenant.post("/v1/events/wager", {"user_id": user, "source_wager_id": wager_id,
                                               "amount": amount, "currency": "USD", **fields})
    assert r.status_code in (200, 201), r.text
    result: dict[str, Any] = body(r)
    return result


async def bonuses_of(tenant: Tenant, user: str = "alice") -> list[dict[str, Any]]:
    r = await tenant.get(f"/v1/players/{user}/bonuses")
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = body(r)["data"]
    return result


async def entries(engine: Any, kind: str) -> list[dict[str, Any]]:
    """Every ledger entry of ``kind`` with its postings ``{owner_key rail asset: amount}``."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT e.id, a.owner_key, a.rail, a.asset, p.amount FROM ledger_entries e "
            "JOIN ledger_postings p ON p.tenant_id = e.tenant_id AND p.entry_id = e.id "
            "JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id "
            "WHERE e.kind = :kind ORDER BY e.id"), {"kind": kind})).all()
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        out.setdefault(r.id, {})[f"{r.owner_key} {r.rail} {r.asset}"] = int(r.amount)
    return [{"id": k, "postings": v} for k, v in out.items()]


async def ledger_problems(engine: Any) -> list[str]:
    """What ``wowsino ledger verify`` would report for every realm."""
    from wowsino.kernel.ledger import verify_realm
    from wowsino.kernel.realm import Mode, Realm

    async with engine.connect() as conn:
        realms = (await conn.execute(text(
            "SELECT DISTINCT tenant_id, mode FROM ledger_entries"))).all()
        problems = []
        for tenant_id, mode in realms:
            problems += (await verify_realm(conn, Realm(tenant_id, Mode(mode)))).problems
    return problems
