"""CRM queries: segments, campaigns, runs and their results, budgets; and the players a
compiled segment selects."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.crm.compiler import COLUMNS, Compiled, day_params
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm

Row = dict[str, Any]
SAMPLE = 20


def _rows(result: Any) -> list[Row]:
    return [dict(r) for r in result.mappings()]


# --- segments ------------------------------------------------------------------------------

async def insert_segment(conn: AsyncConnection, realm: Realm, values: Row) -> None:
    await conn.execute(text(
        "INSERT INTO crm_segments (tenant_id, mode, id, brand_id, name, expression, created_at, "
        "updated_at) VALUES (:tenant_id, :mode, :id, :brand_id, :name, :expression, :at, :at)"),
        {**realm.params, **values})


async def segment(conn: AsyncConnection, realm: Realm, brand_id: UUID, segment_id: UUID,
                  *, for_update: bool = False) -> Row | None:
    row = (await conn.execute(text(
        "SELECT id, brand_id, name, expression, created_at, updated_at FROM crm_segments "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND brand_id = :brand_id AND id = :id"
        + (" FOR UPDATE" if for_update else "")),
        {**realm.params, "brand_id": brand_id, "id": segment_id})).mappings().first()
    return dict(row) if row else None


async def segments(conn: AsyncConnection, realm: Realm, brand_id: UUID,
                   after: tuple[Any, ...] | None, limit: int) -> list[Row]:
    params: dict[str, Any] = {**realm.params, "brand_id": brand_id, "limit": limit + 1}
    where = f" AND {NEWEST.before(after, params)}" if after else ""
    return _rows(await conn.execute(text(
        "SELECT id, brand_id, name, expression, created_at, updated_at FROM crm_segments "
        f"WHERE tenant_id = :tenant_id AND mode = :mode AND brand_id = :brand_id{where} "
        f"ORDER BY {NEWEST.order()} LIMIT :limit"), params))


async def update_segment(conn: AsyncConnection, realm: Realm, segment_id: UUID, name: str,
                         expression: str, at: datetime) -> None:
    await conn.execute(text(
        "UPDATE crm_segments SET name = :name, expression = :expression, updated_at = :at "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": segment_id, "name": name, "expression": expression, "at": at})


async def delete_segment(conn: AsyncConnection, realm: Realm, segment_id: UUID) -> None:
    await conn.execute(text("DELETE FROM crm_segments WHERE tenant_id = :tenant_id "
                            "AND mode = :mode AND id = :id"), {**realm.params, "id": segment_id})


async def campaigns_using(conn: AsyncConnection, realm: Realm, segment_id: UUID) -> int:
    return int(await conn.scalar(text(
        "SELECT count(*) FROM crm_campaigns WHERE tenant_id = :tenant_id AND segment_id = :id"),
        {**realm.params, "id": segment_id}) or 0)


# --- what a segment selects ----------------------------------------------------------------

def _players_from(compiled: Compiled) -> str:
    return (f"FROM players p {compiled.from_joins} WHERE p.tenant_id = :tenant_id "
            f"AND p.mode = :mode AND p.brand_id = :brand_id AND ({compiled.where})")


def _params(realm: Realm, brand_id: UUID, compiled: Compiled, at: datetime) -> dict[str, Any]:
    return {**realm.params, "brand_id": brand_id, **day_params(at), **compiled.params}


async def preview(conn: AsyncConnection, realm: Realm, brand_id: UUID, compiled: Compiled,
                  at: datetime) -> tuple[int, list[Row]]:
    """How many players match, and the newest ``SAMPLE`` of them with the values of the
    fields the expression reads: one statement, one pass over the brand's players."""
    values = "".join(f", {COLUMNS[f][0]} AS f_{f}" for f in sorted(compiled.fields))
    rows = _rows(await conn.execute(text(
        f"SELECT p.id, p.username, p.currency, p.created_at{values}, count(*) OVER () AS total "
        f"{_players_from(compiled)} ORDER BY p.created_at DESC, p.id DESC LIMIT {SAMPLE}"),
        _params(realm, brand_id, compiled, at)))
    return (int(rows[0]["total"]) if rows else 0), rows


