"""Every foreign-key check finds its row by the referenced key, even when planned on an
empty table without statistics.

PostgreSQL checks a foreign key with ``SELECT 1 FROM ONLY <referenced> x WHERE <key
columns> = $n … FOR KEY SHARE OF x``, planned generically once per connection and kept
until the table's statistics change. On an empty table not yet analyzed, every index
leading with some of the key's columns costs the same as the key itself; one that leaves
a key column to a filter turns each check into a scan of everything the other columns
match (a tenant's whole history) until the table is first analyzed. This plans each
check of the migrated schema as the server does and fails on such a plan.
"""

from __future__ import annotations

import asyncpg

from wowsino.kernel.db import plain_url

# Checks allowed to filter, each with its reason: tables that stay small per tenant.
SMALL = {
    "console_sessions_operator": "operators: a tenant's staff, a few dozen rows at most",
}

FOREIGN_KEYS = """
SELECT c.conname, c.confrelid::regclass::text AS referenced,
       array_agg(a.attname::text ORDER BY k.ord) AS columns,
       array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord) AS types
  FROM pg_constraint c
 CROSS JOIN LATERAL unnest(c.confkey) WITH ORDINALITY AS k (attnum, ord)
  JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
 WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
 GROUP BY c.conname, c.confrelid
 ORDER BY c.conname
"""


async def test_every_foreign_key_check_uses_the_whole_key(db_url: str) -> None:
    conn = await asyncpg.connect(plain_url(db_url))
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        keys = await conn.fetch(FOREIGN_KEYS)
        assert len(keys) > 40  # the catalogue was read
        filtered = {}
        for n, key in enumerate(keys):
            where = " AND ".join(f'"{column}" = ${i + 1}' for i, column in enumerate(key["columns"]))
            await conn.execute(
                f"PREPARE check_{n} ({', '.join(key['types'])}) AS SELECT 1 FROM ONLY "
                f"{key['referenced']} x WHERE {where} FOR KEY SHARE OF x")
            nulls = ", ".join("NULL" for _ in key["columns"])
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE check_{n} ({nulls})"))
            assert "Index" in plan, plan
            if "Filter:" in plan:
                filtered[key["conname"]] = plan
        assert set(filtered) == set(SMALL), filtered
    finally:
        await conn.close()
