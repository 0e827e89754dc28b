"""Bonus queries: every one takes the realm."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.canonical import canonical
from wowsino.kernel.db import retry_on_conflict
from wowsino.kernel.errors import Conflict
from wowsino.kernel.jsonio import loads
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm

TEMPLATE_COLUMNS = ("id, name, type, status, promo_code, currency, terms::text AS terms, "
                    "created_at, updated_at")
BONUS_COLUMNS = (
    "b.id, b.seq, b.template_id, b.player_id, b.brand_id, b.type, b.status, b.currency, "
    "b.bonus_amount, b.balance, b.deposit_amount, b.wagering_required, b.wagering_completed, "
    "b.terms::text AS terms, b.source, b.source_ref, b.reason, b.expires_at, b.granted_at, "
    "b.ended_at, b.end_reason, b.real_credited"
)


def _decoded(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["terms"] = loads(out["terms"])
    return out


def _promo_code_race(error: IntegrityError) -> Exception:
    """A concurrent template took the promo code between the check and the write."""
    if "bonus_templates_promo_code" in str(error.orig):
        return Conflict("promo_code is used by another template", code="PROMO_CODE_TAKEN",
                        field="promo_code")
    return error


async def insert_template(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> None:
    try:
        await _insert_template(conn, realm, values)
    except IntegrityError as error:
        raise _promo_code_race(error) from error


async def _insert_template(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> None:
    await conn.execute(
        text("INSERT INTO bonus_templates (tenant_id, mode, id, name, type, status, promo_code, "
             "currency, terms, created_at, updated_at) VALUES (:tenant_id, :mode, :id, :name, "
             ":type, 'active', :promo_code, :currency, CAST(:terms AS jsonb), :at, :at)"),
        {**realm.params, **values, "terms": canonical(values["terms"]).decode()})


async def update_template(conn: AsyncConnection, realm: Realm, template_id: UUID,
                          values: dict[str, Any], at: datetime) -> None:
    try:
        await _update_template(conn, realm, template_id, values, at)
    except IntegrityError as error:
        raise _promo_code_race(error) from error


async def _update_template(conn: AsyncConnection, realm: Realm, template_id: UUID,
                           values: dict[str, Any], at: datetime) -> None:
    await conn.execute(
        text("UPDATE bonus_templates SET name = :name, promo_code = :promo_code, "
             "terms = CAST(:terms AS jsonb), updated_at = :at WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id"),
        {**realm.params, "id": template_id, "name": values["name"],
         "promo_code": values["promo_code"], "terms": canonical(values["terms"]).decode(),
         "at": at})


async def template(conn: AsyncConnection, realm: Realm, *, template_id: UUID | None = None,
                   promo_code: str | None = None) -> dict[str, Any] | None:
    clause = "id = :key" if template_id is not None else "upper(promo_code) = upper(:key)"
    row = (await conn.execute(
        text(f"SELECT {TEMPLATE_COLUMNS} FROM bonus_templates WHERE tenant_id = :tenant_id "
             f"AND mode = :mode AND {clause}"),
        {**realm.params, "key": template_id if template_id is not None else promo_code})).first()
    return None if row is None else _decoded(row)


async def templates(conn: AsyncConnection, realm: Realm, *, after: tuple[Any, ...] | None,
                    limit: int, auto_types: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Newest first; ``auto_types``: only active automatic templates of those types."""
    clauses, params = [], {**realm.params, "limit": limit + 1}
    if after is not None:
        clauses.append(NEWEST.before(after, params))
    if auto_types is not None:
        clauses.append("status = 'active' AND type = ANY (CAST(:types AS text[])) "
                       "AND (terms ->> 'auto_grant')::boolean IS TRUE")
        params["types"] = list(auto_types)
    where = "".join(f" AND {c}" for c in clauses)
    rows = await conn.execute(
        text(f"SELECT {TEMPLATE_COLUMNS} FROM bonus_templates WHERE tenant_id = :tenant_id "
             f"AND mode = :mode{where} ORDER BY created_at DESC, id DESC LIMIT :limit"), params)
    return [_decoded(r) for r in rows]