async def matching_ids(conn: AsyncConnection, realm: Realm, brand_id: UUID, compiled: Compiled,
                       at: datetime, *, after: UUID, limit: int) -> list[UUID]:
    """The next ``limit`` matching players after ``after``, in id order (a run's batch)."""
    rows = await conn.execute(text(
        f"SELECT p.id {_players_from(compiled)} AND p.id > :after ORDER BY p.id LIMIT :limit"),
        {**_params(realm, brand_id, compiled, at), "after": after, "limit": limit})
    return [r[0] for r in rows]


async def count_as_of(conn: AsyncConnection, realm: Realm, brand_id: UUID, compiled: Compiled,
                      at: datetime) -> int:
    """Players registered by ``at`` who match (a backtest's occurrence)."""
    return int(await conn.scalar(text(
        f"SELECT count(*) {_players_from(compiled)} AND p.created_at <= :as_of"),
        {**_params(realm, brand_id, compiled, at), "as_of": at}) or 0)


async def players(conn: AsyncConnection, realm: Realm, ids: list[UUID]) -> list[Row]:
    """Full player rows, in id order (what the services take)."""
    return _rows(await conn.execute(text(
        "SELECT * FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND id = ANY(CAST(:ids AS uuid[])) ORDER BY id"), {**realm.params, "ids": ids}))


async def last_deposits(conn: AsyncConnection, realm: Realm, ids: list[UUID],
                        currency: str) -> dict[UUID, int]:
    """Each player's last deposit in ``currency`` (minor units): a reload's basis."""
    rows = await conn.execute(text(
        "SELECT DISTINCT ON (player_id) player_id, amount FROM deposit_events "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = ANY(CAST(:ids AS uuid[])) "
        "AND currency = :currency ORDER BY player_id, created_at DESC"),
        {**realm.params, "ids": ids, "currency": currency})
    return {r[0]: int(r[1]) for r in rows}


# --- campaigns -----------------------------------------------------------------------------

_CAMPAIGN = ("SELECT id, brand_id, segment_id, name, action, asset, schedule, budget, "
             "max_per_player_per_month, status, paused_reason, next_run_at, created_at, "
             "updated_at FROM crm_campaigns ")


async def insert_campaign(conn: AsyncConnection, realm: Realm, values: Row) -> None:
    await conn.execute(text(
        "INSERT INTO crm_campaigns (tenant_id, mode, id, brand_id, segment_id, name, action, "
        "asset, schedule, budget, max_per_player_per_month, next_run_at, created_at, "
        "updated_at) VALUES (:tenant_id, :mode, :id, :brand_id, :segment_id, :name, "
        "CAST(:action AS jsonb), :asset, CAST(:schedule AS jsonb), :budget, :max_per_player, "
        ":next_run_at, :at, :at)"),
        {**realm.params, **values, "action": dumps(values["action"]),
         "schedule": dumps(values["schedule"])})


async def campaign(conn: AsyncConnection, realm: Realm, campaign_id: UUID, *,
                   brand_id: UUID | None = None, for_update: bool = False) -> Row | None:
    brand = " AND brand_id = :brand_id" if brand_id is not None else ""
    row = (await conn.execute(text(
        _CAMPAIGN + "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id" + brand
        + (" FOR UPDATE" if for_update else "")),
        {**realm.params, "id": campaign_id, "brand_id": brand_id})).mappings().first()
    return dict(row) if row else None


async def campaigns(conn: AsyncConnection, realm: Realm, brand_id: UUID,
                    after: tuple[Any, ...] | None, limit: int) -> list[Row]:
    params: dict[str, Any] = {**realm.params, "brand_id": brand_id, "limit": limit + 1}
    where = f" AND {NEWEST.before(after, params)}" if after else ""
    return _rows(await conn.execute(text(
        _CAMPAIGN + f"WHERE tenant_id = :tenant_id AND mode = :mode AND brand_id = :brand_id"
        f"{where} ORDER BY {NEWEST.order()} LIMIT :limit"), params))


async def update_campaign(conn: AsyncConnection, realm: Realm, campaign_id: UUID,
                          values: Row) -> None:
    await conn.execute(text(
        "UPDATE crm_campaigns SET segment_id = :segment_id, name = :name, "
        "action = CAST(:action AS jsonb), asset = :asset, schedule = CAST(:schedule AS jsonb), "
        "budget = :budget, max_per_player_per_month = :max_per_player, status = :status, "
        "paused_reason = :paused_reason, next_run_at = :next_run_at, updated_at = :at "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, **values, "id": campaign_id, "action": dumps(values["action"]),
         "schedule": dumps(values["schedule"])})


