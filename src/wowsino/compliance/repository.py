"""Jurisdiction queries: every one takes the realm."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.canonical import canonical
from wowsino.kernel.jsonio import loads
from wowsino.kernel.realm import Realm


async def brand(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any] | None:
    row = (await conn.execute(
        text("SELECT id, slug FROM brands WHERE tenant_id = :tenant_id AND slug = :slug"),
        {**realm.params, "slug": slug})).first()
    return None if row is None else dict(row._mapping)


async def profiles(conn: AsyncConnection, realm: Realm,
                   brand_ids: list[UUID] | None = None) -> list[dict[str, Any]]:
    """Stored profiles (all brands of the realm, or the ones named) with brand slugs."""
    rows = await conn.execute(
        text("SELECT b.id AS brand_id, b.slug, p.profile, p.overrides::text AS overrides, "
             "p.version, p.updated_at FROM brands b LEFT JOIN jurisdiction_profiles p "
             "ON p.tenant_id = b.tenant_id AND p.brand_id = b.id AND p.mode = :mode "
             "WHERE b.tenant_id = :tenant_id AND (CAST(:ids AS uuid[]) IS NULL "
             "OR b.id = ANY (CAST(:ids AS uuid[]))) ORDER BY b.slug"),
        {**realm.params, "ids": brand_ids})
    out = []
    for r in rows:
        row = dict(r._mapping)
        row["overrides"] = loads(row["overrides"]) if row["overrides"] else {}
        out.append(row)
    return out


async def put(conn: AsyncConnection, realm: Realm, brand_id: UUID, profile: str,
              overrides: dict[str, Any], at: datetime) -> int:
    version = await conn.scalar(
        text("INSERT INTO jurisdiction_profiles AS p (tenant_id, mode, brand_id, profile, "
             "overrides, updated_at) VALUES (:tenant_id, :mode, :brand_id, :profile, "
             "CAST(:overrides AS jsonb), :at) ON CONFLICT (tenant_id, mode, brand_id) DO UPDATE "
             "SET profile = excluded.profile, overrides = excluded.overrides, "
             "version = p.version + 1, updated_at = excluded.updated_at RETURNING version"),
        {**realm.params, "brand_id": brand_id, "profile": profile,
         "overrides": canonical(overrides).decode(), "at": at})
    return int(version)
