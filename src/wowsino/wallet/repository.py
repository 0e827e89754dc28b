"""Wallet queries: every one takes the realm."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.canonical import canonical
from wowsino.kernel.jsonio import loads
from wowsino.kernel.pagination import BIGINT, NEWEST, Keyset
from wowsino.kernel.realm import Realm

TRANSACTIONS = Keyset(("entry_id", "account_id"), (BIGINT, BIGINT))
TABLES = {"deposit": "deposits", "withdrawal": "withdrawals"}


def _json(value: Any) -> Any:
    return loads(value) if isinstance(value, str) else value


# --- PSP configuration -----------------------------------------------------------------

async def psp_config(conn: AsyncConnection, realm: Realm, brand_id: UUID
                     ) -> dict[str, Any] | None:
    row = (await conn.execute(
        text("SELECT adapter, credentials::text AS credentials, "
             "auto_approve_below::text AS auto_approve_below, version, updated_at "
             "FROM psp_configs WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND brand_id = :brand_id"),
        {**realm.params, "brand_id": brand_id})).first()
    if row is None:
        return None
    out = dict(row._mapping)
    out["credentials"] = loads(out["credentials"])
    out["auto_approve_below"] = loads(out["auto_approve_below"])
    return out


async def put_psp_config(conn: AsyncConnection, realm: Realm, brand_id: UUID, *, adapter: str,
                         credentials: dict[str, str], auto_approve_below: dict[str, int],
                         at: datetime) -> int:
    version = await conn.scalar(
        text("INSERT INTO psp_configs AS c (tenant_id, mode, brand_id, adapter, credentials, "
             "auto_approve_below, updated_at) VALUES (:tenant_id, :mode, :brand_id, :adapter, "
             "CAST(:credentials AS jsonb), CAST(:thresholds AS jsonb), :at) "
             "ON CONFLICT (tenant_id, mode, brand_id) DO UPDATE SET adapter = excluded.adapter, "
             "credentials = excluded.credentials, "
             "auto_approve_below = excluded.auto_approve_below, version = c.version + 1, "
             "updated_at = excluded.updated_at RETURNING version"),
        {**realm.params, "brand_id": brand_id, "adapter": adapter,
         "credentials": canonical(credentials).decode(),
         "thresholds": canonical(auto_approve_below).decode(), "at": at})
    return int(version)


# --- deposits and withdrawals ------------------------------------------------------------

async def insert(conn: AsyncConnection, realm: Realm, target: str, values: dict[str, Any]
                 ) -> None:
    columns = ", ".join(values)
    placeholders = ", ".join(
        f"CAST(:{c} AS jsonb)" if c == "forfeited_bonuses" else f":{c}" for c in values)
    await conn.execute(
        text(f"INSERT INTO {TABLES[target]} (tenant_id, mode, {columns}) "
             f"VALUES (:tenant_id, :mode, {placeholders})"),
        {**realm.params, **{k: canonical(v).decode() if k == "forfeited_bonuses" else v
                            for k, v in values.items()}})


async def row(conn: AsyncConnection, realm: Realm, target: str, row_id: UUID, *,
              for_update: bool = False) -> dict[str, Any] | None:
    """One deposit or withdrawal with its player's username."""
    table = TABLES[target]
    found = (await conn.execute(
        text(f"SELECT t.*, p.username FROM {table} t JOIN players p ON p.tenant_id = "
             "t.tenant_id AND p.id = t.player_id WHERE t.tenant_id = :tenant_id "
             "AND t.mode = :mode AND t.id = :id" + (" FOR UPDATE OF t" if for_update else "")),
        {**realm.params, "id": row_id})).first()
    if found is None:
        return None
    out = dict(found._mapping)
    if "forfeited_bonuses" in out:
        out["forfeited_bonuses"] = _json(out["forfeited_bonuses"])
    return out


async def update(conn: AsyncConnection, realm: Realm, target: str, row_id: UUID,
                 values: dict[str, Any]) -> None:
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    await conn.execute(
        text(f"UPDATE {TABLES[target]} SET {assignments} WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :row_id"),
        {**realm.params, **values, "row_id": row_id})


async def record_psp_reference(conn: AsyncConnection, realm: Realm, target: str, row_id: UUID,
                               psp_reference: str, values: dict[str, Any]) -> None:
    """Record what the PSP answered to a creation: its reference (unless a callback that
    came first already set it) and ``values``."""
    assignments = "".join(f", {c} = :{c}" for c in values)
    await conn.execute(
        text(f"UPDATE {TABLES[target]} SET psp_reference = coalesce(psp_reference, "
             f":psp_reference){assignments} WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND id = :row_id"),
        {**realm.params, **values, "psp_reference": psp_reference, "row_id": row_id})


