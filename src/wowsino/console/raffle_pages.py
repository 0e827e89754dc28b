"""Raffles in the console: the list, each raffle with its entries and ticket list (paged,
in ticket order), the **Draw** (a confirmation page, then the engine's own draw) and the
result with every published input and a link to the public verifier."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from wowsino.console.auth import checked_form, principal_of
from wowsino.console.engine_pages import PAGE_SIZE, base_path, tenant_realm, verify_link
from wowsino.console.permissions import permission
from wowsino.console.views import ConsoleRoute, platform_of, render, see_other
from wowsino.engines.raffles import repository, schemas, service
from wowsino.kernel import fairness
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import NotFound
from wowsino.kernel.money import from_minor
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

TICKETS_PAGE = 50


def _shown(raffle: dict[str, Any], draw: dict[str, Any] | None) -> dict[str, Any]:
    """A raffle as the API shows it to the winner's brand (the console sees every brand),
    with the draw's verifier link."""
    shown = schemas.public(raffle, draw, None if draw is None else draw["winner_brand_id"])
    if shown["draw"] is not None:
        d = shown["draw"]
        d["verify_url"] = verify_link(
            "raffle", server_seed=d["server_seed"], server_seed_hash=d["server_seed_hash"],
            client_seed=d["client_seed"], tickets=d["total_tickets"],
            skipped=d["skipped_ticket_idxs"], index=d["winning_ticket_idx"])
    return shown


@router.get("/tenants/{ref}/{mode}/engines/raffles")
@permission("engines.view")
async def list_raffles(ref: str, mode: str, request: Request,
                       cursor: str | None = None) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    async with read_only(platform_of(request).engine) as conn:
        rows = await repository.search(conn, realm, status=None, after=NEWEST.decode(cursor),
                                       limit=PAGE_SIZE)
        page = NEWEST.page(rows, PAGE_SIZE)
        draws = await repository.draws_for(conn, realm, [r["id"] for r in page["data"]])
    raffles = [_shown(r, draws.get(r["id"])) for r in page["data"]]
    return render(request, "raffles.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", raffles=raffles, next_cursor=page["next_cursor"],
                  paged=bool(cursor), base=base_path(tenant, realm))


async def _raffle(request: Request, realm: Realm, raffle_id: str
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    async with read_only(platform_of(request).engine) as conn:
        raffle = await service.load(conn, realm, raffle_id)  # 404 NO_RAFFLE
        draw = (await repository.draws_for(conn, realm, [raffle["id"]])).get(raffle["id"])
    return raffle, _shown(raffle, draw)


@router.get("/tenants/{ref}/{mode}/engines/raffles/{raffle_id}")
@permission("engines.view")
async def show_raffle(ref: str, mode: str, raffle_id: str, request: Request,
                      after: int | None = None) -> Response:
    if after is not None and not 0 <= after < fairness.U32:
        raise NotFound("no such page of tickets")
    tenant, realm = await tenant_realm(request, ref, mode)
    raffle, shown = await _raffle(request, realm, raffle_id)
    async with read_only(platform_of(request).engine) as conn:
        rows = await repository.entries_page(conn, realm, raffle["id"], after=after,
                                             limit=TICKETS_PAGE)
        listed = await service.ticket_list(conn, realm, raffle_id)
    more = len(rows) > TICKETS_PAGE
    entries = [{**r, "last_ticket_idx": int(r["first_ticket_idx"]) + int(r["tickets"]) - 1,
                "winz_debited": from_minor(int(r["winz_debited"]), schemas.WINZ)}
               for r in rows[:TICKETS_PAGE]]
    return render(request, "raffle.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", raffle=shown, entries=entries,
                  entry_count=len(listed["entries"]),
                  holders=len({e["holder_id"] for e in listed["entries"]}),
                  client_seed=listed["client_seed"], final=listed["final"],
                  next_after=entries[-1]["first_ticket_idx"] if more else None,
                  paged=after is not None, base=base_path(tenant, realm))


@router.get("/tenants/{ref}/{mode}/engines/raffles/{raffle_id}/draw")
@permission("engines.manage")
async def confirm_draw(ref: str, mode: str, raffle_id: str, request: Request) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    _, shown = await _raffle(request, realm, raffle_id)
    return render(request, "raffle_draw.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", raffle=shown, base=base_path(tenant, realm))


@router.post("/tenants/{ref}/{mode}/engines/raffles/{raffle_id}/draw")
@permission("engines.manage")
async def draw_raffle(ref: str, mode: str, raffle_id: str, request: Request) -> Response:
    """Draw the winner through the engine's own draw (as ``POST /v1/raffles/<id>/draw``)."""
    await checked_form(request)
    tenant, realm = await tenant_realm(request, ref, mode)
    platform = platform_of(request)
    raffle, _ = await _raffle(request, realm, raffle_id)
    await unit_of_work(platform.engine, lambda conn: service.draw(
        conn, realm=realm, ref=str(raffle["id"]), trigger="manual", actor=principal_of(request).actor,
        at=platform.clock.now()))
    return see_other(f"{base_path(tenant, realm)}/raffles/{raffle['id']}", "raffle-drawn")
