"""Migration 0006 on existing data: raffles get a holder key and their entries holder ids,
raffles already settled keep the format their draw hashed, audit rows get their brand."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from tests.conftest import _with_database
from wowsino.engines.raffles.tickets import holder_id
from wowsino.kernel.db import _alembic_config, create_engine

T, B1, B2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
ALICE, ZED = uuid.uuid4(), uuid.uuid4()
OPEN, DRAWN = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def bare_url(server_url: str) -> AsyncIterator[str]:
    name = f"wz_mig_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(server_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    yield _with_database(server_url, name)
    conn = await asyncpg.connect(server_url)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def upgrade_to(engine: Any, revision: str) -> None:
    from alembic import command

    def run(sync_conn: Any) -> None:
        cfg = _alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


SEED = """
INSERT INTO tenants (id, slug, name, service_mode, created_at)
    VALUES (:t, 'acme', 'Acme', 'plug_in', now());
INSERT INTO brands (tenant_id, id, slug, name, created_at) VALUES
    (:t, :b1, 'main', 'Main', now()), (:t, :b2, 'other', 'Other', now());
INSERT INTO players (tenant_id, mode, id, brand_id, username, email, currency, created_at,
    updated_at) VALUES (:t, 'test', :alice, :b1, 'alice', 'a@x.io', 'USD', now(), now()),
    (:t, 'test', :zed, :b2, 'zed', 'z@x.io', 'USD', now(), now());
INSERT INTO raffles (tenant_id, mode, id, name, ticket_cost_winz, prize_winz, status,
    server_seed, server_seed_hash, total_tickets, created_at, updated_at) VALUES
    (:t, 'test', :open, 'Open', 1, 10, 'active', 's', 'h', 3, now(), now()),
    (:t, 'test', :drawn, 'Drawn', 1, 10, 'completed', 's', 'h', 1, now(), now());
INSERT INTO raffle_entries (tenant_id, mode, id, raffle_id, player_id, brand_id, username,
    tickets, first_ticket_idx, winz_debited, created_at) VALUES
    (:t, 'test', gen_random_uuid(), :open, :alice, :b1, 'alice', 1, 0, 1, now()),
    (:t, 'test', gen_random_uuid(), :open, :zed, :b2, 'zed', 1, 1, 1, now()),
    (:t, 'test', gen_random_uuid(), :open, :alice, :b1, 'alice', 1, 2, 1, now()),
    (:t, 'test', gen_random_uuid(), :drawn, :zed, :b2, 'zed', 1, 0, 1, now());
INSERT INTO audit_log (tenant_id, mode, actor_type, actor_id, action, target_type, target_id,
    after, created_at, content_hash) VALUES
    (:t, 'test', 'system', 'x', 'player.created', 'player', :zed_text, NULL, now(), '\\x00'),
    (:t, 'test', 'system', 'x', 'raffle.drawn', 'raffle', :drawn_text,
     jsonb_build_object('winner', jsonb_build_object('user_id', CAST(:alice_text AS text))), now(), '\\x00'),
    (:t, 'test', 'system', 'x', 'raffle.created', 'raffle', :open_text, NULL, now(), '\\x00');
"""


async def test_existing_raffles_and_audit_rows_are_brought_forward(bare_url: str) -> None:
    engine = create_engine(bare_url, pool_size=1)
    try:
        await upgrade_to(engine, "0005")
        params: dict[str, Any] = {"t": T, "b1": B1, "b2": B2, "alice": ALICE, "zed": ZED,
                                  "open": OPEN, "drawn": DRAWN}
        params.update({f"{name}_text": str(value) for name, value in list(params.items())})
        async with engine.begin() as conn:
            for statement in SEED.strip().split(";\n"):
                if statement.strip():
                    await conn.execute(text(statement), params)
        await upgrade_to(engine, "0006")
        async with engine.connect() as conn:
            formats = dict((await conn.execute(text(
                "SELECT id, ticket_format FROM raffles"))).all())
            assert formats == {OPEN: 2, DRAWN: 1}
            keys = dict((await conn.execute(text("SELECT id, holder_key FROM raffles"))).all())
            assert all(len(k) == 32 for k in keys.values()) and keys[OPEN] != keys[DRAWN]
            entries = (await conn.execute(text(
                "SELECT raffle_id, player_id, holder_id FROM raffle_entries"))).all()
            for raffle_id, player_id, holder in entries:
                assert holder == holder_id(bytes(keys[raffle_id]), str(player_id))
            brands = dict((await conn.execute(text(
                "SELECT action, brand_id FROM audit_log"))).all())
            assert brands == {"player.created": B2, "raffle.drawn": B1, "raffle.created": None}
    finally:
        await engine.dispose()