async def set_template_status(conn: AsyncConnection, realm: Realm, template_id: UUID,
                              status: str, at: datetime) -> None:
    await conn.execute(
        text("UPDATE bonus_templates SET status = :status, updated_at = :at "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": template_id, "status": status, "at": at})


async def count_grant(conn: AsyncConnection, realm: Realm, template_id: UUID, player_id: UUID,
                      limit: int) -> bool:
    """Count one more grant of the template to the player unless ``limit`` is reached;
    concurrent grants queue on the counter row, so the limit holds."""
    counted = await conn.scalar(
        text("INSERT INTO bonus_grant_counts AS c (tenant_id, mode, template_id, player_id, "
             "grants) VALUES (:tenant_id, :mode, :template_id, :player_id, 1) "
             "ON CONFLICT (tenant_id, mode, template_id, player_id) DO UPDATE "
             "SET grants = c.grants + 1 WHERE c.grants < :limit RETURNING grants"),
        {**realm.params, "template_id": template_id, "player_id": player_id, "limit": limit})
    return counted is not None and int(counted) <= limit


async def insert_bonus(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> bool:
    """False when an automatic grant for the same source already exists."""
    inserted = await conn.scalar(
        text("INSERT INTO bonuses (tenant_id, mode, id, template_id, player_id, brand_id, type, "
             "status, currency, bonus_amount, balance, deposit_amount, wagering_required, terms, "
             "source, source_ref, reason, expires_at, granted_at) VALUES (:tenant_id, :mode, "
             ":id, :template_id, :player_id, :brand_id, :type, :status, :currency, "
             ":bonus_amount, :bonus_amount, :deposit_amount, :wagering_required, "
             "CAST(:terms AS jsonb), :source, :source_ref, :reason, :expires_at, :at) "
             "ON CONFLICT DO NOTHING RETURNING 1"),
        {**realm.params, **values, "terms": canonical(values["terms"]).decode()})
    return inserted is not None


async def bonus(conn: AsyncConnection, realm: Realm, bonus_id: UUID, *,
                for_update: bool = False) -> dict[str, Any] | None:
    row = (await conn.execute(
        text(f"SELECT {BONUS_COLUMNS} FROM bonuses b WHERE b.tenant_id = :tenant_id "
             "AND b.mode = :mode AND b.id = :id" + (" FOR UPDATE" if for_update else "")),
        {**realm.params, "id": bonus_id})).first()
    return None if row is None else _decoded(row)


async def active_for_players(conn: AsyncConnection, realm: Realm,
                             player_ids: list[UUID]) -> list[dict[str, Any]]:
    """Every active bonus of the players, locked, in grant order (a fixed lock order)."""
    rows = await conn.execute(
        text(f"SELECT {BONUS_COLUMNS} FROM bonuses b WHERE b.tenant_id = :tenant_id "
             "AND b.mode = :mode AND b.player_id = ANY (CAST(:players AS uuid[])) "
             "AND b.status = 'active' ORDER BY b.seq FOR UPDATE"),
        {**realm.params, "players": player_ids})
    return [_decoded(r) for r in rows]


async def open_bonuses(conn: AsyncConnection, realm: Realm,
                       player_ids: list[UUID]) -> list[dict[str, Any]]:
    """The pending and active bonuses of the players, in grant order (no lock)."""
    if not player_ids:
        return []
    rows = await conn.execute(
        text(f"SELECT {BONUS_COLUMNS} FROM bonuses b WHERE b.tenant_id = :tenant_id "
             "AND b.mode = :mode AND b.player_id = ANY (CAST(:players AS uuid[])) "
             "AND b.status IN ('pending', 'active') ORDER BY b.seq"),
        {**realm.params, "players": player_ids})
    return [_decoded(r) for r in rows]


async def finish(conn: AsyncConnection, realm: Realm, bonus_id: UUID, *, status: str,
                 reason: str | None, at: datetime, real_credited: int | None = None) -> None:
    """Move a bonus to a terminal state; its balance is gone (converted or removed)."""
    await conn.execute(
        text("UPDATE bonuses SET status = :status, balance = 0, ended_at = :at, "
             "end_reason = :reason, real_credited = :real WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id"),
        {**realm.params, "id": bonus_id, "status": status, "reason": reason, "at": at,
         "real": real_credited})


async def activate(conn: AsyncConnection, realm: Realm, bonus_id: UUID, *, amount: int,
                   wagering_required: int) -> None:
    await conn.execute(
        text("UPDATE bonuses SET status = 'active', bonus_amount = :amount, balance = :amount, "
             "wagering_required = :required WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND id = :id"),
        {**realm.params, "id": bonus_id, "amount": amount, "required": wagering_required})


async def add_progress(conn: AsyncConnection, realm: Realm,
                       progress: dict[UUID, tuple[int, int]]) -> None:
    """Add (weighted turnover, bonus money) to many bonuses in one statement (negative to
    take back)."""
    if not progress:
        return
    await conn.execute(
        text("UPDATE bonuses b SET wagering_completed = b.wagering_completed + p.delta, "
             "balance = b.balance + p.money FROM unnest(CAST(:ids AS uuid[]), "
             "CAST(:deltas AS bigint[]), CAST(:money AS bigint[])) AS p (id, delta, money) "
             "WHERE b.tenant_id = :tenant_id AND b.mode = :mode AND b.id = p.id"),
        {**realm.params, "ids": list(progress), "deltas": [p[0] for p in progress.values()],
         "money": [p[1] for p in progress.values()]})


# A wager's row here is written before the wager's own row, which the spine writes
# last: a violation is a concurrent first use of the wager (``events.repository``).
retry_on_conflict("bonus_wagering_pkey")

_WAGERING = text(
    "WITH added AS (INSERT INTO bonus_wagering (tenant_id, mode, bonus_id, source_wager_id, "
    "game_category, stake, weighted, balance_delta, created_at) "
    "SELECT :tenant_id, :mode, r.*, :at FROM unnest(CAST(:bonuses AS uuid[]), "
    "CAST(:wagers AS text[]), CAST(:categories AS text[]), CAST(:stakes AS bigint[]), "
    "CAST(:weighted AS bigint[]), CAST(:moved AS bigint[])) AS r RETURNING 1) "
    "UPDATE bonuses b SET wagering_completed = b.wagering_completed + p.delta, "
    "balance = b.balance + p.money "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:deltas AS bigint[]), CAST(:money AS bigint[])) "
    "AS p (id, delta, money) WHERE b.tenant_id = :tenant_id AND b.mode = :mode AND b.id = p.id"
)


async def add_wagering(conn: AsyncConnection, realm: Realm, rows: list[tuple[Any, ...]],
                       progress: dict[UUID, tuple[int, int]], at: datetime) -> None:
    """Record contributions and add each bonus's totals, in one statement.

    ``rows``: (bonus_id, source_wager_id, category, stake, weighted, balance_delta);
    ``progress``: per bonus, the sum of ``weighted`` and of ``balance_delta``."""
    if not rows:
        return
    await conn.execute(_WAGERING, {
        **realm.params, "at": at, "bonuses": [r[0] for r in rows],
        "wagers": [r[1] for r in rows], "categories": [r[2] for r in rows],
        "stakes": [r[3] for r in rows], "weighted": [r[4] for r in rows],
        "moved": [r[5] for r in rows], "ids": list(progress),
        "deltas": [p[0] for p in progress.values()],
        "money": [p[1] for p in progress.values()]})


async def wagering_of(conn: AsyncConnection, realm: Realm,
                      wager_ids: list[str]) -> list[dict[str, Any]]:
    """The not yet rolled-back contributions of wagers, with their bonus locked."""
    rows = await conn.execute(
        text("SELECT w.bonus_id, w.source_wager_id, w.weighted, w.balance_delta, b.status, "
             "b.balance, b.player_id, b.currency FROM bonus_wagering w "
             "JOIN bonuses b ON b.tenant_id = w.tenant_id AND b.id = w.bonus_id "
             "WHERE w.tenant_id = :tenant_id AND w.mode = :mode AND NOT w.rolled_back "
             "AND w.source_wager_id = ANY (CAST(:wagers AS text[])) ORDER BY b.seq "
             "FOR UPDATE OF b"),
        {**realm.params, "wagers": wager_ids})
    return [dict(r._mapping) for r in rows]


async def mark_wagering_rolled_back(conn: AsyncConnection, realm: Realm,
                                    pairs: list[tuple[UUID, str]]) -> None:
    if not pairs:
        return
    await conn.execute(
        text("UPDATE bonus_wagering w SET rolled_back = true FROM unnest(CAST(:bonuses AS "
             "uuid[]), CAST(:wagers AS text[])) AS p (bonus_id, wager) WHERE w.tenant_id = "
             ":tenant_id AND w.mode = :mode AND w.bonus_id = p.bonus_id "
             "AND w.source_wager_id = p.wager"),
        {**realm.params, "bonuses": [p[0] for p in pairs], "wagers": [p[1] for p in pairs]})


async def player_bonuses(conn: AsyncConnection, realm: Realm, player_id: UUID, *,
                         before_seq: int | None, limit: int) -> list[dict[str, Any]]:
    """A player's bonuses, newest first, each with its progress by game category."""
    rows = await conn.execute(
        text(f"SELECT {BONUS_COLUMNS}, t.name AS template_name, coalesce((SELECT "
             "jsonb_object_agg(c.game_category, c.total)::text FROM (SELECT game_category, "
             "sum(weighted) AS total FROM bonus_wagering w WHERE w.tenant_id = b.tenant_id "
             "AND w.mode = b.mode AND w.bonus_id = b.id AND NOT w.rolled_back "
             "GROUP BY game_category) c), '{}') AS by_category FROM bonuses b "
             "JOIN bonus_templates t ON t.tenant_id = b.tenant_id AND t.id = b.template_id "
             "WHERE b.tenant_id = :tenant_id AND b.mode = :mode AND b.player_id = :player_id "
             "AND (CAST(:before AS bigint) IS NULL OR b.seq < :before) "
             "ORDER BY b.seq DESC LIMIT :limit"),
        {**realm.params, "player_id": player_id, "before": before_seq, "limit": limit + 1})
    out = []
    for r in rows:
        row = _decoded(r)
        row["by_category"] = loads(row["by_category"])
        out.append(row)
    return out


async def due_expiries(conn: AsyncConnection, now: datetime, limit: int) -> list[Any]:
    """Bonuses past ``expires_at`` in any realm, claimed (SKIP LOCKED) for this worker."""
    rows = await conn.execute(
        text("SELECT tenant_id, mode, id FROM bonuses WHERE status IN ('pending', 'active') "
             "AND expires_at <= :now ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED"),
        {"now": now, "limit": limit})
    return list(rows)
