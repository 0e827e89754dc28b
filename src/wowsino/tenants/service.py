"""Tenants, brands and API keys: the platform's own administration."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit, wire
from wowsino.kernel.auth import PUBLISHABLE_SCOPES, SCOPES, generate_key, hash_key, key_hint
from wowsino.kernel.errors import Conflict, NotFound, ValidationFailed
from wowsino.kernel.ids import new_id, parse_uuid
from wowsino.kernel.realm import Actor, Mode, Realm
from wowsino.tenants.schemas import SLUG_PATTERN

SLUG = re.compile(SLUG_PATTERN)
SERVICE_MODES = ("plug_in", "white_label")


def check_slug(value: Any, field: str) -> str:
    if not isinstance(value, str) or not SLUG.match(value):
        raise ValidationFailed(
            f"{field}: 1–64 lowercase letters, digits and inner hyphens", field=field
        )
    return value


@dataclass(frozen=True)
class CreatedKey:
    id: UUID
    plaintext: str
    mode: Mode
    brand_id: UUID
    scopes: list[str]
    name: str


async def create_tenant(
    conn: AsyncConnection, *, slug: str, name: str, service_mode: str, brand_slug: str,
    brand_name: str, actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Create a tenant, its first brand and one ``*`` key per mode (plaintext shown once)."""
    check_slug(slug, "slug")
    check_slug(brand_slug, "brand.slug")
    if service_mode not in SERVICE_MODES:
        raise ValidationFailed("service_mode: plug_in or white_label", field="service_mode")
    tenant_id, brand_id = new_id(), new_id()
    try:
        async with wire.savepoint(conn):
            await conn.execute(
                text("INSERT INTO tenants (id, slug, name, service_mode, created_at) "
                     "VALUES (:id, :slug, :name, :mode, :at)"),
                {"id": tenant_id, "slug": slug, "name": name, "mode": service_mode, "at": at},
            )
    except IntegrityError:
        raise Conflict(f"the tenant slug {slug!r} is taken", code="SLUG_TAKEN") from None
    await conn.execute(
        text("INSERT INTO brands (tenant_id, id, slug, name, created_at) "
             "VALUES (:t, :id, :slug, :name, :at)"),
        {"t": tenant_id, "id": brand_id, "slug": brand_slug, "name": brand_name, "at": at},
    )
    tenant = {"id": str(tenant_id), "slug": slug, "name": name, "service_mode": service_mode,
              "status": "active"}
    await audit.record(conn, realm=Realm(tenant_id, Mode.LIVE), actor=actor,
                       action="tenant.created", target_type="tenant", target_id=str(tenant_id),
                       after=tenant, at=at)
    keys = {}
    for mode in Mode:
        created = await create_key(conn, tenant_id=tenant_id, brand=str(brand_id), mode=mode,
                                   scopes=["*"], name=f"default {mode.value}", actor=actor, at=at)
        keys[mode.value] = created.plaintext
    result = {"tenant": tenant, "brand": {"id": str(brand_id), "slug": brand_slug,
                                          "name": brand_name}, "keys": keys}
    if service_mode == "white_label":
        result["publishable_keys"] = await _publishable_keys(
            conn, tenant_id=tenant_id, brand_id=brand_id, actor=actor, at=at)
    return result


async def get_tenant(conn: AsyncConnection, tenant_ref: str) -> dict[str, Any]:
    """A tenant by UUID or slug, or 404."""
    tid = parse_uuid(tenant_ref)
    row = (
        await conn.execute(
            text("SELECT id, slug, name, service_mode, status, rate_limit_burst, "
                 "rate_limit_per_second, created_at FROM tenants WHERE "
                 + ("id = :ref" if tid else "slug = :ref")),
            {"ref": tid or tenant_ref},
        )
    ).first()
    if row is None:
        raise NotFound(f"no tenant {tenant_ref!r}")
    return dict(row._mapping)


async def list_tenants(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text("SELECT id, slug, name, service_mode, status, created_at FROM tenants ORDER BY slug")
    )
    return [dict(r._mapping) for r in rows]


async def create_brand(
    conn: AsyncConnection, *, tenant_id: UUID, slug: str, name: str, actor: Actor, at: datetime
) -> dict[str, Any]:
    check_slug(slug, "slug")
    brand_id = new_id()
    try:
        async with wire.savepoint(conn):
            await conn.execute(
                text("INSERT INTO brands (tenant_id, id, slug, name, created_at) "
                     "VALUES (:t, :id, :slug, :name, :at)"),
                {"t": tenant_id, "id": brand_id, "slug": slug, "name": name, "at": at},
            )
    except IntegrityError:
        raise Conflict(f"the brand slug {slug!r} is taken", code="SLUG_TAKEN") from None
    brand: dict[str, Any] = {"id": str(brand_id), "slug": slug, "name": name}
    await audit.record(conn, realm=Realm(tenant_id, Mode.LIVE), actor=actor,
                       action="brand.created", target_type="brand", target_id=str(brand_id),
                       after=brand, at=at)
    service_mode = (await conn.execute(text("SELECT service_mode FROM tenants WHERE id = :t"),
                                       {"t": tenant_id})).scalar_one()
    if service_mode == "white_label":
        brand["publishable_keys"] = await _publishable_keys(
            conn, tenant_id=tenant_id, brand_id=brand_id, actor=actor, at=at)
    return brand


async def list_brands(conn: AsyncConnection, tenant_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text("SELECT id, slug, name, created_at FROM brands WHERE tenant_id = :t ORDER BY slug"),
        {"t": tenant_id},
    )
    return [dict(r._mapping) for r in rows]


