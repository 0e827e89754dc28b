"""Jackpots in the console: each pool with its current amount, seed, must-drop cap and
the headroom left below it, and a pool's drops with the fairness proof of a mystery
round and a link to the public verifier."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from wowsino.console.engine_pages import (
    PAGE_SIZE,
    base_path,
    tenant_realm,
    verify_link,
)
from wowsino.console.permissions import permission
from wowsino.console.views import ConsoleRoute, platform_of, render
from wowsino.engines.jackpots import repository, service, views
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import loads
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.pagination import NEWEST

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _pool(row: dict[str, Any]) -> dict[str, Any]:
    """A jackpot as the API shows it, with the headroom below its round's must-drop cap."""
    shown = views.jackpot(row)
    cap = row["round_must_drop_at"]
    headroom = None if cap is None else max(int(cap) - int(row["pool"]), 0)
    return {**shown, "headroom": None if headroom is None
            else from_minor(headroom, ASSETS[row["currency"]])}


def _drop(row: dict[str, Any], currency: str) -> dict[str, Any]:
    """A drop as the API shows it to the winner's brand, with the verifier link of a
    mystery round (its range and point in minor units, as published)."""
    shown = views.drop(row, currency)
    raw = row["mystery"]
    if raw is not None:
        reveal = loads(raw) if isinstance(raw, str) else raw
        shown["verify_url"] = verify_link(
            "mystery", server_seed=reveal["server_seed"],
            server_seed_hash=reveal["server_seed_hash"], client_seed=reveal["client_seed"],
            range_from=int(reveal["seed"]), range_to=int(reveal["must_drop_at"]),
            index=int(reveal["drop_point"]))
    return shown


@router.get("/tenants/{ref}/{mode}/engines/jackpots")
@permission("engines.view")
async def list_jackpots(ref: str, mode: str, request: Request,
                        cursor: str | None = None) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    async with read_only(platform_of(request).engine) as conn:
        rows = await repository.listing(conn, realm, status=None, after=NEWEST.decode(cursor),
                                        limit=PAGE_SIZE)
    page = NEWEST.page(rows, PAGE_SIZE)
    return render(request, "jackpots.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", pools=[_pool(r) for r in page["data"]],
                  next_cursor=page["next_cursor"], paged=bool(cursor),
                  base=base_path(tenant, realm))


@router.get("/tenants/{ref}/{mode}/engines/jackpots/{jackpot_id}")
@permission("engines.view")
async def show_jackpot(ref: str, mode: str, jackpot_id: str, request: Request,
                       cursor: str | None = None) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    position = repository.DROPS.decode(cursor)
    async with read_only(platform_of(request).engine) as conn:
        jackpot = await service.load(conn, realm, jackpot_id)  # 404 NO_JACKPOT
        row = await repository.view(conn, realm, jackpot["id"])
        rows = await repository.drops(conn, realm, jackpot["id"],
                                      before_round=position[0] if position else None,
                                      limit=PAGE_SIZE)
    assert row is not None  # the jackpot was just found
    page = repository.DROPS.page(rows, PAGE_SIZE)
    return render(request, "jackpot.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", pool=_pool(row),
                  drops=[_drop(r, row["currency"]) for r in page["data"]],
                  next_cursor=page["next_cursor"], paged=bool(cursor),
                  base=base_path(tenant, realm))
