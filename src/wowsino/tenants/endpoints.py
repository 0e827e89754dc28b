"""``/tenants``: platform administration, authorised by the admin token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.auth import check_admin_token
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.realm import ADMIN, Mode
from wowsino.kernel.writes import platform_of
from wowsino.tenants import service
from wowsino.tenants.schemas import BrandIn, KeyIn, TenantIn, TenantPatch

T = TypeVar("T")

router = APIRouter(
    prefix="/tenants", tags=["platform admin"], route_class=DecimalRoute,
    dependencies=[Depends(check_admin_token)],
)


async def _write(request: Request, tenant: str,
                 call: Callable[[AsyncConnection, UUID, datetime], Awaitable[T]]) -> tuple[UUID, T]:
    """Resolve the tenant (id or slug) and change it in one transaction."""
    p = platform_of(request)

    async def work(conn: AsyncConnection) -> tuple[UUID, T]:
        tid = UUID(str((await service.get_tenant(conn, tenant))["id"]))
        return tid, await call(conn, tid, p.clock.now())

    return await p.change_tenancy(work)


async def _read(request: Request, tenant: str,
                call: Callable[[AsyncConnection, UUID], Awaitable[T]]) -> T:
    async with read_only(platform_of(request).engine) as conn:
        return await call(conn, UUID(str((await service.get_tenant(conn, tenant))["id"])))


@router.post("", status_code=201, summary="Create a tenant with a brand and a live and test key")
async def create_tenant(body: TenantIn, request: Request) -> MoneyJSONResponse:
    p = platform_of(request)
    result = await unit_of_work(p.engine, lambda conn: service.create_tenant(
        conn, slug=body.slug, name=body.name, service_mode=body.service_mode,
        brand_slug=body.brand.slug, brand_name=body.brand.name, actor=ADMIN, at=p.clock.now()))
    return MoneyJSONResponse(result, status_code=201)


@router.get("", summary="List tenants")
async def list_tenants(request: Request) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse({"data": await service.list_tenants(conn), "next_cursor": None})


@router.get("/{tenant}", summary="A tenant by id or slug")
async def get_tenant(tenant: str, request: Request) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        found = await service.get_tenant(conn, tenant)
        found["brands"] = await service.list_brands(conn, found["id"])
    return MoneyJSONResponse({"tenant": found})


@router.patch("/{tenant}", summary="Suspend or reactivate a tenant; rate-limit overrides")
async def update_tenant(tenant: str, body: TenantPatch, request: Request) -> MoneyJSONResponse:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    tid, after = await _write(request, tenant, lambda conn, tid, at: service.update_tenant(
        conn, tenant_id=tid, changes=changes, actor=ADMIN, at=at))
    return MoneyJSONResponse({"tenant": {"id": str(tid), **after}})


@router.post("/{tenant}/brands", status_code=201, summary="Add a brand")
async def create_brand(tenant: str, body: BrandIn, request: Request) -> MoneyJSONResponse:
    _, brand = await _write(request, tenant, lambda conn, tid, at: service.create_brand(
        conn, tenant_id=tid, slug=body.slug, name=body.name, actor=ADMIN, at=at))
    return MoneyJSONResponse({"brand": brand}, status_code=201)


@router.get("/{tenant}/brands", summary="List a tenant's brands")
async def list_brands(tenant: str, request: Request) -> MoneyJSONResponse:
    brands = await _read(request, tenant, service.list_brands)
    return MoneyJSONResponse({"data": brands, "next_cursor": None})


@router.post("/{tenant}/api-keys", status_code=201, summary="Create an API key (shown once)")
async def create_key(tenant: str, body: KeyIn, request: Request) -> MoneyJSONResponse:
    _, created = await _write(request, tenant, lambda conn, tid, at: service.create_key(
        conn, tenant_id=tid, brand=body.brand, mode=Mode(body.mode), scopes=body.scopes,
        name=body.name, actor=ADMIN, at=at))
    return MoneyJSONResponse(
        {"api_key": {"id": str(created.id), "key": created.plaintext, "mode": created.mode.value,
                     "brand_id": str(created.brand_id), "scopes": created.scopes,
                     "name": created.name}},
        status_code=201,
    )


@router.get("/{tenant}/api-keys", summary="List API keys (never the secret)")
async def list_keys(tenant: str, request: Request) -> MoneyJSONResponse:
    keys = await _read(request, tenant, service.list_keys)
    return MoneyJSONResponse({"data": keys, "next_cursor": None})


@router.post("/{tenant}/api-keys/{key_id}/revoke", summary="Revoke a key (401 from the next request)")
async def revoke_key(tenant: str, key_id: UUID, request: Request) -> MoneyJSONResponse:
    _, result = await _write(request, tenant, lambda conn, tid, at: service.revoke_key(
        conn, tenant_id=tid, key_id=key_id, actor=ADMIN, at=at))
    return MoneyJSONResponse({"api_key": result})
