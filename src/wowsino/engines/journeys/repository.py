"""Journey queries: every one is scoped by the realm (tenant and mode)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.canonical import canonical
from wowsino.kernel.pagination import INSTANT, NEWEST, Keyset
from wowsino.kernel.pagination import UUID as UUID_KIND
from wowsino.kernel.realm import Realm

EDITABLE = ("name", "entry_trigger", "steps", "triggers", "reward_winz",
            "reward_bonus_template_id", "reward_lootbox_id", "time_limit_hours", "repeatable")
JSON = ("steps",)
RUNS = Keyset(("started_at", "journey_id"), (INSTANT, UUID_KIND))  # a player's runs


def _params(values: dict[str, Any]) -> dict[str, Any]:
    return {k: canonical(v).decode() if k in JSON else v for k, v in values.items()}


def _value(column: str) -> str:
    return f"CAST(:{column} AS jsonb)" if column in JSON else f":{column}"


async def insert(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> None:
    columns = ("id", *EDITABLE)
    await conn.execute(
        text(f"INSERT INTO journeys (tenant_id, mode, {', '.join(columns)}, status, created_at, "
             f"updated_at) VALUES (:tenant_id, :mode, {', '.join(map(_value, columns))}, "
             "'active', :at, :at)"),
        {**realm.params, **_params(values)})


async def update(conn: AsyncConnection, realm: Realm, journey_id: UUID,
                 changes: dict[str, Any], at: datetime) -> None:
    """Set the given editable columns (names come from ``EDITABLE`` only)."""
    columns = [c for c in EDITABLE if c in changes]
    assignments = "".join(f"{c} = {_value(c)}, " for c in columns)
    await conn.execute(
        text(f"UPDATE journeys SET {assignments}updated_at = :at WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id"),
        {**realm.params, **_params({c: changes[c] for c in columns}), "id": journey_id,
         "at": at})


async def search(conn: AsyncConnection, realm: Realm, *, status: str | None,
                 after: tuple[Any, ...] | None, limit: int) -> list[dict[str, Any]]:
    clauses = ["tenant_id = :tenant_id", "mode = :mode"]
    params: dict[str, Any] = {**realm.params, "limit": limit + 1}
    if status is not None:
        clauses.append("status = :status")
        params["status"] = status
    if after is not None:
        clauses.append(NEWEST.before(after, params))
    rows = await conn.execute(
        text(f"SELECT * FROM journeys WHERE {' AND '.join(clauses)} "
             f"ORDER BY {NEWEST.order()} LIMIT :limit"), params)
    return [dict(r._mapping) for r in rows]


async def entered(conn: AsyncConnection, realm: Realm, journey_id: UUID) -> bool:
    return bool(await conn.scalar(
        text("SELECT EXISTS (SELECT 1 FROM journey_players WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND journey_id = :id)"), {**realm.params, "id": journey_id}))


async def matching(conn: AsyncConnection, realm: Realm, names: list[str]) -> list[dict[str, Any]]:
    """The active journeys a trigger of ``names`` enters or advances: the one statement a
    realm without such journeys pays."""
    rows = await conn.execute(
        text("SELECT * FROM journeys WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND status = 'active' AND (entry_trigger = ANY (CAST(:names AS text[])) "
             "OR triggers && CAST(:names AS text[])) ORDER BY id"),
        {**realm.params, "names": names})
    return [dict(r._mapping) for r in rows]


async def lock_runs(conn: AsyncConnection, realm: Realm, journey_ids: list[UUID],
                    player_ids: list[UUID]) -> dict[tuple[UUID, UUID], dict[str, Any]]:
    """The players' runs of the journeys, row-locked in one order."""
    rows = await conn.execute(
        text("SELECT * FROM journey_players WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND journey_id = ANY (CAST(:journeys AS uuid[])) "
             "AND player_id = ANY (CAST(:players AS uuid[])) "
             "ORDER BY journey_id, player_id FOR UPDATE"),
        {**realm.params, "journeys": journey_ids, "players": player_ids})
    return {(r.journey_id, r.player_id): dict(r._mapping) for r in rows}