async def update_tenant(
    conn: AsyncConnection, *, tenant_id: UUID, changes: dict[str, Any], actor: Actor, at: datetime
) -> dict[str, Any]:
    """Change status (active|suspended) and rate-limit overrides; audited."""
    before = (
        await conn.execute(
            text("SELECT status, rate_limit_burst, rate_limit_per_second FROM tenants "
                 "WHERE id = :t FOR UPDATE"),
            {"t": tenant_id},
        )
    ).first()
    if before is None:
        raise NotFound("no such tenant")
    await conn.execute(
        text("UPDATE tenants SET status = :status, rate_limit_burst = :burst, "
             "rate_limit_per_second = :rate WHERE id = :t"),
        {"t": tenant_id,
         "status": changes.get("status", before.status),
         "burst": changes.get("rate_limit_burst", before.rate_limit_burst),
         "rate": changes.get("rate_limit_per_second", before.rate_limit_per_second)},
    )
    after = {**dict(before._mapping), **changes}
    await audit.record(conn, realm=Realm(tenant_id, Mode.LIVE), actor=actor,
                       action="tenant.updated", target_type="tenant", target_id=str(tenant_id),
                       before=dict(before._mapping), after=after, at=at)
    return after


async def _brand_id(conn: AsyncConnection, tenant_id: UUID, brand: str) -> UUID:
    bid = parse_uuid(brand)
    found = await conn.scalar(
        text("SELECT id FROM brands WHERE tenant_id = :t AND "
             + ("id = :ref" if bid else "slug = :ref")),
        {"t": tenant_id, "ref": bid or brand},
    )
    if found is None:
        raise ValidationFailed(f"brand: no brand {brand!r} in this tenant", field="brand")
    return UUID(str(found))


async def create_key(
    conn: AsyncConnection, *, tenant_id: UUID, brand: str, mode: Mode, scopes: list[str],
    name: str, actor: Actor, at: datetime, publishable: bool = False,
) -> CreatedKey:
    """A secret key with ``scopes``, or a publishable one (its scopes are fixed: the
    public routes only)."""
    if publishable:
        scopes = list(PUBLISHABLE_SCOPES)
    else:
        unknown = sorted(set(scopes) - SCOPES)
        if not scopes or unknown:
            raise ValidationFailed(f"scopes: unknown scopes {unknown}" if unknown else
                                   "scopes: at least one scope", field="scopes")
    brand_id = await _brand_id(conn, tenant_id, brand)
    plaintext, key_id = generate_key(mode, publishable=publishable), new_id()
    kind = "publishable" if publishable else "secret"
    await conn.execute(
        text("INSERT INTO api_keys (tenant_id, id, brand_id, mode, key_hash, key_hint, scopes, "
             "name, kind, created_at) VALUES (:t, :id, :b, :mode, :hash, :hint, :scopes, :name, "
             ":kind, :at)"),
        {"t": tenant_id, "id": key_id, "b": brand_id, "mode": mode.value,
         "hash": hash_key(plaintext), "hint": key_hint(plaintext), "scopes": sorted(scopes),
         "name": name, "kind": kind, "at": at},
    )
    await audit.record(conn, realm=Realm(tenant_id, mode), actor=actor, action="api_key.created",
                       target_type="api_key", target_id=str(key_id),
                       after={"name": name, "scopes": sorted(scopes), "brand_id": str(brand_id),
                              "hint": key_hint(plaintext), "kind": kind}, at=at)
    return CreatedKey(key_id, plaintext, mode, brand_id, sorted(scopes), name)


async def _publishable_keys(conn: AsyncConnection, *, tenant_id: UUID, brand_id: UUID,
                            actor: Actor, at: datetime) -> dict[str, str]:
    """A white-label brand's publishable keys, one per mode (plaintext shown once)."""
    keys = {}
    for mode in Mode:
        created = await create_key(conn, tenant_id=tenant_id, brand=str(brand_id), mode=mode,
                                   scopes=[], name=f"publishable {mode.value}", actor=actor,
                                   at=at, publishable=True)
        keys[mode.value] = created.plaintext
    return keys


async def list_keys(conn: AsyncConnection, tenant_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text("SELECT k.id, k.name, k.mode, k.kind, k.scopes, k.key_hint AS hint, b.slug AS brand, "
             "k.created_at, k.revoked_at FROM api_keys k JOIN brands b ON b.tenant_id = "
             "k.tenant_id AND b.id = k.brand_id WHERE k.tenant_id = :t ORDER BY k.created_at"),
        {"t": tenant_id},
    )
    return [dict(r._mapping) for r in rows]


async def revoke_key(
    conn: AsyncConnection, *, tenant_id: UUID, key_id: UUID, actor: Actor, at: datetime
) -> dict[str, Any]:
    row = (
        await conn.execute(
            text("UPDATE api_keys SET revoked_at = coalesce(revoked_at, :at) WHERE tenant_id = :t "
                 "AND id = :id RETURNING id, mode, revoked_at"),
            {"t": tenant_id, "id": key_id, "at": at},
        )
    ).first()
    if row is None:
        raise NotFound("no such API key")
    if row.revoked_at != at:  # already revoked: nothing changed, nothing to audit
        return {"id": str(row.id), "revoked_at": row.revoked_at}
    await audit.record(conn, realm=Realm(tenant_id, Mode(row.mode)), actor=actor,
                       action="api_key.revoked", target_type="api_key", target_id=str(key_id),
                       at=at)
    return {"id": str(row.id), "revoked_at": row.revoked_at}
