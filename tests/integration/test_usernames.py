"""Usernames are case-insensitive within a brand: ``alice``, ``ALICE`` and ``Alice`` are one
player, shown as first sent; look-ups by any case find her. The migration reports
usernames that already collide instead of failing."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import asyncpg
import pytest

from tests.conftest import Tenant
from tests.integration.support import adjust, create_player
from wowsino.kernel.db import split_sql

MIGRATION = importlib.import_module("wowsino.migrations.versions.0007_robustness")


async def test_one_player_whatever_the_case_shown_as_first_sent(tenant: Tenant) -> None:
    created = await create_player(tenant, "Alice")
    for spelling in ("alice", "ALICE", "aLiCe"):
        r = await tenant.post("/v1/players", {"username": spelling,
                                              "email": f"{spelling}@example.com"})
        assert r.status_code == 200, r.text
        player = r.json()["player"]
        assert player["user_id"] == created["user_id"]
        assert player["username"] == "Alice"
        assert player["email"] == f"{spelling.lower()}@example.com"
    r = await tenant.get("/v1/players")
    assert [p["username"] for p in r.json()["data"]] == ["Alice"]


async def test_look_ups_by_any_case_find_the_player(tenant: Tenant) -> None:
    created = await create_player(tenant, "Alice")
    for spelling in ("alice", "ALICE", "Alice"):
        r = await tenant.get(f"/v1/players/{spelling}")
        assert r.status_code == 200, r.text
        assert r.json()["player"]["user_id"] == created["user_id"]
    assert (await adjust(tenant, "aLICE", "5.00")).status_code == 201
    r = await tenant.get("/v1/players", params={"query": "ALI"})
    assert [p["user_id"] for p in r.json()["data"]] == [created["user_id"]]


async def test_concurrent_upserts_in_different_cases_make_one_player(tenant: Tenant) -> None:
    spellings = ["bob", "BOB", "Bob", "bOb", "boB", "BoB"] * 3
    answers = await asyncio.gather(*(
        tenant.post("/v1/players", {"username": s, "email": f"b{i}@example.com"})
        for i, s in enumerate(spellings)))
    assert sorted(r.status_code for r in answers) == [200] * (len(spellings) - 1) + [201]
    assert len({r.json()["player"]["user_id"] for r in answers}) == 1


async def test_other_brands_and_worlds_keep_their_own_player(tenant: Tenant) -> None:
    test_alice = await create_player(tenant, "alice")
    live_alice = await create_player(tenant, "ALICE", mode="live")
    assert test_alice["user_id"] != live_alice["user_id"]


async def _index(conn: asyncpg.Connection) -> Any:
    return await conn.fetchrow(
        "SELECT i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = 'players_username_ci'")


async def _rerun(conn: asyncpg.Connection) -> list[str]:
    """Run the migration's username step again; returns its warnings."""
    warnings: list[str] = []
    conn.add_log_listener(lambda _c, message: warnings.append(str(message)))
    await conn.execute("DROP VIEW player_username_collisions; DROP INDEX IF EXISTS players_username_ci")
    for statement in split_sql(MIGRATION.USERNAMES):
        await conn.execute(statement)
    await asyncio.sleep(0)
    return warnings


async def test_the_migration_reports_collisions_instead_of_failing(
    tenant: Tenant, db_url: str,
) -> None:
    await create_player(tenant, "carol")
    conn = await asyncpg.connect(db_url)
    try:
        assert (await _index(conn))["indisunique"] is True
        # rows from before the rule, written around today's index
        await conn.execute("DROP INDEX players_username_ci")
        await conn.execute(
            "INSERT INTO players (tenant_id, mode, id, brand_id, username, email, currency, "
            "created_at, updated_at) SELECT tenant_id, mode, gen_random_uuid(), brand_id, "
            "'CAROL', 'c2@example.com', currency, created_at + interval '1 second', "
            "updated_at FROM players WHERE username = 'carol'")
        warnings = await _rerun(conn)
        assert any("username collision" in w and "CAROL" in w for w in warnings), warnings
        assert (await _index(conn))["indisunique"] is False
        rows = await conn.fetch("SELECT usernames FROM player_username_collisions")
        assert [r["usernames"] for r in rows] == [["carol", "CAROL"]]
    finally:
        await conn.close()
    # the exact spelling wins while the collision lasts; any other finds the oldest
    assert (await tenant.get("/v1/players/CAROL")).json()["player"]["username"] == "CAROL"
    assert (await tenant.get("/v1/players/carol")).json()["player"]["username"] == "carol"
    assert (await tenant.get("/v1/players/Carol")).json()["player"]["username"] == "carol"
    r = await tenant.post("/v1/players", {"username": "CAROL", "email": "c3@example.com"})
    assert r.status_code == 200
    assert r.json()["player"]["username"] == "CAROL"

    # once the operator resolves it, the step makes the index unique
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("UPDATE players SET username = 'carol-2' WHERE username = 'CAROL'")
        assert await _rerun(conn) == []
        assert (await _index(conn))["indisunique"] is True
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("UPDATE players SET username = 'CAROL' WHERE username = 'carol-2'")
    finally:
        await conn.close()
