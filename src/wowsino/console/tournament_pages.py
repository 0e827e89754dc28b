"""Tournaments in the console: the list, a tournament's leaderboard (paged) and prize
table, **Close** (a confirmation page, then the engine's own close, which pays the prize
table as the API's close does) and, once closed, each rank's payout."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from wowsino.console.auth import checked_form, principal_of
from wowsino.console.engine_pages import PAGE_SIZE, base_path, tenant_realm
from wowsino.console.permissions import permission
from wowsino.console.views import ConsoleRoute, platform_of, render, see_other
from wowsino.engines.tournaments import config, leaderboard, repository, service, views
from wowsino.kernel.db import read_only, unit_of_work

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

BOARD_PAGE = 50


def _unit(tournament: dict[str, Any]) -> str:
    """What a score is counted in: the currency of a money scoring, else nothing."""
    return tournament["currency"] if tournament["scoring"] in config.MONEY_SCORINGS else ""


@router.get("/tenants/{ref}/{mode}/engines/tournaments")
@permission("engines.view")
async def list_tournaments(ref: str, mode: str, request: Request,
                           cursor: str | None = None) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        page = await service.listing(conn, realm, status=None, limit=PAGE_SIZE, cursor=cursor,
                                     at=platform.clock.now())
    return render(request, "tournaments.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", tournaments=page["data"],
                  next_cursor=page["next_cursor"], paged=bool(cursor),
                  base=base_path(tenant, realm))


@router.get("/tenants/{ref}/{mode}/engines/tournaments/{tournament_id}")
@permission("engines.view")
async def show_tournament(ref: str, mode: str, tournament_id: str, request: Request,
                          cursor: str | None = None) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        row = await repository.load(conn, realm, tournament_id)  # 404 NO_TOURNAMENT
        rows = (await leaderboard.after(conn, realm, row["id"], leaderboard.read_cursor(cursor),
                                        BOARD_PAGE + 1) if cursor
                else await leaderboard.top(conn, realm, row["id"], BOARD_PAGE + 1))
        paid = await repository.payouts(conn, realm, row["id"])
    more = len(rows) > BOARD_PAGE
    rows = rows[:BOARD_PAGE]
    return render(request, "tournament.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", tournament=views.tournament(row, platform.clock.now()),
                  unit=_unit(row), board=[views.standing(r, row, None) for r in rows],
                  payouts=[views.payout(r, row) for r in paid],
                  next_cursor=leaderboard.cursor_of(rows[-1]) if more and rows else None,
                  paged=bool(cursor), base=base_path(tenant, realm))


@router.get("/tenants/{ref}/{mode}/engines/tournaments/{tournament_id}/close")
@permission("engines.manage")
async def confirm_close(ref: str, mode: str, tournament_id: str, request: Request) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        shown = (await service.get_one(conn, realm, tournament_id,
                                       platform.clock.now()))["tournament"]
    return render(request, "tournament_close.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", tournament=shown, base=base_path(tenant, realm))


@router.post("/tenants/{ref}/{mode}/engines/tournaments/{tournament_id}/close")
@permission("engines.manage")
async def close_tournament(ref: str, mode: str, tournament_id: str,
                           request: Request) -> Response:
    """Close now through the engine's own close (as ``POST /v1/tournaments/<id>/close``):
    the prize table is paid as the tenant's service mode pays it."""
    await checked_form(request)
    tenant, realm = await tenant_realm(request, ref, mode)
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        row = await repository.load(conn, realm, tournament_id)  # 404 NO_TOURNAMENT
    await unit_of_work(platform.engine, lambda conn: service.close(
        conn, realm=realm, service_mode=tenant["service_mode"], ref=str(row["id"]),
        trigger="manual", actor=principal_of(request).actor, at=platform.clock.now()))
    return see_other(f"{base_path(tenant, realm)}/tournaments/{row['id']}", "tournament-closed")
