"""Whole-database verification behind ``wowsino ledger verify`` and ``audit verify``.

Both first ANALYZE the tables they read: a realm the planner has no statistics for
(a new tenant, or any table right after a crash, which resets statistics) otherwise
got nested-loop plans over sequential scans, minutes instead of seconds.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.kernel import audit, chain, ledger
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.realm import Realm

LEDGER_TABLES = ("ledger_accounts", "ledger_entries", "ledger_postings")
AUDIT_TABLES = ("audit_log",)


async def analyze(engine: AsyncEngine, tables: tuple[str, ...]) -> bool:
    """Refresh the planner's statistics of ``tables``; False when not allowed (a role that
    does not own them), and verification goes on with the statistics there are."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f"ANALYZE {', '.join(tables)}"))
            await conn.commit()
    except DBAPIError:
        return False
    return True


async def _seal_all(engine: AsyncEngine, name: chain.ChainName) -> list[Realm]:
    async with engine.connect() as conn:
        realms = await chain.realms_with_rows(conn, name)
    for realm in realms:
        await unit_of_work(engine, lambda conn, r=realm: chain.seal(conn, r, name))  # type: ignore[misc]
    return realms


async def verify_ledger(engine: AsyncEngine) -> tuple[list[str], str]:
    """Seal pending entries, then recompute balances, entry hashes and chain links."""
    realms = await _seal_all(engine, "ledger")
    await analyze(engine, LEDGER_TABLES)
    problems: list[str] = []
    entries = accounts = 0
    async with engine.connect() as conn:
        for realm in realms:
            report = await ledger.verify_realm(conn, realm)
            links = await chain.verify_links(conn, realm, "ledger")
            entries += report.entries
            accounts += report.accounts
            tag = f"[{realm.tenant_id} {realm.mode.value}] "
            problems += [tag + p for p in report.problems + (links.problems or [])]
    return problems, f"{len(realms)} realm(s), {entries} entries, {accounts} accounts"


async def verify_audit(engine: AsyncEngine) -> tuple[list[str], str]:
    realms = await _seal_all(engine, "audit")
    await analyze(engine, AUDIT_TABLES)
    problems: list[str] = []
    rows = 0
    async with engine.connect() as conn:
        for realm in realms:
            links = await chain.verify_links(conn, realm, "audit")
            rows += links.checked
            tag = f"[{realm.tenant_id} {realm.mode.value}] "
            problems += [tag + p for p in await audit.verify_contents(conn, realm)]
            problems += [tag + p for p in links.problems or []]
    return problems, f"{len(realms)} realm(s), {rows} rows"
