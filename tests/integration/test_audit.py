"""``GET /v1/audit``: scope, filters, pagination, realm isolation, append-only storage."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import ADMIN, Tenant
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    bearer,
    create_key,
    create_player,
)
from wowsino.kernel.clock import ManualClock


async def audit(tenant: Tenant, mode: str = "test", **params: Any) -> list[dict[str, Any]]:
    r = await tenant.get("/v1/audit", mode=mode, params=params)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["data"]
    return rows


async def default_key_id(client: httpx.AsyncClient, tenant: Tenant, mode: str) -> str:
    keys = (await client.get(f"/tenants/{tenant.id}/api-keys", headers=ADMIN)).json()["data"]
    found: str = next(k["id"] for k in keys if k["name"] == f"default {mode}")
    return found


async def test_audit_requires_the_audit_read_scope(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    reader = bearer((await create_key(client, tenant, ["players:read", "players:write"]))["key"])
    assert_error(await client.get("/v1/audit", headers=reader), 403, "SCOPE_DENIED")
    auditor = bearer((await create_key(client, tenant, ["audit:read"]))["key"])
    r = await client.get("/v1/audit", headers=auditor)
    assert r.status_code == 200, r.text
    assert "player.created" in [row["action"] for row in r.json()["data"]]
    assert_error(await client.get("/v1/audit"), 401, "AUTH_REQUIRED")


async def test_audit_rows_name_actor_action_target_change_and_request(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    r = await tenant.post("/v1/players", {"username": "alice", "email": "alice@example.com"})
    player_id = r.json()["player"]["user_id"]
    rows = await audit(tenant, action="player.created")
    assert len(rows) == 1
    row = rows[0]
    assert row["actor"] == {"type": "api_key", "id": await default_key_id(client, tenant, "test")}
    assert row["target"] == {"type": "player", "id": player_id}
    assert row["before"] is None
    assert row["after"]["username"] == "alice"
    assert row["after"]["email"] == "alice@example.com"
    assert row["request_id"] == r.headers["x-request-id"]
    assert row["created_at"] == "2026-01-01T12:00:00Z"


async def test_filters_by_actor_action_target_and_since(
    client: httpx.AsyncClient, tenant: Tenant, clock: ManualClock,
) -> None:
    alice = await create_player(tenant, "alice")
    bob = await create_player(tenant, "bob")
    clock.advance(timedelta(hours=1))
    other_key = await create_key(client, tenant, ["*"], name="back office")
    r = await client.patch("/v1/players/bob/status", headers=bearer(other_key["key"]),
                           json={"status": "suspended", "reason": "fraud review"})
    assert r.status_code == 200
    clock.advance(timedelta(hours=1))
    assert (await adjust(tenant, "alice", "5.00")).status_code == 201

    default_id = await default_key_id(client, tenant, "test")
    by_default = await audit(tenant, actor=f"api_key:{default_id}")
    assert {row["action"] for row in by_default} == {"player.created", "player.adjusted"}
    assert await audit(tenant, actor=default_id) == by_default
    by_other = await audit(tenant, actor=f"api_key:{other_key['id']}")
    assert [row["action"] for row in by_other] == ["player.status_changed"]
    assert await audit(tenant, actor="api_key:00000000-0000-7000-8000-000000000000") == []

    assert [row["target"]["id"] for row in await audit(tenant, action="player.created")] == [
        bob["user_id"], alice["user_id"]]
    about_alice = await audit(tenant, target=f"player:{alice['user_id']}")
    assert [row["action"] for row in about_alice] == ["player.adjusted", "player.created"]
    assert await audit(tenant, target=alice["user_id"]) == about_alice
    assert await audit(tenant, target=f"api_key:{alice['user_id']}") == []

    since = await audit(tenant, since="2026-01-01T13:00:00Z")
    assert [row["action"] for row in since] == ["player.adjusted", "player.status_changed",
                                                "api_key.created"]
    assert [row["action"] for row in await audit(tenant, since="2026-01-01T13:00:01Z")] == [
        "player.adjusted"]
    assert await audit(tenant, since="2026-01-01T15:00:00Z") == []
    combined = await audit(tenant, action="player.created", target=bob["user_id"],
                           actor=default_id, since="2026-01-01T12:00:00Z")
    assert [row["target"]["id"] for row in combined] == [bob["user_id"]]


async def test_audit_pages_newest_first_without_gaps(tenant: Tenant) -> None:
    for i in range(7):
        await create_player(tenant, f"player{i}")
    everything = await audit(tenant)
    ids = [row["id"] for row in everything]
    assert ids == sorted(ids, reverse=True)
    walked: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = await tenant.get("/v1/audit", params=params)
        page = r.json()
        assert len(page["data"]) <= 3
        walked += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == everything
    assert len({row["id"] for row in walked}) == len(walked)
    assert_validation(await tenant.get("/v1/audit", params={"limit": 0}), "limit")
    assert_validation(await tenant.get("/v1/audit", params={"cursor": "%%%"}), "cursor")


async def test_audit_is_scoped_to_the_realm(
    tenant: Tenant, other_tenant: Tenant,
) -> None:
    alice = await create_player(tenant, "alice")
    await create_player(other_tenant, "zed")
    live_alice = await create_player(tenant, "alice", mode="live")

    test_rows = await audit(tenant)
    assert alice["user_id"] in {row["target"]["id"] for row in test_rows}
    assert live_alice["user_id"] not in {row["target"]["id"] for row in test_rows}
    assert "tenant.created" not in {row["action"] for row in test_rows}

    live_rows = await audit(tenant, mode="live")
    assert alice["user_id"] not in {row["target"]["id"] for row in live_rows}
    assert live_alice["user_id"] in {row["target"]["id"] for row in live_rows}
    assert "tenant.created" in {row["action"] for row in live_rows}

    theirs = await audit(other_tenant)
    assert [row["after"]["username"] for row in theirs
            if row["action"] == "player.created"] == ["zed"]
    assert alice["user_id"] not in str(theirs)
    assert await audit(other_tenant, target=alice["user_id"]) == []


async def test_admin_actions_are_audited_in_the_tenants_realm(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    await client.patch(f"/tenants/{tenant.id}", headers=ADMIN, json={"status": "suspended"})
    await client.patch(f"/tenants/{tenant.id}", headers=ADMIN, json={"status": "active"})
    key = await create_key(client, tenant, ["players:read"], mode="live")
    await client.post(f"/tenants/{tenant.id}/api-keys/{key['id']}/revoke", headers=ADMIN)
    rows = await audit(tenant, mode="live", actor="admin:platform")
    actions = [row["action"] for row in rows]
    assert actions[:4] == ["api_key.revoked", "api_key.created", "tenant.updated",
                           "tenant.updated"]
    assert rows[2]["before"]["status"] == "suspended"
    assert rows[2]["after"]["status"] == "active"
    created = next(row for row in rows if row["action"] == "api_key.created")
    assert key["key"] not in str(created)


async def test_audit_log_is_append_only(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    for statement in ("UPDATE audit_log SET action = 'nothing.happened'",
                      "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
    assert "player.created" in [row["action"] for row in await audit(tenant)]
