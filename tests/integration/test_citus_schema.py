"""The schema stays distributable by ``tenant_id`` (Citus), read from the catalogue of a
migrated database, so a new table or key that breaks the rule fails here.

Citus places every row of a distributed table on the shard its distribution column
hashes to. A unique key (primary key, unique constraint or index, exclusion constraint)
can only be enforced within a shard, so it must hold the distribution column; a foreign
key between distributed tables must join on it (the rows on both ends are on the same
shard: colocated). Every API query names the tenant, so with ``tenant_id`` as the
distribution column each of them stays on one shard. Our rule is the stronger one:
every unique key *leads* with ``tenant_id``, which also makes it the index each tenant's
queries use.

The exceptions are the tables listed below, each with its reason; docs/operations.md
("Distributing on Citus") gives the commands, and the last test checks that they name
every table with the classification these lists give.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from wowsino.kernel.db import plain_url

DISTRIBUTION_COLUMN = "tenant_id"

# Replicated to every node (``create_reference_table``): small, rarely written, and read
# either before the tenant is known or alongside every tenant's rows. Their keys need not
# hold ``tenant_id``. A reference table may reference only reference tables.
REFERENCE_TABLES = {
    "tenants": "the platform's list of tenants: what every key resolution joins and "
               "platform-wide jobs iterate; one row per tenant",
    "assets": "the asset codes money tables reference (USD, WINZ, …): a few rows, "
              "no tenant",
    "brands": "a few rows per tenant, joined by every API-key resolution; api_keys "
              "references it",
    "api_keys": "looked up by the key's hash before the tenant is known (UNIQUE key_hash); "
                "a few rows per tenant, written only when a key is created or revoked",
    "operators": "console staff sign in by e-mail and accept invitations by a token's hash "
                 "before the tenant is known; a few rows per tenant; console_sessions "
                 "references it",
    "console_sessions": "looked up by the cookie's hash before the tenant is known (PK "
                        "id_hash, UNIQUE public_id); the platform admin's sessions belong to "
                        "no tenant (tenant_id NULL); human-scale traffic",
}

# Left a plain table on the coordinator (neither distributed nor replicated): only what
# runs through the coordinator reads it, and keeping it out of Citus keeps each
# migration's transaction (DDL on distributed tables, then this row) simple.
COORDINATOR_ONLY = {
    "alembic_version": "the migration revision: one row, no tenant, read and written only "
                       "by migrations and /readyz",
    "outbox_relays": "the event stream's progress, one row per stream over every tenant; its "
                     "transaction-id horizon is one server's, so on Citus the relay needs one "
                     "cursor per node (not built)",
}

# Distributed by their own column, not colocated with the tenants' tables: looked up by a
# token's hash on hot paths before the tenant is known, too busy to replicate (every
# request slides a player session's expiry). Each lookup by token stays on one shard.
SHARDED_BY_OWN_KEY = {
    "player_sessions": ("token_hash", "every /v1/player request finds its session by the "
                        "token's hash"),
    "game_sessions": ("token_hash", "every aggregator wallet call finds its session by the "
                      "token's hash"),
}

# Constraints of SHARDED_BY_OWN_KEY tables Citus cannot keep as they are; dropped (or made
# plain indexes) before distributing, as docs/operations.md shows.
BEFORE_DISTRIBUTING = {
    "player_sessions_tenant_id_mode_id_key": "unique (tenant_id, mode, id) without "
        "token_hash: becomes a plain index (ids are UUIDv7 the platform generates)",
    "game_sessions_tenant_id_mode_id_key": "likewise",
    "game_sessions_tenant_id_player_id_fkey": "a foreign key to players, which are on "
        "other shards: dropped (a session is only created for a player just read)",
}


@dataclass(frozen=True)
class UniqueKey:
    table: str
    name: str
    kind: str
    columns: tuple[str | None, ...]  # None: an expression

    def __str__(self) -> str:
        shown = ", ".join(c or "<expression>" for c in self.columns)
        return f"{self.table}: {self.kind} {self.name} ({shown})"


@dataclass(frozen=True)
class ForeignKey:
    table: str
    name: str
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]

    def __str__(self) -> str:
        return (f"{self.table}: {self.name} ({', '.join(self.columns)}) -> "
                f"{self.target} ({', '.join(self.target_columns)})")


@dataclass(frozen=True)
class Catalogue:
    # table -> whether its tenant_id is NOT NULL (None: it has no tenant_id)
    tables: dict[str, bool | None]
    unique_keys: list[UniqueKey]
    foreign_keys: list[ForeignKey]


_TABLES = """
SELECT c.relname AS name, a.attnotnull AS tenant_not_null
FROM pg_class c
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $1 AND NOT a.attisdropped
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
"""
# every index that enforces uniqueness: primary keys, unique constraints, unique indexes
# backing no constraint, and exclusion constraints; key columns only (not INCLUDE)
_UNIQUE_KEYS = """
SELECT t.relname AS table, i.relname AS name,
       CASE WHEN x.indisprimary THEN 'primary key'
            WHEN con.contype = 'u' THEN 'unique constraint'
            WHEN x.indisexclusion THEN 'exclusion constraint'
            ELSE 'unique index' END AS kind,
       ARRAY(SELECT a.attname
             FROM unnest((x.indkey::int2[])[0:x.indnkeyatts - 1]) WITH ORDINALITY k(attnum, n)
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             ORDER BY k.n) AS columns
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.contype IN ('p', 'u', 'x')
WHERE t.relnamespace = 'public'::regnamespace AND (x.indisunique OR x.indisexclusion)
ORDER BY 1, 2
"""
_FOREIGN_KEYS = """
SELECT src.relname AS table, c.conname AS name, dst.relname AS target,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
             ORDER BY k.n) AS columns,
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
             ORDER BY k.n) AS target_columns
