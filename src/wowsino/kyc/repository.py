"""KYC queries: every one takes the realm."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.canonical import canonical
from wowsino.kernel.jsonio import loads
from wowsino.kernel.realm import Realm

# --- a brand's KYC vendor -----------------------------------------------------------------

async def config(conn: AsyncConnection, realm: Realm, brand_id: UUID) -> dict[str, Any] | None:
    row = (await conn.execute(
        text("SELECT adapter, credentials::text AS credentials, level, version, updated_at "
             "FROM kyc_configs WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND brand_id = :brand_id"),
        {**realm.params, "brand_id": brand_id})).first()
    if row is None:
        return None
    out = dict(row._mapping)
    out["credentials"] = loads(out["credentials"])
    return out


async def put_config(conn: AsyncConnection, realm: Realm, brand_id: UUID, *, adapter: str,
                     credentials: dict[str, str], level: int, at: datetime) -> None:
    await conn.execute(
        text("INSERT INTO kyc_configs AS c (tenant_id, mode, brand_id, adapter, credentials, "
             "level, updated_at) VALUES (:tenant_id, :mode, :brand_id, :adapter, "
             "CAST(:credentials AS jsonb), :level, :at) "
             "ON CONFLICT (tenant_id, mode, brand_id) DO UPDATE SET adapter = excluded.adapter, "
             "credentials = excluded.credentials, level = excluded.level, "
             "version = c.version + 1, updated_at = excluded.updated_at"),
        {**realm.params, "brand_id": brand_id, "adapter": adapter,
         "credentials": canonical(credentials).decode(), "level": level, "at": at})


# --- verification sessions ------------------------------------------------------------------

_SESSION = ("SELECT s.*, p.username FROM kyc_sessions s JOIN players p ON p.tenant_id = "
            "s.tenant_id AND p.id = s.player_id WHERE s.tenant_id = :tenant_id "
            "AND s.mode = :mode")


async def insert_session(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    placeholders = ", ".join(f":{c}" for c in values)
    await conn.execute(
        text(f"INSERT INTO kyc_sessions (tenant_id, mode, {columns}) "
             f"VALUES (:tenant_id, :mode, {placeholders})"),
        {**realm.params, **values})


async def session(conn: AsyncConnection, realm: Realm, session_id: UUID, *,
                  for_update: bool = False) -> dict[str, Any] | None:
    """One session with its player's username."""
    found = (await conn.execute(
        text(_SESSION + " AND s.id = :id" + (" FOR UPDATE OF s" if for_update else "")),
        {**realm.params, "id": session_id})).first()
    return None if found is None else dict(found._mapping)


async def sessions_of(conn: AsyncConnection, realm: Realm, player_id: UUID, limit: int
                      ) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(_SESSION + " AND s.player_id = :player_id ORDER BY s.created_at DESC, s.id DESC "
             "LIMIT :limit"), {**realm.params, "player_id": player_id, "limit": limit})
    return [dict(r._mapping) for r in rows]


async def update_session(conn: AsyncConnection, realm: Realm, session_id: UUID,
                         values: dict[str, Any]) -> None:
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    await conn.execute(
        text(f"UPDATE kyc_sessions SET {assignments} WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :session_id"),
        {**realm.params, **values, "session_id": session_id})


async def record_vendor_session(conn: AsyncConnection, realm: Realm, session_id: UUID, *,
                                verification_url: str, vendor_session_id: str | None,
                                at: datetime) -> None:
    """What the vendor answered to a start (a replay asking again keeps the first)."""
    await conn.execute(
        text("UPDATE kyc_sessions SET verification_url = coalesce(verification_url, :url), "
             "vendor_session_id = coalesce(vendor_session_id, :vendor_id), updated_at = :at "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :session_id"),
        {**realm.params, "session_id": session_id, "url": verification_url,
         "vendor_id": vendor_session_id, "at": at})


# --- decisions ------------------------------------------------------------------------------

async def in_force(conn: AsyncConnection, realm: Realm, player_id: UUID
                   ) -> dict[str, Any] | None:
    """The newest applied decision about the player (manual or a vendor's), by the time it
    was decided: ``{decided_at, rejection, source}``."""
    found = (await conn.execute(
        text("SELECT coalesce(decided_at, created_at) AS decided_at, rejection, source "
             "FROM kyc_decisions WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND player_id = :player_id AND outcome = 'applied' "
             "ORDER BY coalesce(decided_at, created_at) DESC LIMIT 1"),
        {**realm.params, "player_id": player_id})).first()
    return None if found is None else dict(found._mapping)


async def insert_decision(conn: AsyncConnection, realm: Realm, values: dict[str, Any]) -> bool:
    """Record a vendor's decision; False when the vendor's decision id was recorded before
    (waits for a concurrent first one to commit or roll back)."""
    columns = ", ".join(values)
    placeholders = ", ".join(f":{c}" for c in values)
    inserted = await conn.scalar(
        text(f"INSERT INTO kyc_decisions (tenant_id, mode, {columns}) VALUES (:tenant_id, "
             f":mode, {placeholders}) ON CONFLICT (tenant_id, mode, source, vendor_decision_id) "
             "WHERE vendor_decision_id IS NOT NULL DO NOTHING RETURNING 1"),
        {**realm.params, **values})
    return inserted is not None


async def decisions_of(conn: AsyncConnection, realm: Realm, player_id: UUID, limit: int
                       ) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text("SELECT id, source, status, level, reason, rejection, outcome, session_id, "
             "coalesce(decided_at, created_at) AS decided_at, created_at AS recorded_at "
             "FROM kyc_decisions WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND player_id = :player_id ORDER BY created_at DESC, id DESC LIMIT :limit"),
        {**realm.params, "player_id": player_id, "limit": limit})
    return [dict(r._mapping) for r in rows]
