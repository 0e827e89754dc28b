"""The ``assets`` table and ``kernel.money.ASSETS`` describe the same registry."""

from __future__ import annotations

import asyncpg

from wowsino.kernel.money import ASSETS


async def test_assets_table_equals_the_registry(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT code, scale, kind FROM assets")
        in_use = await conn.fetchval(
            "SELECT count(*) FROM ledger_accounts a LEFT JOIN assets s ON s.code = a.asset "
            "WHERE s.code IS NULL"
        )
    finally:
        await conn.close()
    table = {r["code"]: (int(r["scale"]), r["kind"]) for r in rows}
    registry = {code: (a.scale, a.kind) for code, a in ASSETS.items()}
    assert table == registry
    assert in_use == 0
