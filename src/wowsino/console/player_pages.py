"""Console pages for players of one realm: search, and the player's dossier."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.console.auth import Principal, principal_of
from wowsino.console.permissions import permission
from wowsino.console.views import ConsoleRoute, parse_mode, platform_of, render
from wowsino.engines.journeys import service as journeys
from wowsino.kernel.db import read_only
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import ASSETS, Rail, check_rail_asset, from_minor
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm
from wowsino.players import approvals, explain, history, repository, rg, service
from wowsino.players.schemas import STATUSES
from wowsino.tenants import service as tenants

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 25
HISTORY_SIZE = 20


async def realm_of(conn: AsyncConnection, tenant_ref: str,
                   mode_name: str) -> tuple[dict[str, Any], Realm]:
    """The tenant named in the URL and the realm of the URL's mode (404 for either)."""
    mode = parse_mode(mode_name)
    tenant = await tenants.get_tenant(conn, tenant_ref)
    return tenant, Realm(UUID(str(tenant["id"])), mode)


def visible_brands(principal: Principal, brands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The brands whose players ``principal`` sees (an operator limited to some brands
    sees only those)."""
    return [b for b in brands if principal.sees_brand(b["id"])]


def choose_brand(brands: list[dict[str, Any]], slug: str | None) -> dict[str, Any]:
    """The brand named ``slug`` (the first when none is named), or 404."""
    if not brands:
        raise NotFound("this tenant has no brand")
    if not slug:
        return brands[0]
    for brand in brands:
        if brand["slug"] == slug:
            return brand
    raise NotFound(f"no brand {slug!r} in this tenant")


@router.get("/tenants/{ref}/{mode}/players")
@permission("players.view")
async def list_players(
    ref: str, mode: str, request: Request, brand: str | None = None, query: str | None = None,
    status: str | None = None, cursor: str | None = None,
) -> Response:
    p, principal = platform_of(request), principal_of(request)
    for name, value, limit in (("query", query, 200), ("brand", brand, 64)):
        if value and len(value) > limit:
            raise ValidationFailed(f"{name}: at most {limit} characters", field=name)
    if status and status not in STATUSES:
        raise ValidationFailed(f"status: one of {', '.join(STATUSES)}", field="status")
    async with read_only(p.engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
        brands = visible_brands(principal, await tenants.list_brands(conn, realm.tenant_id))
        chosen = choose_brand(brands, brand)
        rows = await repository.search(
            conn, realm, chosen["id"], query=query or None, status=status or None, tag=None,
            after=NEWEST.decode(cursor), limit=PAGE_SIZE)
        result = NEWEST.page(rows, PAGE_SIZE)
        players = await service.dossiers(conn, realm, result["data"], p.clock.now())
    filters = {"brand": chosen["slug"], "query": query or "", "status": status or ""}
    return render(request, "players.html", tenant=tenant, mode=realm.mode.value,
                  section="players", brands=brands, brand=chosen, players=players,
                  filters=filters, statuses=STATUSES, next_cursor=result["next_cursor"],
                  paged=bool(cursor))


@router.get("/tenants/{ref}/{mode}/players/{brand}/{player}")
@permission("players.view")
async def show_player(
    ref: str, mode: str, brand: str, player: str, request: Request,
    ledger_cursor: str | None = None, timeline_cursor: str | None = None,
) -> Response:
    p, principal = platform_of(request), principal_of(request)
    now = p.clock.now()
    async with read_only(p.engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
        chosen = choose_brand(visible_brands(principal, await tenants.list_brands(
            conn, realm.tenant_id)), brand)
        row = await service.get(conn, realm, chosen["id"], player)
        dossier = await service.dossier(conn, realm, row, now)
        ledger = await history.ledger_view(conn, realm, row["id"], limit=HISTORY_SIZE,
                                           cursor=ledger_cursor)
        proofs = await explain.verify_links(
            conn, realm, [(p["ref_type"], p["ref_id"]) for p in ledger["data"]])
        for posting in ledger["data"]:
            posting["verify_url"] = proofs.get((posting["ref_type"], posting["ref_id"]))
        timeline = await history.timeline(conn, realm, row["id"], limit=HISTORY_SIZE,
                                          cursor=timeline_cursor)
        waiting = await approvals.pending(conn, realm, player_id=row["id"])
        runs = await journeys.player_runs(conn, realm=realm, brand_id=chosen["id"],
                                          ref=str(row["id"]), limit=HISTORY_SIZE,
                                          cursor=None, now=now)
        approval_above = await approvals.thresholds(conn, realm.tenant_id)
    limits = [(name, dossier["rg"][name]) for name in rg.LIMITS]
    return render(request, "player.html", tenant=tenant, mode=realm.mode.value,
                  section="players", brand=chosen, player=dossier, limits=limits,
                  form_key=f"console_{new_id().hex}",
                  money_limits=rg.MONEY_LIMITS, pending=dossier["rg"]["pending"],
                  ledger=ledger, timeline=timeline, ledger_cursor=ledger_cursor,
                  timeline_cursor=timeline_cursor, currency=ASSETS[dossier["currency"]],
                  statuses=STATUSES, waiting=waiting, journeys=runs["data"],
                  approval_above={code: from_minor(v, ASSETS[code])
                                  for code, v in approval_above.items() if code in ASSETS},
                  actor_label=principal.actor.label)


EXPLAIN_PAGE = 50


@router.get("/tenants/{ref}/{mode}/players/{brand}/{player}/balances/{rail}/{asset}")
@permission("players.view")
async def explain_balance(
    ref: str, mode: str, brand: str, player: str, rail: str, asset: str, request: Request,
    cursor: str | None = None,
) -> Response:
    """Explain this balance: the entries that made it, each with its source and the
    balance after it, ending at the balance; and any entries that share a source."""
    principal = principal_of(request)
    try:
        chosen_rail, unit = Rail(rail), ASSETS[asset[:16]]
    except (ValueError, KeyError):
        raise NotFound(f"no {rail[:16]} balance in {asset[:16]}") from None
    check_rail_asset(chosen_rail, unit)  # 400: an asset the rail does not hold
    async with read_only(platform_of(request).engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
        chosen = choose_brand(visible_brands(principal, await tenants.list_brands(
            conn, realm.tenant_id)), brand)
        row = await service.get(conn, realm, chosen["id"], player)
        service.check_currency(row, chosen_rail, unit)
        found = await explain.explain(conn, realm, row["id"], chosen_rail, unit,
                                      limit=EXPLAIN_PAGE, cursor=cursor)
    return render(request, "explain.html", tenant=tenant, mode=realm.mode.value,
                  section="players", brand=chosen, player=row, explained=found,
                  cursor=cursor)
