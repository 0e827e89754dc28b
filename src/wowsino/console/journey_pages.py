"""Journeys and the VIP ladder in the console, read-only: each journey's trigger, steps,
reward and how many players are on it; the VIP programme's levels with the players on
each (the engines' own views, as the API shows them)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from wowsino.console.engine_pages import PAGE_SIZE, base_path, tenant_realm
from wowsino.console.permissions import permission
from wowsino.console.views import ConsoleRoute, platform_of, render
from wowsino.engines.journeys import repository as journeys_repository
from wowsino.engines.journeys import service as journeys
from wowsino.kernel.db import read_only
from wowsino.vip import repository as vip_repository
from wowsino.vip import service as vip

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/tenants/{ref}/{mode}/engines/journeys")
@permission("engines.view")
async def list_journeys(ref: str, mode: str, request: Request,
                        cursor: str | None = None) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    async with read_only(platform_of(request).engine) as conn:
        page = await journeys.listing(conn, realm, status=None, limit=PAGE_SIZE, cursor=cursor)
        counts = await journeys_repository.run_counts(
            conn, realm, [UUID(j["id"]) for j in page["data"]])
    return render(request, "journeys.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", journeys=page["data"],
                  counts={str(k): v for k, v in counts.items()},
                  next_cursor=page["next_cursor"], paged=bool(cursor),
                  base=base_path(tenant, realm))


@router.get("/tenants/{ref}/{mode}/engines/journeys/{journey_id}")
@permission("engines.view")
async def show_journey(ref: str, mode: str, journey_id: str, request: Request) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    async with read_only(platform_of(request).engine) as conn:
        journey = (await journeys.get_one(conn, realm, journey_id))["journey"]  # 404
        counts = await journeys_repository.run_counts(conn, realm, [UUID(journey["id"])])
    return render(request, "journey.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", journey=journey,
                  counts=counts.get(UUID(journey["id"]), {}),
                  base=base_path(tenant, realm))


@router.get("/tenants/{ref}/{mode}/engines/vip")
@permission("engines.view")
async def show_vip(ref: str, mode: str, request: Request) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    async with read_only(platform_of(request).engine) as conn:
        shown = await vip.show(conn, realm)
        per_level = await vip_repository.players_per_level(conn, realm)
    return render(request, "vip.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", programme=shown["vip"],
                  disallowed=shown["disallowed_brands"], per_level=per_level,
                  base=base_path(tenant, realm))
