"""Jackpot queries: every one takes the realm."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines.jackpots.stripes import POOL_SQL
from wowsino.kernel.canonical import canonical
from wowsino.kernel.pagination import INTEGER, NEWEST, Keyset
from wowsino.kernel.realm import Realm

DROPS = Keyset(("round",), (INTEGER,))  # a pool's drops, newest round first

# Never the mystery seed or the hidden point: trigger_at is selected only where public.
PUBLIC_COLUMNS = (
    "j.id, j.name, j.currency, j.seed, j.contribution_pct, j.must_drop_at, j.mystery, "
    "j.status, j.round, j.round_started_at, j.round_seed, j.round_must_drop_at, "
    "j.mystery_seed_hash, j.mystery_client_seed, j.created_at, j.updated_at"
)

_VIEW = (
    f"SELECT {PUBLIC_COLUMNS}, {POOL_SQL} AS pool, d.id AS last_drop_id, "
    "d.round AS last_drop_round, d.winner_id AS last_drop_winner_id, "
    "d.winner_username AS last_drop_winner_username, d.amount AS last_drop_amount, "
    "d.trigger_reason AS last_drop_trigger_reason, d.created_at AS last_drop_at, "
    "(SELECT p.brand_id FROM players p WHERE p.tenant_id = d.tenant_id AND p.mode = d.mode "
    "AND p.id = d.winner_id) AS last_drop_winner_brand_id "
    "FROM jackpots j LEFT JOIN LATERAL (SELECT * FROM jackpot_drops d "
    "WHERE d.tenant_id = j.tenant_id AND d.mode = j.mode AND d.jackpot_id = j.id "
    "ORDER BY d.round DESC LIMIT 1) d ON true WHERE j.tenant_id = :tenant_id AND j.mode = :mode"
)


async def insert_jackpot(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    placeholders = ", ".join(f":{c}" for c in values)
    await conn.execute(
        text(f"INSERT INTO jackpots (tenant_id, mode, {columns}) "
             f"VALUES (:tenant_id, :mode, {placeholders})"),
        {**realm.params, **values},
    )


async def update_jackpot(
    conn: AsyncConnection, realm: Realm, jackpot_id: UUID, values: dict[str, Any]
) -> None:
    """Set ``values`` (column → value) on one jackpot."""
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    await conn.execute(
        text(f"UPDATE jackpots SET {assignments} WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND id = :jackpot_id"),
        {**realm.params, **values, "jackpot_id": jackpot_id},
    )


async def view(conn: AsyncConnection, realm: Realm, jackpot_id: UUID) -> dict[str, Any] | None:
    """One jackpot's public columns with its pool and last drop."""
    row = (await conn.execute(text(_VIEW + " AND j.id = :id"),
                              {**realm.params, "id": jackpot_id})).first()
    return dict(row._mapping) if row else None