FROM pg_constraint c
JOIN pg_class src ON src.oid = c.conrelid
JOIN pg_class dst ON dst.oid = c.confrelid
WHERE c.contype = 'f' AND src.relnamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


async def read_catalogue(db_url: str) -> Catalogue:
    conn = await asyncpg.connect(plain_url(db_url))
    try:
        tables = {r["name"]: r["tenant_not_null"]
                  for r in await conn.fetch(_TABLES, DISTRIBUTION_COLUMN)}
        unique_keys = [UniqueKey(r["table"], r["name"], r["kind"], tuple(r["columns"]))
                       for r in await conn.fetch(_UNIQUE_KEYS)]
        foreign_keys = [ForeignKey(r["table"], r["name"], tuple(r["columns"]), r["target"],
                                   tuple(r["target_columns"]))
                        for r in await conn.fetch(_FOREIGN_KEYS)]
    finally:
        await conn.close()
    return Catalogue(tables, unique_keys, foreign_keys)


def distribution_column(table: str) -> str | None:
    """The column ``table`` is distributed by (None: a reference or coordinator table)."""
    if table in REFERENCE_TABLES or table in COORDINATOR_ONLY:
        return None
    if table in SHARDED_BY_OWN_KEY:
        return SHARDED_BY_OWN_KEY[table][0]
    return DISTRIBUTION_COLUMN


def listing(offenders: list[str]) -> str:
    return "\n  " + "\n  ".join(offenders)


async def test_every_table_is_distributed_by_tenant_or_listed_with_its_reason(
        db_url: str) -> None:
    catalogue = await read_catalogue(db_url)
    listed = set(REFERENCE_TABLES) | set(COORDINATOR_ONLY) | set(SHARDED_BY_OWN_KEY)
    gone = listed - set(catalogue.tables)
    assert not gone, f"listed but not in the schema: {gone}"

    no_tenant = [t for t, not_null in catalogue.tables.items()
                 if not_null is None and distribution_column(t) is not None]
    assert not no_tenant, ("tables without tenant_id (add it, or list the table in "
                           f"REFERENCE_TABLES with the reason):{listing(no_tenant)}")
    # a distribution column is never NULL
    nullable = [t for t, not_null in catalogue.tables.items()
                if not_null is False and distribution_column(t) is not None]
    assert not nullable, f"tenant_id may be NULL in:{listing(nullable)}"
    # the lists are not the rule: most tables are the tenant's
    assert sum(distribution_column(t) == DISTRIBUTION_COLUMN for t in catalogue.tables) > 60


def unique_key_offenders(catalogue: Catalogue, excused: Collection[str]) -> list[str]:
    offenders = []
    for key in catalogue.unique_keys:
        column = distribution_column(key.table)
        if column is None or key.name in excused:
            continue
        if key.columns[:1] != (column,):
            offenders.append(f"{key}: should lead with {column}")
    return offenders


