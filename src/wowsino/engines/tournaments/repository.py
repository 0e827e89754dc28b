"""Tournament queries (configuration, entries, payouts): every one takes the realm."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import lifecycle
from wowsino.kernel import wire
from wowsino.kernel.canonical import canonical
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm

JSON_COLUMNS = ("prize_table", "recurrence", "total_paid")
TABLE, NOUN, NOT_FOUND = "tournaments", "tournament", "NO_TOURNAMENT"


# A race's participants: its row's count and, for one without a cap, the stripes its
# entering transactions add to (migration 0028), as ``participants``.
_COUNTED = (
    "*, participants + coalesce((SELECT sum(k.entered) FROM tournament_entry_counts k "
    "WHERE k.tenant_id = tournaments.tenant_id AND k.mode = tournaments.mode "
    "AND k.tournament_id = tournaments.id), 0) AS participants_counted")


def _counted(row: dict[str, Any]) -> dict[str, Any]:
    row["participants"] = int(row.pop("participants_counted"))
    return row


async def load(conn: AsyncConnection, realm: Realm, ref: str, *,
               for_update: bool = False) -> dict[str, Any]:
    """A tournament of ``realm`` by id, or 404 ``NO_TOURNAMENT``. Its ``participants``
    are read in the statement's snapshot, which one that waited for the lock of
    ``for_update`` took before: ``fold_entry_counts`` counts after the lock."""
    return _counted(await lifecycle.load(conn, table=TABLE, realm=realm, ref=ref,
                                         not_found_code=NOT_FOUND, noun=NOUN,
                                         for_update=for_update, columns=_COUNTED))


def load_lookup(realm: Realm, ref: str) -> wire.Lookup | None:
    """``load``'s query, to be sent ahead of a write."""
    return lifecycle.load_lookup(table=TABLE, realm=realm, ref=ref, columns=_COUNTED)


async def fold_entry_counts(conn: AsyncConnection, realm: Realm, tournament_id: UUID) -> int:
    """Move a race's entry stripes into its row's count (it is being capped, and a capped
    race counts on its row); its participants. The caller holds the row FOR UPDATE, so
    every transaction that entered players has ended, and this statement sees them all."""
    count = await conn.scalar(
        text("WITH gone AS (DELETE FROM tournament_entry_counts WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND tournament_id = :tournament_id RETURNING entered) "
             "UPDATE tournaments SET participants = participants + "
             "(SELECT coalesce(sum(entered), 0) FROM gone) WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :tournament_id RETURNING participants"),
        {**realm.params, "tournament_id": tournament_id})
    return int(count or 0)