async def listing(
    conn: AsyncConnection, realm: Realm, *, status: str | None, after: tuple[Any, ...] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; ``after`` is ``(created_at, id)`` of the previous page's last row."""
    clauses, params = [], {**realm.params, "limit": limit + 1}
    if status is not None:
        clauses.append("j.status = :status")
        params["status"] = status
    if after is not None:
        clauses.append(NEWEST.before(after, params, alias="j"))
    where = "".join(f" AND {c}" for c in clauses)
    rows = await conn.execute(
        text(_VIEW + where + f" ORDER BY {NEWEST.order('j')} LIMIT :limit"), params)
    return [dict(r._mapping) for r in rows]


async def insert_contribution(
    conn: AsyncConnection, realm: Realm, values: dict[str, Any]
) -> bool:
    """Record a contribution; False when its ``source_wager_id`` was already used on this
    pool (waits for a concurrent first use to commit or roll back)."""
    inserted = await conn.scalar(
        text("INSERT INTO jackpot_contributions (tenant_id, mode, id, jackpot_id, round, "
             "player_id, brand_id, source_wager_id, requested, amount, created_at) VALUES "
             "(:tenant_id, :mode, :id, :jackpot_id, :round, :player_id, :brand_id, "
             ":source_wager_id, :amount, :amount, :at) ON CONFLICT DO NOTHING RETURNING 1"),
        {**realm.params, **values},
    )
    return inserted is not None


async def contribution_by_wager(
    conn: AsyncConnection, realm: Realm, jackpot_id: UUID, source_wager_id: str
) -> dict[str, Any]:
    row = (
        await conn.execute(
            text("SELECT * FROM jackpot_contributions WHERE tenant_id = :tenant_id "
                 "AND mode = :mode AND jackpot_id = :jackpot_id "
                 "AND source_wager_id = :source_wager_id"),
            {**realm.params, "jackpot_id": jackpot_id, "source_wager_id": source_wager_id},
        )
    ).one()
    return dict(row._mapping)


async def settle_contribution(
    conn: AsyncConnection, realm: Realm, contribution_id: UUID, *, round: int, amount: int
) -> None:
    """Record the round a contribution went into and what the pool took of it."""
    await conn.execute(
        text("UPDATE jackpot_contributions SET round = :round, amount = :amount "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": contribution_id, "round": round, "amount": amount},
    )


async def contributions_before(
    conn: AsyncConnection, realm: Realm, jackpot_id: UUID, round: int, *,
    before_seq: int | None, limit: int,
) -> list[dict[str, Any]]:
    """A round's contributions, most recent first, from before ``before_seq``."""
    rows = await conn.execute(
        text("SELECT player_id, brand_id, seq FROM jackpot_contributions "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND jackpot_id = :jackpot_id "
             "AND round = :round AND (CAST(:before AS bigint) IS NULL "
             "OR seq < CAST(:before AS bigint)) ORDER BY seq DESC LIMIT :limit"),
        {**realm.params, "jackpot_id": jackpot_id, "round": round, "before": before_seq,
         "limit": limit},
    )
    return [dict(r._mapping) for r in rows]


async def insert_drop(
    conn: AsyncConnection, realm: Realm, values: dict[str, Any], mystery: dict[str, Any] | None
) -> None:
    await conn.execute(
        text("INSERT INTO jackpot_drops (tenant_id, mode, id, jackpot_id, round, winner_id, "
             "winner_username, contribution_id, amount, pool_before, pool_after, "
             "trigger_reason, mystery, payout_entry_id, seed_entry_id, created_at) VALUES "
             "(:tenant_id, :mode, :id, :jackpot_id, :round, :winner_id, :winner_username, "
             ":contribution_id, :amount, :pool_before, :pool_after, :trigger_reason, "
             "CAST(:mystery AS jsonb), :payout_entry_id, :seed_entry_id, :at)"),
        {**realm.params, **values,
         "mystery": None if mystery is None else canonical(mystery).decode()},
    )


async def drop_by_contribution(
    conn: AsyncConnection, realm: Realm, jackpot_id: UUID, contribution_id: UUID
) -> dict[str, Any] | None:
    """The drop a contribution won, if any."""
    row = (
        await conn.execute(
            text("SELECT * FROM jackpot_drops WHERE tenant_id = :tenant_id AND mode = :mode "
                 "AND jackpot_id = :jackpot_id AND contribution_id = :contribution_id"),
            {**realm.params, "jackpot_id": jackpot_id, "contribution_id": contribution_id},
        )
    ).first()
    return dict(row._mapping) if row else None


async def drops(
    conn: AsyncConnection, realm: Realm, jackpot_id: UUID, *, before_round: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A pool's drops, newest round first."""
    params: dict[str, Any] = {**realm.params, "jackpot_id": jackpot_id, "limit": limit + 1}
    after = f" AND {DROPS.before((before_round,), params)}" if before_round is not None else ""
    rows = await conn.execute(
        text("SELECT d.*, p.brand_id AS winner_brand_id FROM jackpot_drops d JOIN players p "
             "ON p.tenant_id = d.tenant_id AND p.mode = d.mode AND p.id = d.winner_id "
             "WHERE d.tenant_id = :tenant_id AND d.mode = :mode "
             f"AND d.jackpot_id = :jackpot_id{after} ORDER BY {DROPS.order()} LIMIT :limit"),
        params,
    )
    return [dict(r._mapping) for r in rows]
