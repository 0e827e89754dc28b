"""The ``assets`` table and ``kernel.money.ASSETS`` describe the same registry."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from wowsino.kernel.money import ASSETS


async def test_assets_table_equals_the_registry(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT code, scale, kind, max_minor FROM assets")
    finally:
        await conn.close()
    table = {r["code"]: (int(r["scale"]), r["kind"], int(r["max_minor"])) for r in rows}
    registry = {code: (a.scale, a.kind, a.max_minor) for code, a in ASSETS.items()}
    assert table == registry


async def test_ledger_accounts_only_hold_registered_assets(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    insert = ("INSERT INTO ledger_accounts (tenant_id, mode, owner_type, owner_key, rail, asset, "
              "balance) VALUES ($1, 'test', 'player', 'p1', 'real', $2, 0)")
    try:
        await conn.execute(insert, uuid.uuid4(), "EUR")
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(insert, uuid.uuid4(), "XYZ")
    finally:
        await conn.close()