async def pause_spending(conn: AsyncConnection, realm: Realm, asset: str, reason: str,
                         at: datetime) -> list[UUID]:
    """Pause every active campaign of the realm that spends ``asset``."""
    rows = await conn.execute(text(
        "UPDATE crm_campaigns SET status = 'paused', paused_reason = :reason, updated_at = :at "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND asset = :asset AND status = 'active' "
        "RETURNING id"), {**realm.params, "asset": asset, "reason": reason, "at": at})
    return [r[0] for r in rows]


async def due_campaigns(conn: AsyncConnection, now: datetime, limit: int) -> list[Row]:
    """Active campaigns whose next run is due (any realm), claimed with SKIP LOCKED."""
    return _rows(await conn.execute(text(
        "SELECT tenant_id, mode, id, next_run_at FROM crm_campaigns WHERE status = 'active' "
        "AND next_run_at <= :now ORDER BY next_run_at LIMIT :limit FOR UPDATE SKIP LOCKED"),
        {"now": now, "limit": limit}))


async def set_next_run(conn: AsyncConnection, realm: Realm, campaign_id: UUID,
                       next_run_at: datetime | None) -> None:
    await conn.execute(text("UPDATE crm_campaigns SET next_run_at = :next WHERE tenant_id = "
                            ":tenant_id AND mode = :mode AND id = :id"),
                       {**realm.params, "id": campaign_id, "next": next_run_at})


# --- runs ----------------------------------------------------------------------------------

_RUN = ("SELECT id, seq, campaign_id, trigger, scheduled_for, segment_at, expression, action, "
        "asset, budget, status, after_player, processed, granted, skipped, cost, stopped_by, "
        "started_at, updated_at, finished_at FROM crm_runs ")


async def insert_run(conn: AsyncConnection, realm: Realm, values: Row) -> Row | None:
    """A new running run; None when one of the campaign is already running, or when this
    scheduled time or idempotency key already has its run."""
    row = (await conn.execute(text(
        "INSERT INTO crm_runs (tenant_id, mode, id, campaign_id, trigger, idempotency_key, "
        "scheduled_for, segment_at, expression, action, asset, budget, status, started_at, "
        "updated_at) VALUES (:tenant_id, :mode, :id, :campaign_id, :trigger, :key, "
        ":scheduled_for, :segment_at, :expression, CAST(:action AS jsonb), :asset, :budget, "
        "'running', :at, :at) ON CONFLICT DO NOTHING RETURNING id"),
        {**realm.params, **values, "action": dumps(values["action"])})).first()
    return None if row is None else await run(conn, realm, row[0])


async def run(conn: AsyncConnection, realm: Realm, run_id: UUID, *,
              for_update: bool = False) -> Row | None:
    row = (await conn.execute(text(
        _RUN + "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"
        + (" FOR UPDATE" if for_update else "")),
        {**realm.params, "id": run_id})).mappings().first()
    return dict(row) if row else None


async def run_by_key(conn: AsyncConnection, realm: Realm, campaign_id: UUID,
                     key: str) -> Row | None:
    row = (await conn.execute(text(
        _RUN + "WHERE tenant_id = :tenant_id AND mode = :mode AND campaign_id = :campaign_id "
        "AND idempotency_key = :key"),
        {**realm.params, "campaign_id": campaign_id, "key": key})).mappings().first()
    return dict(row) if row else None


async def runs(conn: AsyncConnection, realm: Realm, campaign_id: UUID,
               before_seq: int | None, limit: int) -> list[Row]:
    where = " AND seq < :before" if before_seq is not None else ""
    return _rows(await conn.execute(text(
        _RUN + "WHERE tenant_id = :tenant_id AND mode = :mode AND campaign_id = :campaign_id"
        f"{where} ORDER BY seq DESC LIMIT :limit"),
        {**realm.params, "campaign_id": campaign_id, "before": before_seq, "limit": limit + 1}))


async def runnable(conn: AsyncConnection, limit: int) -> list[Row]:
    """Running runs of active campaigns (any realm), oldest first."""
    return _rows(await conn.execute(text(
        "SELECT r.tenant_id, r.mode, r.id FROM crm_runs r JOIN crm_campaigns c "
        "ON c.tenant_id = r.tenant_id AND c.id = r.campaign_id "
        "WHERE r.status = 'running' AND c.status = 'active' ORDER BY r.seq LIMIT :limit"),
        {"limit": limit}))