async def listing(conn: AsyncConnection, realm: Realm, target: str, *, brand_id: UUID,
                  player_id: UUID | None, status: str | None, flagged: bool | None,
                  after: tuple[Any, ...] | None, limit: int) -> list[dict[str, Any]]:
    """Newest first, within one brand (and player)."""
    clauses = ["t.tenant_id = :tenant_id", "t.mode = :mode", "t.brand_id = :brand_id"]
    params: dict[str, Any] = {**realm.params, "brand_id": brand_id, "limit": limit + 1}
    if player_id is not None:
        clauses.append("t.player_id = :player_id")
        params["player_id"] = player_id
    if status is not None:
        clauses.append("t.status = :status")
        params["status"] = status
    if flagged is not None:
        clauses.append("t.flag IS NOT NULL" if flagged else "t.flag IS NULL")
    if after is not None:
        clauses.append(NEWEST.before(after, params, alias="t"))
    rows = await conn.execute(
        text(f"SELECT t.*, p.username FROM {TABLES[target]} t JOIN players p "
             "ON p.tenant_id = t.tenant_id AND p.id = t.player_id "
             f"WHERE {' AND '.join(clauses)} ORDER BY {NEWEST.order('t')} LIMIT :limit"),
        params)
    out = []
    for r in rows:
        item = dict(r._mapping)
        if "forfeited_bonuses" in item:
            item["forfeited_bonuses"] = _json(item["forfeited_bonuses"])
        out.append(item)
    return out


async def deposits_since(conn: AsyncConnection, realm: Realm, player_id: UUID, currency: str,
                         since: datetime) -> list[tuple[datetime, int]]:
    """``(created_at, amount)`` of the player's pending and completed deposits in
    ``currency`` made after ``since``, oldest first: what deposit limits count."""
    rows = await conn.execute(
        text("SELECT created_at, amount FROM deposits WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND player_id = :player_id AND currency = :currency "
             "AND status IN ('pending', 'completed') AND created_at > :since "
             "ORDER BY created_at, id"),
        {**realm.params, "player_id": player_id, "currency": currency, "since": since})
    return [(r.created_at, int(r.amount)) for r in rows]


async def unsent_payouts(conn: AsyncConnection, approved_before: datetime, limit: int
                         ) -> list[tuple[UUID, str, UUID]]:
    """Approved withdrawals of any realm with no PSP reference yet, approved before
    ``approved_before``, oldest first: ``(tenant_id, mode, id)``."""
    rows = await conn.execute(
        text("SELECT tenant_id, mode, id FROM withdrawals WHERE status = 'approved' "
             "AND psp_reference IS NULL AND reviewed_at < :before ORDER BY reviewed_at "
             "LIMIT :limit"),
        {"before": approved_before, "limit": limit})
    return [(r.tenant_id, r.mode, r.id) for r in rows]


# --- callbacks ---------------------------------------------------------------------------

async def insert_callback(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> bool:
    """Record a callback; False when this (adapter, transaction, status) was seen before
    (waits for a concurrent first one to commit or roll back)."""
    inserted = await conn.scalar(
        text("INSERT INTO psp_callbacks (tenant_id, mode, adapter, psp_transaction_id, status, "
             "target_type, target_id, amount, currency, outcome, flag, body, received_at) "
             "VALUES (:tenant_id, :mode, :adapter, :psp_transaction_id, :status, :target_type, "
             ":target_id, :amount, :currency, :outcome, :flag, :body, :at) "
             "ON CONFLICT (tenant_id, mode, adapter, psp_transaction_id, status) DO NOTHING "
             "RETURNING 1"),
        {**realm.params, **values})
    return inserted is not None


async def callbacks_of(conn: AsyncConnection, realm: Realm, target_id: UUID
                       ) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text("SELECT psp_transaction_id, status, outcome, flag, received_at FROM psp_callbacks "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND target_id = :target_id "
             "ORDER BY id"),
        {**realm.params, "target_id": target_id})
    return [dict(r._mapping) for r in rows]


# --- the player's money movements ----------------------------------------------------------

async def transactions(conn: AsyncConnection, realm: Realm, player_id: UUID, *,
                       rails: list[str], after: tuple[Any, ...] | None, limit: int
                       ) -> list[dict[str, Any]]:
    """The postings of the player's accounts on ``rails``, newest first, each with the
    balance after it."""
    params: dict[str, Any] = {**realm.params, "key": str(player_id), "rails": rails,
                              "limit": limit + 1}
    after_clause = f" AND {TRANSACTIONS.before(after, params, alias='p')}" if after else ""
    rows = await conn.execute(
        text("SELECT p.entry_id, p.account_id, e.kind, e.ref_type, e.ref_id, e.created_at, "
             "a.rail, a.asset, p.amount, p.balance_after FROM ledger_accounts a "
             "JOIN ledger_postings p ON p.tenant_id = a.tenant_id AND p.account_id = a.id "
             "JOIN ledger_entries e ON e.tenant_id = p.tenant_id AND e.id = p.entry_id "
             "WHERE a.tenant_id = :tenant_id AND a.mode = :mode AND a.owner_type = 'player' "
             "AND a.owner_key = :key AND a.rail = ANY (CAST(:rails AS text[]))"
             f"{after_clause} ORDER BY {TRANSACTIONS.order('p')} LIMIT :limit"),
        params)
    return [dict(r._mapping) for r in rows]
