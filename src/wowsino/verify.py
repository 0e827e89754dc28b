"""Whole-database verification behind ``wowsino ledger verify`` and ``audit verify``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.kernel import audit, chain, ledger
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.realm import Realm


async def _seal_all(engine: AsyncEngine, name: chain.ChainName) -> list[Realm]:
    async with engine.connect() as conn:
        realms = await chain.realms_with_rows(conn, name)
    for realm in realms:
        await unit_of_work(engine, lambda conn, r=realm: chain.seal(conn, r, name))  # type: ignore[misc]
    return realms


async def verify_ledger(engine: AsyncEngine) -> tuple[list[str], str]:
    """Seal pending entries, then recompute balances, entry hashes and chain links."""
    realms = await _seal_all(engine, "ledger")
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