_COLUMNS = ("journey_id", "player_id", "brand_id", "run", "status", "step", "step_count",
            "step_started_at", "started_at", "expires_at", "ended_at", "reward")
_TYPES = ("uuid", "uuid", "uuid", "integer", "text", "integer", "integer", "timestamptz",
          "timestamptz", "timestamptz", "timestamptz", "jsonb")
_UNNEST = ("unnest(" + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(_COLUMNS, _TYPES,
                                                                         strict=True))
           + f") AS r ({', '.join(_COLUMNS)})")


def _arrays(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {c: [canonical(r[c]).decode() if c == "reward" and r[c] is not None else r[c]
                for r in rows] for c in _COLUMNS}


async def insert_runs(conn: AsyncConnection, realm: Realm, rows: list[dict[str, Any]],
                      at: datetime) -> set[tuple[UUID, UUID]]:
    """Insert first runs; the ``(journey, player)`` pairs inserted (a concurrent first
    entry of the same pair wins over this one)."""
    if not rows:
        return set()
    found = await conn.execute(
        text(f"INSERT INTO journey_players (tenant_id, mode, {', '.join(_COLUMNS)}, updated_at) "
             f"SELECT :tenant_id, :mode, r.*, :at FROM {_UNNEST} ORDER BY 3, 4 "
             "ON CONFLICT DO NOTHING RETURNING journey_id, player_id"),
        {**realm.params, **_arrays(rows), "at": at})
    return {(r.journey_id, r.player_id) for r in found}


async def update_runs(conn: AsyncConnection, realm: Realm, rows: list[dict[str, Any]],
                      at: datetime) -> None:
    if not rows:
        return
    sets = ", ".join(f"{c} = r.{c}" for c in _COLUMNS[3:])
    # sent at once: a trigger fired later in the same transaction reads the runs again
    await conn.execute(
        text(f"UPDATE journey_players j SET {sets}, updated_at = :at FROM {_UNNEST} "
             "WHERE j.tenant_id = :tenant_id AND j.mode = :mode AND j.journey_id = r.journey_id "
             "AND j.player_id = r.player_id"), {**realm.params, **_arrays(rows), "at": at})


async def player_runs(conn: AsyncConnection, realm: Realm, player_id: UUID, *,
                      after: tuple[Any, ...] | None, limit: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {**realm.params, "player": player_id, "limit": limit + 1}
    where = "" if after is None else " AND " + RUNS.before(after, params, "r")
    rows = await conn.execute(
        text("SELECT r.*, j.name, j.steps FROM journey_players r JOIN journeys j "
             "ON j.tenant_id = r.tenant_id AND j.mode = r.mode AND j.id = r.journey_id "
             "WHERE r.tenant_id = :tenant_id AND r.mode = :mode AND r.player_id = :player"
             f"{where} ORDER BY {RUNS.order('r')} LIMIT :limit"), params)
    return [dict(r._mapping) for r in rows]


async def expire_due(conn: AsyncConnection, now: datetime, limit: int) -> int:
    """Mark runs past ``expires_at`` expired (any realm; locked rows are left for later)."""
    done = await conn.execute(
        text("UPDATE journey_players j SET status = 'expired', ended_at = j.expires_at, "
             "updated_at = :now FROM (SELECT tenant_id, mode, journey_id, player_id "
             "FROM journey_players WHERE status = 'active' AND expires_at <= :now "
             "ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED) due "
             "WHERE j.tenant_id = due.tenant_id AND j.mode = due.mode "
             "AND j.journey_id = due.journey_id AND j.player_id = due.player_id"),
        {"now": now, "limit": limit})
    return int(done.rowcount or 0)


async def run_counts(conn: AsyncConnection, realm: Realm,
                     journey_ids: list[UUID]) -> dict[UUID, dict[str, int]]:
    """How many players each journey has, by the status of their latest run."""
    rows = await conn.execute(
        text("SELECT journey_id, status, count(*) AS n FROM journey_players "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND journey_id = ANY(:ids) "
             "GROUP BY journey_id, status"),
        {**realm.params, "ids": journey_ids})
    counts: dict[UUID, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r.journey_id, {})[r.status] = int(r.n)
    return counts