def foreign_key_offenders(catalogue: Catalogue, excused: Collection[str]) -> list[str]:
    offenders = []
    for fk in catalogue.foreign_keys:
        source, target = distribution_column(fk.table), distribution_column(fk.target)
        if COORDINATOR_ONLY.keys() & {fk.table, fk.target}:
            offenders.append(f"{fk}: a table left on the coordinator takes no foreign key")
        elif target is None or fk.name in excused:
            continue  # to a reference table: on every node
        if source is None:
            offenders.append(f"{fk}: a reference table cannot reference a distributed one")
        elif source != target or target != DISTRIBUTION_COLUMN:
            offenders.append(f"{fk}: between tables not colocated")
        elif (source not in fk.columns
              or fk.target_columns[fk.columns.index(source)] != target):
            offenders.append(f"{fk}: does not join {source} to {target}")
    return offenders


async def test_every_unique_key_leads_with_the_distribution_column(db_url: str) -> None:
    catalogue = await read_catalogue(db_url)
    names = {key.name for key in catalogue.unique_keys} | {fk.name for fk in
                                                            catalogue.foreign_keys}
    assert not set(BEFORE_DISTRIBUTING) - names, "BEFORE_DISTRIBUTING names what is gone"

    offenders = unique_key_offenders(catalogue, BEFORE_DISTRIBUTING)
    assert not offenders, ("unique keys Citus could not enforce per shard (lead with "
                           f"tenant_id, or list the table with its reason):{listing(offenders)}")
    # the rule is read from the catalogue as it stands: the keys are there to be checked
    assert sum(key.kind == "primary key" for key in catalogue.unique_keys) > 70
    assert any(key.kind == "unique index" and None in key.columns
               for key in catalogue.unique_keys)  # players_username_ci, on lower(username)


async def test_foreign_keys_join_on_tenant_or_point_at_reference_tables(db_url: str) -> None:
    catalogue = await read_catalogue(db_url)
    offenders = foreign_key_offenders(catalogue, BEFORE_DISTRIBUTING)
    assert not offenders, ("foreign keys Citus cannot keep (rows on different shards):"
                           f"{listing(offenders)}")
    colocated = [fk for fk in catalogue.foreign_keys
                 if distribution_column(fk.target) == DISTRIBUTION_COLUMN]
    assert len(colocated) > 40


DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
_CALL = re.compile(r"SELECT (create_reference_table|create_distributed_table)\('(\w+)'"
                   r"(?:, '(\w+)')?")


async def test_the_citus_commands_in_the_operations_guide_cover_every_table(
        db_url: str) -> None:
    catalogue = await read_catalogue(db_url)
    calls = _CALL.findall(DOCS.read_text())
    documented = {table: (None if kind == "create_reference_table" else column)
                  for kind, table, column in calls}
    assert len(documented) == len(calls), "a table is distributed twice"
    expected = {table: distribution_column(table) for table in catalogue.tables
                if table not in COORDINATOR_ONLY}
    wrong = [f"{t}: documented {documented.get(t, 'nothing')!r}, expected {expected.get(t)!r}"
             for t in sorted(set(documented) | set(expected))
             if documented.get(t, "?") != expected.get(t, "?")]
    assert not wrong, f"docs/operations.md disagrees with the schema:{listing(wrong)}"

    # Citus distributes a table after those its foreign keys reference
    position = {table: n for n, (_, table, _) in enumerate(calls)}
    early = [f"{fk}: {fk.table} comes before {fk.target}" for fk in catalogue.foreign_keys
             if fk.name not in BEFORE_DISTRIBUTING and position[fk.target] > position[fk.table]]
    assert not early, f"docs/operations.md distributes out of order:{listing(early)}"


_PREPARATION = re.compile(r"### Before distributing\n.*?```sql\n(.*?)```", re.DOTALL)


async def test_the_guide_s_preparation_leaves_nothing_citus_refuses(db_url: str) -> None:
    """The "Before distributing" statements of the guide, run as written on a migrated
    database (plain PostgreSQL), leave no exception to the rules and no statement-level
    trigger, and keep the row-level guards."""
    preparation = _PREPARATION.search(DOCS.read_text())
    assert preparation is not None
    conn = await asyncpg.connect(plain_url(db_url))
    try:
        await conn.execute(preparation.group(1))
        triggers = await conn.fetch(
            "SELECT tgrelid::regclass::text AS table, tgname, (tgtype & 1) = 1 AS per_row "
            "FROM pg_trigger WHERE NOT tgisinternal")
    finally:
        await conn.close()
    catalogue = await read_catalogue(db_url)
    assert not unique_key_offenders(catalogue, excused=())
    assert not foreign_key_offenders(catalogue, excused=())
    assert not [t["tgname"] for t in triggers if not t["per_row"]]
    assert {"ledger_entries_append_only", "audit_log_append_only"} <= {
        t["tgname"] for t in triggers}