def _bind(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parameters with the jsonb columns serialised, and each column's placeholder."""
    params, holders = {}, {}
    for column, value in values.items():
        if column in JSON_COLUMNS:
            params[column] = None if value is None else canonical(value).decode()
            holders[column] = f"CAST(:{column} AS jsonb)"
        else:
            params[column] = value
            holders[column] = f":{column}"
    return params, holders


async def insert_tournament(conn: AsyncConnection, realm: Realm, values: dict[str, Any],
                            *, once: bool = False) -> bool:
    """Insert a tournament; with ``once``, nothing when its series already has that
    instance (False)."""
    params, holders = _bind(values)
    conflict = " ON CONFLICT (tenant_id, mode, series_id, instance) DO NOTHING" if once else ""
    done = await conn.scalar(
        text(f"INSERT INTO tournaments (tenant_id, mode, {', '.join(holders)}) VALUES "
             f"(:tenant_id, :mode, {', '.join(holders.values())}){conflict} RETURNING 1"),
        {**realm.params, **params})
    return done is not None


async def update_tournament(conn: AsyncConnection, realm: Realm, tournament_id: UUID,
                            values: dict[str, Any]) -> None:
    params, holders = _bind(values)
    assignments = ", ".join(f"{c} = {h}" for c, h in holders.items())
    await conn.execute(
        text(f"UPDATE tournaments SET {assignments} WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :tournament_id"),
        {**realm.params, **params, "tournament_id": tournament_id})


async def listing(
    conn: AsyncConnection, realm: Realm, *, status: str | None, after: tuple[Any, ...] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; ``after`` is ``(created_at, id)`` of the previous page's last row."""
    clauses, params = [], {**realm.params, "limit": limit + 1}
    if status is not None:
        clauses.append("status = :status")
        params["status"] = status
    if after is not None:
        clauses.append(NEWEST.before(after, params))
    where = "".join(f" AND {c}" for c in clauses)
    rows = await conn.execute(
        text(f"SELECT {_COUNTED} FROM tournaments WHERE tenant_id = :tenant_id AND mode = :mode"
             f"{where} ORDER BY {NEWEST.order()} LIMIT :limit"), params)
    return [_counted(dict(r._mapping)) for r in rows]


async def entry(conn: AsyncConnection, realm: Realm, tournament_id: UUID,
                player_id: UUID) -> dict[str, Any] | None:
    row = (await conn.execute(
        text("SELECT * FROM tournament_entries WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND tournament_id = :tournament_id AND player_id = :player_id"),
        {**realm.params, "tournament_id": tournament_id, "player_id": player_id})).first()
    return dict(row._mapping) if row else None


async def score_by_wager(conn: AsyncConnection, realm: Realm, tournament_id: UUID,
                         source_wager_id: str) -> dict[str, Any] | None:
    """What ``source_wager_id`` added to the tournament, with the player's score now."""
    row = (await conn.execute(
        text("SELECT s.*, e.score AS total FROM tournament_scores s LEFT JOIN "
             "tournament_entries e ON e.tenant_id = s.tenant_id AND e.mode = s.mode "
             "AND e.tournament_id = s.tournament_id AND e.player_id = s.player_id "
             "WHERE s.tenant_id = :tenant_id AND s.mode = :mode "
             "AND s.tournament_id = :tournament_id AND s.source_wager_id = :source_wager_id"),
        {**realm.params, "tournament_id": tournament_id,
         "source_wager_id": source_wager_id})).first()
    return dict(row._mapping) if row else None


async def players_by_id(conn: AsyncConnection, realm: Realm,
                        ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """The named players (any brand of the realm), by id."""
    if not ids:
        return {}
    rows = await conn.execute(
        text("SELECT id, brand_id, username, status, currency FROM players "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND id = ANY (CAST(:ids AS uuid[]))"),
        {**realm.params, "ids": ids})
    return {r.id: dict(r._mapping) for r in rows}


async def insert_payouts(conn: AsyncConnection, realm: Realm, tournament_id: UUID,
                         rows: list[dict[str, Any]], at: datetime) -> None:
    if not rows:
        return
    await conn.execute(
        text("INSERT INTO tournament_payouts (tenant_id, mode, tournament_id, rank, player_id, "
             "score, prize, status, reason, detail, created_at) SELECT :tenant_id, :mode, "
             ":tournament_id, p.rank, p.player_id, p.score, p.prize, p.status, p.reason, "
             "p.detail, :at FROM unnest(CAST(:ranks AS integer[]), CAST(:players AS uuid[]), "
             "CAST(:scores AS numeric[]), CAST(:prizes AS jsonb[]), CAST(:statuses AS text[]), "
             "CAST(:reasons AS text[]), CAST(:details AS jsonb[])) "
             "AS p (rank, player_id, score, prize, status, reason, detail)"),
        {**realm.params, "tournament_id": tournament_id, "at": at,
         "ranks": [r["rank"] for r in rows], "players": [r["player_id"] for r in rows],
         "scores": [r["score"] for r in rows],
         "prizes": [canonical(r["prize"]).decode() for r in rows],
         "statuses": [r["status"] for r in rows], "reasons": [r["reason"] for r in rows],
         "details": [canonical(r["detail"]).decode() for r in rows]})


async def payouts(conn: AsyncConnection, realm: Realm,
                  tournament_id: UUID) -> list[dict[str, Any]]:
    """A closed tournament's payout rows in rank order, with each player's name and brand."""
    rows = await conn.execute(
        text("SELECT t.*, p.username, p.brand_id FROM tournament_payouts t JOIN players p "
             "ON p.tenant_id = t.tenant_id AND p.id = t.player_id WHERE t.tenant_id = "
             ":tenant_id AND t.mode = :mode AND t.tournament_id = :tid ORDER BY t.rank"),
        {**realm.params, "tid": tournament_id})
    return [dict(r._mapping) for r in rows]


async def due(conn: AsyncConnection, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Active tournaments (any realm) whose end has come, oldest end first, with their
    tenant's service mode."""
    rows = await conn.execute(
        text("SELECT t.tenant_id, t.mode, t.id, n.service_mode FROM tournaments t "
             "JOIN tenants n ON n.id = t.tenant_id WHERE t.status = 'active' "
             "AND t.ends_at <= :now ORDER BY t.ends_at LIMIT :limit"),
        {"now": now, "limit": limit})
    return [dict(r._mapping) for r in rows]
