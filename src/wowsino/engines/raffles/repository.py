"""Raffle queries: every one is scoped by the realm (tenant and mode)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines.raffles.tickets import TicketRange
from wowsino.kernel import wire
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm

EDITABLE = ("name", "ticket_cost_winz", "prize_winz", "max_tickets_per_player", "draw_at")


async def insert_raffle(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> None:
    await conn.execute(
        text("INSERT INTO raffles (tenant_id, mode, id, name, ticket_cost_winz, prize_winz, "
             "max_tickets_per_player, draw_at, status, server_seed, server_seed_hash, "
             "holder_key, created_at, updated_at) VALUES (:tenant_id, :mode, :id, :name, "
             ":ticket_cost_winz, :prize_winz, :max_tickets_per_player, :draw_at, 'active', "
             ":server_seed, :server_seed_hash, :holder_key, :at, :at)"),
        {**realm.params, **values},
    )


async def update_raffle(
    conn: AsyncConnection, realm: Realm, raffle_id: UUID, changes: dict[str, Any], at: datetime
) -> None:
    """Set the given editable columns (names come from ``EDITABLE`` only)."""
    columns = [c for c in EDITABLE if c in changes]
    assignments = "".join(f"{c} = :{c}, " for c in columns)
    await conn.execute(
        text(f"UPDATE raffles SET {assignments}updated_at = :at WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id"),
        {**realm.params, **{c: changes[c] for c in columns}, "id": raffle_id, "at": at},
    )


async def set_status(
    conn: AsyncConnection, realm: Realm, raffle_id: UUID, status: str, at: datetime
) -> None:
    await conn.execute(
        text("UPDATE raffles SET status = :status, updated_at = :at WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id"),
        {**realm.params, "id": raffle_id, "status": status, "at": at},
    )


async def set_total(
    conn: AsyncConnection, realm: Realm, raffle_id: UUID, total: int, at: datetime
) -> None:
    # nothing in the request reads it back: sent with the write's last statement
    await wire.defer(conn, (
        "UPDATE raffles SET total_tickets = :total, updated_at = :at "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id",
        {**realm.params, "id": raffle_id, "total": total, "at": at},
    ))


async def search(
    conn: AsyncConnection, realm: Realm, *, status: str | None, after: tuple[Any, ...] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; ``after`` is ``(created_at, id)`` of the last row already shown."""
    clauses = ["tenant_id = :tenant_id", "mode = :mode"]
    params: dict[str, Any] = {**realm.params, "limit": limit + 1}
    if status is not None:
        clauses.append("status = :status")
        params["status"] = status
    if after is not None:
        clauses.append(NEWEST.before(after, params))
    rows = await conn.execute(
        text(f"SELECT * FROM raffles WHERE {' AND '.join(clauses)} "
             f"ORDER BY {NEWEST.order()} LIMIT :limit"),
        params,
    )
    return [dict(r._mapping) for r in rows]


async def player_tickets(
    conn: AsyncConnection, realm: Realm, raffle_id: UUID, player_id: UUID
) -> int:
    value = await conn.scalar(
        text("SELECT coalesce(sum(tickets), 0) FROM raffle_entries WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND raffle_id = :raffle AND player_id = :player"),
        {**realm.params, "raffle": raffle_id, "player": player_id},
    )
    return int(value or 0)


