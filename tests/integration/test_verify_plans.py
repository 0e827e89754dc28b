"""``ledger verify`` and ``audit verify`` refresh the planner's statistics first, so a realm
the planner knows nothing about (a new tenant, or any table after a crash) is checked with
sensible plans."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.support import adjust, create_player
from wowsino.verify import verify_audit, verify_ledger


async def _analyzed(engine: Any, table: str) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(text(
            "SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables "
            "WHERE relname = :t"), {"t": table})
    return int(value or 0)


async def _flush_stats(engine: Any) -> None:
    async with engine.connect() as conn:
        if (await conn.scalar(text("SHOW server_version_num"))) >= "150000":
            await conn.execute(text("SELECT pg_stat_force_next_flush()"))


async def test_verify_analyzes_the_tables_it_reads_first(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", "5.00")).status_code == 201
    before = {t: await _analyzed(engine, t) for t in
              ("ledger_entries", "ledger_postings", "ledger_accounts", "audit_log")}
    problems, summary = await verify_ledger(engine)
    assert problems == []
    assert "1 realm(s), 1 entries" in summary
    problems, _ = await verify_audit(engine)
    assert problems == []
    await _flush_stats(engine)
    after = {t: await _analyzed(engine, t) for t in before}
    assert all(after[t] > before[t] for t in before), (before, after)

