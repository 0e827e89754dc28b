"""Player queries: every one takes the realm and the brand."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.ids import parse_uuid
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.realm import Realm

COLUMNS = (
    "id, brand_id, username, email, external_ref, country_code, date_of_birth, currency, tags, "
    "status, kyc_status, kyc_level, risk_band, is_pep, is_sanctioned, rg, created_at, updated_at"
)


async def find(
    conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    """A player by UUID or username within the brand; optionally row-locked."""
    pid = parse_uuid(ref)
    row = (
        await conn.execute(
            _find_statement(by_id=pid is not None, for_update=for_update),
            {**realm.params, "brand": brand_id, "ref": pid or ref},
        )
    ).first()
    return dict(row._mapping) if row else None


@functools.cache
def _find_statement(*, by_id: bool, for_update: bool) -> TextClause:
    return text(f"SELECT {COLUMNS} FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
                "AND brand_id = :brand AND " + ("id = :ref" if by_id else "username = :ref")
                + (" FOR UPDATE" if for_update else ""))


async def upsert(
    conn: AsyncConnection, realm: Realm, brand_id: UUID, player_id: UUID, fields: dict[str, Any],
    at: datetime,
) -> tuple[dict[str, Any], bool]:
    """Insert or update on ``(realm, brand, username)``; returns the row and whether it was new.

    On update only the given fields change; currency is set once, at creation.
    """
    updatable = tuple(k for k in ("email", "external_ref", "country_code", "date_of_birth", "tags")
                      if k in fields)
    row = (
        await conn.execute(
            _upsert_statement(updatable),
            {**realm.params, "id": player_id, "brand": brand_id, "at": at,
             "username": fields["username"], "email": fields["email"],
             "external_ref": fields.get("external_ref"),
             "country_code": fields.get("country_code"),
             "date_of_birth": fields.get("date_of_birth"),
             "currency": fields["currency"], "tags": fields.get("tags") or []},
        )
    ).one()
    data = dict(row._mapping)
    return data, bool(data.pop("created"))


@functools.cache
def _upsert_statement(updatable: tuple[str, ...]) -> TextClause:
    assignments = ", ".join(f"{k} = EXCLUDED.{k}" for k in updatable)
    return text("INSERT INTO players (tenant_id, mode, id, brand_id, username, email, "
                "external_ref, country_code, date_of_birth, currency, tags, created_at, "
                "updated_at) VALUES (:tenant_id, :mode, :id, :brand, :username, :email, "
                ":external_ref, :country_code, :date_of_birth, :currency, :tags, :at, :at) "
                "ON CONFLICT (tenant_id, mode, brand_id, username) DO UPDATE SET "
                f"{assignments + ', ' if assignments else ''}updated_at = EXCLUDED.updated_at "
                f"RETURNING {COLUMNS}, (xmax = 0) AS created")


async def set_status(
    conn: AsyncConnection, realm: Realm, player_id: UUID, status: str, at: datetime
) -> None:
    await conn.execute(
        text("UPDATE players SET status = :status, updated_at = :at WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id"),
        {**realm.params, "id": player_id, "status": status, "at": at},
    )


async def set_rg(
    conn: AsyncConnection, realm: Realm, player_id: UUID, state: dict[str, Any], at: datetime
) -> None:
    await conn.execute(
        text("UPDATE players SET rg = CAST(:rg AS jsonb), updated_at = :at "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": player_id, "rg": dumps(state), "at": at},
    )


async def add_note(
    conn: AsyncConnection, realm: Realm, player_id: UUID, kind: str, body: str, actor: str,
    at: datetime,
) -> None:
    await conn.execute(
        text("INSERT INTO player_notes (tenant_id, mode, player_id, kind, body, actor, "
             "created_at) VALUES (:tenant_id, :mode, :pid, :kind, :body, :actor, :at)"),
        {**realm.params, "pid": player_id, "kind": kind, "body": body, "actor": actor, "at": at},
    )


_MARK_ACTIVE = text(
    "INSERT INTO player_activity (tenant_id, mode, month, player_id) VALUES (:tenant_id, :mode, "
    "date_trunc('month', CAST(:at AS timestamptz) AT TIME ZONE 'UTC')::date, :pid) "
    "ON CONFLICT DO NOTHING"
)


async def set_referrer(conn: AsyncConnection, realm: Realm, player_id: UUID,
                       referrer_id: UUID) -> None:
    """Set ``referred_by`` unless already set (a referral is recorded once)."""
    await conn.execute(
        text("UPDATE players SET referred_by = :referrer WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id AND referred_by IS NULL"),
        {**realm.params, "id": player_id, "referrer": referrer_id})


async def mark_active(conn: AsyncConnection, realm: Realm, player_id: UUID, at: datetime) -> None:
    """Count the player as active this month (monthly active players)."""
    await conn.execute(_MARK_ACTIVE, {**realm.params, "pid": player_id, "at": at})


async def search(
    conn: AsyncConnection, realm: Realm, brand_id: UUID, *, query: str | None,
    status: str | None, tag: str | None, after: list[Any] | None, limit: int,
) -> list[dict[str, Any]]:
    clauses = ["tenant_id = :tenant_id", "mode = :mode", "brand_id = :brand"]
    params: dict[str, Any] = {**realm.params, "brand": brand_id, "limit": limit + 1}
    if query:
        clauses.append("(username ILIKE :q OR email ILIKE :q OR external_ref ILIKE :q)")
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["q"] = f"%{escaped}%"
    if status:
        clauses.append("status = :status")
        params["status"] = status
    if tag:
        clauses.append("tags @> ARRAY[CAST(:tag AS text)]")
        params["tag"] = tag
    if after:
        clauses.append("(created_at, id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))")
        params["after_at"] = datetime.fromisoformat(after[0].replace("Z", "+00:00"))
        params["after_id"] = after[1]
    rows = await conn.execute(
        text(f"SELECT {COLUMNS} FROM players WHERE {' AND '.join(clauses)} "
             "ORDER BY created_at DESC, id DESC LIMIT :limit"),
        params,
    )
    return [dict(r._mapping) for r in rows]


async def due_rg_changes(conn: AsyncConnection, now: datetime, limit: int) -> list[Any]:
    """Players (any realm) with a pending RG change due; locked, skipping locked rows."""
    rows = await conn.execute(
        text("SELECT tenant_id, mode, id, rg, currency, username FROM players WHERE rg ? 'pending' "
             "AND EXISTS (SELECT 1 FROM jsonb_each(rg -> 'pending') p WHERE "
             "CAST(p.value ->> 'applies_at' AS timestamptz) <= :now) "
             "LIMIT :limit FOR UPDATE SKIP LOCKED"),
        {"now": now, "limit": limit},
    )
    return list(rows)
