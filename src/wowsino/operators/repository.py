"""Queries for operators and their tenant's console policy; no rules here."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_NAMES = (
    "tenant_id", "id", "email", "email_key", "display_name", "role", "brand_ids", "status",
    "password_hash", "invitation_expires_at", "totp_secret", "totp_pending_secret",
    "totp_last_step", "failed_sign_ins", "locked_until", "invited_by", "created_at",
    "updated_at", "last_sign_in_at", "password_changed_at",
)


def _columns(prefix: str = "") -> str:
    return (", ".join(prefix + name for name in _NAMES)
            + f", cardinality({prefix}recovery_codes) AS recovery_codes_left")


COLUMNS = _columns()


def _row(row: Any) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


async def get(conn: AsyncConnection, tenant_id: UUID, operator_id: UUID, *,
              lock: bool = False) -> dict[str, Any] | None:
    row = (await conn.execute(
        text(f"SELECT {COLUMNS} FROM operators WHERE tenant_id = :t AND id = :id"
             + (" FOR UPDATE" if lock else "")),
        {"t": tenant_id, "id": operator_id})).first()
    return _row(row)


async def by_email(conn: AsyncConnection, email_key: str, tenant_slug: str | None, *,
                   limit: int) -> list[dict[str, Any]]:
    """Operators with this email (in the tenant named, if any), locked for the sign-in."""
    rows = await conn.execute(
        text(f"SELECT {_columns('o.')} FROM operators o JOIN tenants t ON t.id = o.tenant_id "
             "WHERE o.email_key = :e AND (CAST(:slug AS text) IS NULL OR t.slug = :slug) "
             "ORDER BY o.tenant_id, o.id LIMIT :limit FOR UPDATE OF o"),
        {"e": email_key, "slug": tenant_slug, "limit": limit})
    return [dict(r._mapping) for r in rows]


async def by_invitation(conn: AsyncConnection, token_hash: bytes, *,
                        lock: bool = False) -> dict[str, Any] | None:
    row = (await conn.execute(
        text(f"SELECT {COLUMNS} FROM operators WHERE invitation_hash = :h"
             + (" FOR UPDATE" if lock else "")),
        {"h": token_hash})).first()
    return _row(row)


async def list_for_tenant(conn: AsyncConnection, tenant_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(f"SELECT {COLUMNS} FROM operators WHERE tenant_id = :t ORDER BY email_key"),
        {"t": tenant_id})
    return [dict(r._mapping) for r in rows]


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(
        text("INSERT INTO operators (tenant_id, id, email, email_key, display_name, role, "
             "brand_ids, status, password_hash, password_changed_at, invitation_hash, "
             "invitation_expires_at, invited_by, created_at, updated_at) VALUES (:tenant_id, "
             ":id, :email, :email_key, :display_name, :role, :brand_ids, :status, "
             ":password_hash, :password_changed_at, :invitation_hash, :invitation_expires_at, "
             ":invited_by, :at, :at)"),
        values)


async def update(conn: AsyncConnection, tenant_id: UUID, operator_id: UUID, at: datetime,
                 **changes: Any) -> None:
    """Set ``changes`` (column names, trusted) on the operator."""
    assignments = ", ".join(f"{name} = :{name}" for name in changes)
    await conn.execute(
        text(f"UPDATE operators SET {assignments}, updated_at = :at "
             "WHERE tenant_id = :t AND id = :id"),
        {**changes, "t": tenant_id, "id": operator_id, "at": at})


async def use_recovery_code(conn: AsyncConnection, tenant_id: UUID, operator_id: UUID,
                            code_hash: bytes, at: datetime) -> bool:
    """Remove ``code_hash`` from the operator's recovery codes; whether it was there."""
    result = await conn.execute(
        text("UPDATE operators SET recovery_codes = array_remove(recovery_codes, :h), "
             "updated_at = :at WHERE tenant_id = :t AND id = :id AND :h = ANY(recovery_codes)"),
        {"h": code_hash, "t": tenant_id, "id": operator_id, "at": at})
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def count_active_owners(conn: AsyncConnection, tenant_id: UUID) -> int:
    return int(await conn.scalar(
        text("SELECT count(*) FROM operators WHERE tenant_id = :t AND role = 'owner' "
             "AND status <> 'disabled'"), {"t": tenant_id}) or 0)


async def policy(conn: AsyncConnection, tenant_id: UUID) -> dict[str, Any]:
    row = (await conn.execute(
        text("SELECT require_2fa, updated_at FROM operator_policies WHERE tenant_id = :t"),
        {"t": tenant_id})).first()
    return {"require_2fa": False, "updated_at": None} if row is None else dict(row._mapping)


async def set_policy(conn: AsyncConnection, tenant_id: UUID, require_2fa: bool,
                     at: datetime) -> None:
    await conn.execute(
        text("INSERT INTO operator_policies (tenant_id, require_2fa, updated_at) "
             "VALUES (:t, :r, :at) ON CONFLICT (tenant_id) DO UPDATE "
             "SET require_2fa = EXCLUDED.require_2fa, updated_at = EXCLUDED.updated_at"),
        {"t": tenant_id, "r": require_2fa, "at": at})