async def advance_run(conn: AsyncConnection, realm: Realm, run_id: UUID, *, after: UUID,
                      processed: int, granted: int, skipped: dict[str, int], cost: int,
                      at: datetime) -> None:
    """A batch's progress, in the batch's transaction."""
    await conn.execute(text(
        "UPDATE crm_runs SET after_player = :after, processed = processed + :processed, "
        "granted = granted + :granted, cost = cost + :cost, updated_at = :at, "
        "skipped = (SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM (SELECT k, sum(v) AS v "
        "FROM (SELECT key AS k, value::bigint AS v FROM jsonb_each_text(skipped) UNION ALL "
        "SELECT key, value::bigint FROM jsonb_each_text(CAST(:skipped AS jsonb))) s "
        "GROUP BY k) t) WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": run_id, "after": after, "processed": processed,
         "granted": granted, "cost": cost, "skipped": dumps(skipped), "at": at})


async def finish_run(conn: AsyncConnection, realm: Realm, run_id: UUID, status: str,
                     stopped_by: str | None, at: datetime) -> None:
    await conn.execute(text(
        "UPDATE crm_runs SET status = :status, stopped_by = :stopped_by, finished_at = :at, "
        "updated_at = :at WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": run_id, "status": status, "stopped_by": stopped_by, "at": at})


async def record_results(conn: AsyncConnection, realm: Realm, run_id: UUID,
                         granted: dict[UUID, int], skipped: dict[UUID, str],
                         at: datetime) -> None:
    """The batch's result per player, in one statement. A player with a result already
    was handled by an earlier batch: the batch must not stand (its transaction is
    undone), so a run never grants a player twice."""
    ids = [*granted, *skipped]
    if not ids:
        return
    rows = await conn.execute(text(
        "INSERT INTO crm_run_results (tenant_id, mode, run_id, player_id, outcome, reason, "
        "cost, created_at) SELECT :tenant_id, :mode, :run_id, r.player_id, r.outcome, "
        "r.reason, r.cost, :at FROM unnest(CAST(:ids AS uuid[]), CAST(:outcomes AS text[]), "
        "CAST(:reasons AS text[]), CAST(:costs AS bigint[])) AS r (player_id, outcome, reason, "
        "cost) ON CONFLICT DO NOTHING RETURNING player_id"),
        {**realm.params, "run_id": run_id, "ids": ids, "at": at,
         "outcomes": ["granted"] * len(granted) + ["skipped"] * len(skipped),
         "reasons": [None] * len(granted) + list(skipped.values()),
         "costs": [*granted.values()] + [0] * len(skipped)})
    if len(rows.all()) != len(ids):
        raise RuntimeError(f"run {run_id}: a player of this batch was handled before")


async def month_grants(conn: AsyncConnection, realm: Realm, campaign_id: UUID,
                       ids: list[UUID], month: date) -> dict[UUID, int]:
    rows = await conn.execute(text(
        "SELECT player_id, grants FROM crm_player_grants WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND campaign_id = :campaign_id AND month = :month "
        "AND player_id = ANY(CAST(:ids AS uuid[]))"),
        {**realm.params, "campaign_id": campaign_id, "month": month, "ids": ids})
    return {r[0]: int(r[1]) for r in rows}


async def count_month_grants(conn: AsyncConnection, realm: Realm, campaign_id: UUID,
                             ids: list[UUID], month: date) -> None:
    await conn.execute(text(
        "INSERT INTO crm_player_grants AS g (tenant_id, mode, campaign_id, player_id, month, "
        "grants) SELECT :tenant_id, :mode, :campaign_id, p, :month, 1 "
        "FROM unnest(CAST(:ids AS uuid[])) AS p ON CONFLICT (tenant_id, mode, campaign_id, "
        "player_id, month) DO UPDATE SET grants = g.grants + 1"),
        {**realm.params, "campaign_id": campaign_id, "ids": ids, "month": month})


async def pause_campaign(conn: AsyncConnection, realm: Realm, campaign_id: UUID, reason: str,
                         at: datetime) -> None:
    await conn.execute(text(
        "UPDATE crm_campaigns SET status = 'paused', paused_reason = :reason, updated_at = :at "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": campaign_id, "reason": reason, "at": at})
