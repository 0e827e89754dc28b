"""Console pages for tenants: the list, creation, brands, API keys, suspension."""

from __future__ import annotations

import hmac
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from wowsino.console.auth import (
    checked_form,
    forget_shown_once,
    principal_of,
    show_once,
    shown_once_value,
)
from wowsino.console.operator_pages import shown_invitation
from wowsino.console.permissions import permission
from wowsino.console.views import ConsoleRoute, platform_of, render, see_other
from wowsino.kernel.auth import SCOPES, hash_key
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import DomainError, NotFound, ValidationFailed
from wowsino.kernel.ids import parse_uuid
from wowsino.kernel.realm import ADMIN, Mode
from wowsino.operators import service as operators
from wowsino.tenants import service

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

SCOPE_CHOICES = sorted(SCOPES - {"*"})
TENANT_FIELDS = ("slug", "name", "service_mode", "brand_slug", "brand_name")


async def _tenants_page(request: Request, *, status: int = 200, error: str | None = None,
                        form: dict[str, str] | None = None) -> Response:
    async with read_only(platform_of(request).engine) as conn:
        tenants = await service.list_tenants(conn)
    return render(request, "tenants.html", status_code=status, tenants=tenants, error=error,
                  form=form or {"service_mode": "plug_in", "brand_slug": "main",
                                "brand_name": "Main"},
                  service_modes=service.SERVICE_MODES)


@router.get("/tenants")
@permission("tenants.view")
async def list_tenants(request: Request) -> Response:
    return await _tenants_page(request)


@router.post("/tenants")
@permission("tenants.create")
async def create_tenant(request: Request) -> Response:
    _, form = await checked_form(request)
    p = platform_of(request)
    fields = {name: form.get(name) for name in TENANT_FIELDS}
    try:
        for name, value in fields.items():
            if len(value) > 200:
                raise ValidationFailed(f"{name}: at most 200 characters", field=name)
        if not fields["name"] or not fields["brand_name"]:
            raise ValidationFailed("name: the tenant and its brand need a name", field="name")
        created = await p.change_tenancy(lambda conn: service.create_tenant(
            conn, slug=fields["slug"], name=fields["name"], service_mode=fields["service_mode"],
            brand_slug=fields["brand_slug"], brand_name=fields["brand_name"], actor=ADMIN,
            at=p.clock.now()))
    except DomainError as exc:
        return await _tenants_page(request, status=exc.status, error=exc.message, form=fields)
    return render(request, "tenant_created.html", status_code=201, created=created)


async def _tenant_page(request: Request, ref: str, *, status: int = 200,
                       error: str | None = None,
                       created_key: service.CreatedKey | None = None) -> Response:
    principal = principal_of(request)
    owners: list[dict[str, object]] = []
    link = None
    async with read_only(platform_of(request).engine) as conn:
        tenant = await service.get_tenant(conn, ref)
        brands = [b for b in await service.list_brands(conn, tenant["id"])
                  if principal.sees_brand(b["id"])]
        keys = (await service.list_keys(conn, tenant["id"])
                if principal.may("keys.manage") else [])
        created_key = created_key or await _shown_key(conn, request, tenant["id"], keys)
        if principal.may("tenants.invite_owner"):
            owners = [o for o in await operators.list_operators(conn, tenant["id"])
                      if o["role"] == "owner"]
            for owner in owners:
                link = link or await shown_invitation(conn, request, owner["id"])
    response = render(request, "tenant.html", status_code=status, tenant=tenant, brands=brands,
                      keys=keys, error=error, created_key=created_key,
                      scope_choices=SCOPE_CHOICES, modes=[m.value for m in Mode],
                      owners=owners, invitation_link=link)
    return forget_shown_once(request, response)


@router.get("/tenants/{ref}")
@permission("tenant.view")
async def show_tenant(ref: str, request: Request) -> Response:
    return await _tenant_page(request, ref)


@router.post("/tenants/{ref}/owner")
@permission("tenants.invite_owner")
async def invite_owner(ref: str, request: Request) -> Response:
    _, form = await checked_form(request)
    p = platform_of(request)
    email = form.get("email", limit=400)
    async with read_only(p.engine) as conn:
        tenant = await service.get_tenant(conn, ref)
    try:
        at = p.clock.now()
        invitation = await unit_of_work(p.engine, lambda conn: operators.invite(
            conn, tenant_id=tenant["id"], email=email, role="owner", actor=ADMIN,
            actor_role=None, at=at))
    except DomainError as exc:
        return await _tenant_page(request, ref, status=exc.status, error=exc.message)
    response = see_other(f"/admin/tenants/{tenant['slug']}")
    show_once(response, request, f"{invitation.operator_id}.{invitation.token}")
    return response


