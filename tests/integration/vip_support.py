"""Helpers for the VIP and journey tests: a programme, wagers, standings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.conftest import ADMIN, Tenant
from tests.integration.support import body, create_key

BRONZE = {"level": 1, "name": "Bronze", "xp_required": 0, "cashback_pct": 0}
SILVER = {"level": 2, "name": "Silver", "xp_required": 100, "cashback_pct": 5,
          "level_up_reward": {"winz": 50}}
GOLD = {"level": 3, "name": "Gold", "xp_required": 1000, "cashback_pct": 10,
        "level_up_reward": {"winz": 200}}
LADDER = [BRONZE, SILVER, GOLD]


def programme(**fields: Any) -> dict[str, Any]:
    """A programme: 10 XP per unit, 10,000 XP a day, UTC, daily real cashback."""
    return {"xp_per_unit": 10, "xp_daily_cap": 10_000, "timezone": "UTC",
            "cashback_period": "daily", "cashback_as": "real", "levels": LADDER, **fields}


async def configure(tenant: Tenant, mode: str = "test", **fields: Any) -> dict[str, Any]:
    r = await tenant.put("/v1/vip", programme(**fields), mode=mode)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = body(r)
    return result


async def wager(tenant: Tenant, wager_id: str, amount: str, user: str = "alice",
                headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    payload = {"user_id": user, "source_wager_id": wager_id, "amount": amount,
               "currency": "USD", **fields}
    if headers is None:
        r = await tenant.post("/v1/events/wager", payload)
    else:
        r = await tenant.client.post("/v1/events/wager", json=payload, headers=headers)
    assert r.status_code in (200, 201), r.text
    result: dict[str, Any] = body(r)
    return result


async def rollback(tenant: Tenant, wager_id: str) -> dict[str, Any]:
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": wager_id})
    assert r.status_code in (200, 201), r.text
    result: dict[str, Any] = body(r)
    return result


async def standing(tenant: Tenant, user: str = "alice",
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
    if headers is None:
        r = await tenant.get(f"/v1/players/{user}/vip")
    else:
        r = await tenant.client.get(f"/v1/players/{user}/vip", headers=headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = body(r)["vip"]
    return result


async def balance(tenant: Tenant, user: str, rail: str, asset: str) -> Any:
    r = await tenant.get(f"/v1/players/{user}")
    assert r.status_code == 200, r.text
    return body(r)["player"]["balances"].get(rail, {}).get(asset, 0)


async def cached_xp(engine: Any, user: str) -> int | None:
    async with engine.connect() as conn:
        value = await conn.scalar(text(
            "SELECT v.xp FROM vip_players v JOIN players p ON p.tenant_id = v.tenant_id "
            "AND p.id = v.player_id WHERE p.username = :u AND v.mode = 'test'"), {"u": user})
    return None if value is None else int(value)


async def german_brand(tenant: Tenant) -> dict[str, str]:
    """A second brand ``de-site`` on the DE profile; the headers of a key for it."""
    r = await tenant.client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                                 json={"slug": "de-site", "name": "DE site"})
    assert r.status_code == 201, r.text
    r = await tenant.put("/v1/brands/de-site/jurisdiction", {"profile": "DE"})
    assert r.status_code == 200, r.text
    key = (await create_key(tenant.client, tenant, ["*"], brand="de-site"))["key"]
    return {"Authorization": f"Bearer {key}"}