async def insert_entry(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> None:
    # nothing in the request reads it back: sent with the write's last statement
    await wire.defer(conn, (
        "INSERT INTO raffle_entries (tenant_id, mode, id, raffle_id, player_id, brand_id, "
        "username, holder_id, tickets, first_ticket_idx, winz_debited, ledger_entry_id, "
        "created_at) VALUES (:tenant_id, :mode, :id, :raffle_id, :player_id, :brand_id, "
        ":username, :holder_id, :tickets, :first_ticket_idx, :winz_debited, "
        ":ledger_entry_id, :at)",
        {**realm.params, **values},
    ))


async def ticket_ranges(conn: AsyncConnection, realm: Realm, raffle_id: UUID) -> list[TicketRange]:
    """Every entry of the raffle in ticket order."""
    rows = await conn.execute(
        text("SELECT first_ticket_idx, tickets, holder_id, player_id FROM raffle_entries "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND raffle_id = :raffle "
             "ORDER BY first_ticket_idx"),
        {**realm.params, "raffle": raffle_id},
    )
    return [TicketRange(int(r.first_ticket_idx), int(r.tickets), r.holder_id, str(r.player_id))
            for r in rows]


async def entries_page(
    conn: AsyncConnection, realm: Realm, raffle_id: UUID, *, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """Entries in ticket order, those starting after ticket ``after`` (``limit + 1`` rows
    for paging), with the player who holds them."""
    params: dict[str, Any] = {**realm.params, "raffle": raffle_id, "limit": limit + 1,
                              "after": after}
    where = "" if after is None else " AND e.first_ticket_idx > :after"
    rows = await conn.execute(
        text("SELECT e.first_ticket_idx, e.tickets, e.holder_id, e.player_id, e.brand_id, "
             "e.username, e.winz_debited, e.created_at FROM raffle_entries e "
             "WHERE e.tenant_id = :tenant_id AND e.mode = :mode AND e.raffle_id = :raffle"
             f"{where} ORDER BY e.first_ticket_idx LIMIT :limit"),
        params,
    )
    return [dict(r._mapping) for r in rows]


async def player_entries(
    conn: AsyncConnection, realm: Realm, raffle_id: UUID, player_id: UUID
) -> list[dict[str, Any]]:
    """One player's entries in a raffle, in ticket order."""
    rows = await conn.execute(
        text("SELECT id, holder_id, tickets, first_ticket_idx, winz_debited, created_at "
             "FROM raffle_entries WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND raffle_id = :raffle AND player_id = :player ORDER BY first_ticket_idx"),
        {**realm.params, "raffle": raffle_id, "player": player_id},
    )
    return [dict(r._mapping) for r in rows]


async def ticket_holders(
    conn: AsyncConnection, realm: Realm, raffle_id: UUID
) -> dict[str, dict[str, Any]]:
    """The players holding tickets, by id, share-locked so their status holds until commit."""
    rows = await conn.execute(
        text("SELECT id, brand_id, username, status FROM players WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id IN (SELECT player_id FROM raffle_entries "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND raffle_id = :raffle) "
             "ORDER BY id FOR SHARE"),
        {**realm.params, "raffle": raffle_id},
    )
    return {str(r.id): dict(r._mapping) for r in rows}


async def insert_draw(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> None:
    await conn.execute(
        text("INSERT INTO raffle_draws (tenant_id, mode, id, raffle_id, winner_player_id, "
             "winner_username, winning_ticket_idx, skipped_ticket_idxs, total_tickets, "
             "prize_winz, server_seed, server_seed_hash, client_seed, trigger, ledger_entry_id, "
             "drawn_at) VALUES (:tenant_id, :mode, :id, :raffle_id, :winner_player_id, "
             ":winner_username, :winning_ticket_idx, :skipped_ticket_idxs, :total_tickets, "
             ":prize_winz, :server_seed, :server_seed_hash, :client_seed, :trigger, "
             ":ledger_entry_id, :drawn_at)"),
        {**realm.params, **values},
    )


async def draws_for(
    conn: AsyncConnection, realm: Realm, raffle_ids: list[UUID]
) -> dict[UUID, dict[str, Any]]:
    """The draws of the given raffles, by raffle id."""
    if not raffle_ids:
        return {}
    rows = await conn.execute(
        text("SELECT d.*, p.brand_id AS winner_brand_id, (SELECT e.holder_id "
             "FROM raffle_entries e WHERE e.tenant_id = d.tenant_id AND e.mode = d.mode "
             "AND e.raffle_id = d.raffle_id AND e.player_id = d.winner_player_id LIMIT 1) "
             "AS winner_holder_id FROM raffle_draws d JOIN players p ON p.tenant_id = "
             "d.tenant_id AND p.mode = d.mode AND p.id = d.winner_player_id "
             "WHERE d.tenant_id = :tenant_id AND d.mode = :mode AND d.raffle_id = ANY(:ids)"),
        {**realm.params, "ids": raffle_ids},
    )
    return {r.raffle_id: dict(r._mapping) for r in rows}


async def claim_due(
    conn: AsyncConnection, now: datetime, skip: list[UUID]
) -> tuple[UUID, str, UUID] | None:
    """Lock the next active raffle (any realm) whose ``draw_at`` has come; others' claims
    are skipped, so several workers share the work."""
    row = (
        await conn.execute(
            text("SELECT tenant_id, mode, id FROM raffles WHERE status = 'active' "
                 "AND draw_at <= :now AND NOT (id = ANY(CAST(:skip AS uuid[]))) "
                 "ORDER BY draw_at LIMIT 1 FOR UPDATE SKIP LOCKED"),
            {"now": now, "skip": skip},
        )
    ).first()
    return None if row is None else (row.tenant_id, row.mode, row.id)