@router.post("/tenants/{ref}/status")
@permission("tenants.suspend")
async def change_tenant_status(ref: str, request: Request) -> Response:
    _, form = await checked_form(request)
    status = form.get("status", limit=20)
    if status not in ("active", "suspended"):
        raise ValidationFailed("status: active or suspended", field="status")
    p = platform_of(request)
    async with read_only(p.engine) as conn:
        tenant = await service.get_tenant(conn, ref)
    await p.change_tenancy(lambda conn: service.update_tenant(
        conn, tenant_id=tenant["id"], changes={"status": status}, actor=ADMIN, at=p.clock.now()))
    return see_other(f"/admin/tenants/{tenant['slug']}",
                     "tenant-suspended" if status == "suspended" else "tenant-active")


@router.post("/tenants/{ref}/brands")
@permission("brands.manage")
async def create_brand(ref: str, request: Request) -> Response:
    _, form = await checked_form(request)
    p, actor = platform_of(request), principal_of(request).actor
    async with read_only(p.engine) as conn:
        tenant = await service.get_tenant(conn, ref)
    try:
        slug, name = form.get("slug", limit=64), form.get("name", limit=200)
        if not name:
            raise ValidationFailed("name: a brand needs a name", field="name")
        await p.change_tenancy(lambda conn: service.create_brand(
            conn, tenant_id=tenant["id"], slug=slug, name=name, actor=actor, at=p.clock.now()))
    except DomainError as exc:
        return await _tenant_page(request, ref, status=exc.status, error=exc.message)
    return see_other(f"/admin/tenants/{tenant['slug']}", "brand-created")


@router.post("/tenants/{ref}/api-keys")
@permission("keys.manage")
async def create_key(ref: str, request: Request) -> Response:
    _, form = await checked_form(request)
    p, actor = platform_of(request), principal_of(request).actor
    async with read_only(p.engine) as conn:
        tenant = await service.get_tenant(conn, ref)
    try:
        mode = Mode(form.get("mode", limit=10))
    except ValueError:
        return await _tenant_page(request, ref, status=400, error="mode: live or test")
    try:
        name = form.get("name", limit=200) or f"{mode.value} key"
        created = await p.change_tenancy(lambda conn: service.create_key(
            conn, tenant_id=tenant["id"], brand=form.get("brand", limit=64), mode=mode,
            scopes=form.all("scope")[:100] or ["*"], name=name, actor=actor, at=p.clock.now()))
    except DomainError as exc:
        return await _tenant_page(request, ref, status=exc.status, error=exc.message)
    response = see_other(f"/admin/tenants/{tenant['slug']}", "key-created")
    show_once(response, request, f"{KEY_SHOWN}{created.id}.{created.plaintext}")
    return response


KEY_SHOWN = "key:"  # what show_once carries for a new key: key:<id>.<secret>


async def _shown_key(conn: Any, request: Request, tenant_id: UUID,
                     keys: list[dict[str, Any]]) -> service.CreatedKey | None:
    """The key a redirect after its creation carries to this page, if it is one of the
    tenant's keys and the secret is its secret (the page then has the browser forget it)."""
    carried = shown_once_value(request)
    if not carried.startswith(KEY_SHOWN):
        return None
    key_id, _, plaintext = carried[len(KEY_SHOWN):].partition(".")
    row = next((k for k in keys if str(k["id"]) == key_id), None)
    if row is None or not plaintext:
        return None
    stored = await conn.scalar(text("SELECT key_hash FROM api_keys WHERE tenant_id = :t "
                                    "AND id = :id"), {"t": tenant_id, "id": row["id"]})
    if stored is None or not hmac.compare_digest(bytes(stored), hash_key(plaintext)):
        return None
    return service.CreatedKey(row["id"], plaintext, Mode(row["mode"]), row["brand"],
                              list(row["scopes"]), row["name"])


@router.get("/tenants/{ref}/api-keys/{key_id}/revoke")
@permission("keys.manage")
async def confirm_revoke(ref: str, key_id: str, request: Request) -> Response:
    async with read_only(platform_of(request).engine) as conn:
        tenant = await service.get_tenant(conn, ref)
        keys = await service.list_keys(conn, tenant["id"])
    key = next((k for k in keys if str(k["id"]) == key_id[:64]), None)
    if key is None:
        raise NotFound("no such API key")
    return render(request, "key_revoke.html", tenant=tenant, key=key)


@router.post("/tenants/{ref}/api-keys/{key_id}/revoke")
@permission("keys.manage")
async def revoke_key(ref: str, key_id: str, request: Request) -> Response:
    await checked_form(request)
    p, actor = platform_of(request), principal_of(request).actor
    async with read_only(p.engine) as conn:
        tenant = await service.get_tenant(conn, ref)
    kid: UUID | None = parse_uuid(key_id)
    if kid is None:
        raise NotFound("no such API key")
    await p.change_tenancy(lambda conn: service.revoke_key(
        conn, tenant_id=tenant["id"], key_id=kid, actor=actor, at=p.clock.now()))
    return see_other(f"/admin/tenants/{tenant['slug']}", "key-revoked")
