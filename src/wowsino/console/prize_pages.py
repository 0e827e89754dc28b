"""Lootboxes and mini-games in the console: the list, and each one's prize table with
every prize's probability, the expected value, RTP and cost per draw (``prizes.odds``,
as the API shows them) and an editor that saves a new table through the engine's own
``update`` (its validation, its audit) or previews one without saving."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response

from wowsino.console.auth import Form, checked_form, principal_of
from wowsino.console.engine_pages import (
    PAGE_SIZE,
    base_path,
    bounded_decimal,
    bounded_text,
    tenant_realm,
)
from wowsino.console.permissions import permission
from wowsino.console.player_pages import visible_brands
from wowsino.console.views import SCRIPTED_CSP, ConsoleRoute, platform_of, render, see_other
from wowsino.engines import draws, prizes
from wowsino.engines.draws.games import WINZ
from wowsino.engines.lootbox.service import LOOTBOX
from wowsino.engines.minigames.service import MINI_GAME
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.money import from_minor
from wowsino.kernel.realm import Realm
from wowsino.tenants import service as tenants

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

# the URL's word → the engine, its title and the noun of one draw
GAMES: dict[str, tuple[draws.PrizeGame, str, str]] = {
    "lootboxes": (LOOTBOX, "Lootboxes", "open"),
    "mini-games": (MINI_GAME, "Mini-games", "play"),
}
SPARE_ROWS = 3  # empty rows the editor offers for new prizes
LABEL_LIMIT = 64
MAX_WEIGHT = Decimal(10**9)
MAX_AMOUNT = Decimal(10**12)


def _game(kind: str) -> tuple[draws.PrizeGame, str, str]:
    if kind not in GAMES:
        raise NotFound("no such engine page: lootboxes or mini-games")
    return GAMES[kind]


@router.get("/tenants/{ref}/{mode}/engines/{kind}")
@permission("engines.view")
async def list_games(ref: str, mode: str, kind: str, request: Request,
                     cursor: str | None = None) -> Response:
    game, title, use = _game(kind)
    tenant, realm = await tenant_realm(request, ref, mode)
    async with read_only(platform_of(request).engine) as conn:
        page = await draws.listing(conn, game=game, realm=realm, status=None, limit=PAGE_SIZE,
                                   cursor=cursor)
    return render(request, "prize_games.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", kind=kind, title=title, use=use, games=page["data"],
                  next_cursor=page["next_cursor"], paged=bool(cursor),
                  base=base_path(tenant, realm))


def _editor_rows(table: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The editor's rows: the table's prizes as text, then empty rows for new ones."""
    rows = [{"segment_label": s["segment_label"], "weight": str(s["weight"]),
             "asset": s["asset"], "amount": str(s["amount"])} for s in table]
    spare = min(SPARE_ROWS, prizes.MAX_SEGMENTS - len(rows))
    return rows + [{"segment_label": "", "weight": "", "asset": "WINZ", "amount": ""}
                   for _ in range(max(spare, 0))]


# each row's fields: (its key in a row, the form field's prefix, its bound in characters)
FIELDS = (("segment_label", "label", LABEL_LIMIT), ("weight", "weight", 24),
          ("asset", "asset", 8), ("amount", "amount", 24))


def _posted_rows(form: Form, *, strict: bool = True) -> list[dict[str, str]]:
    """The editor's rows as posted, each field bounded before anything else: refused (400
    naming it) when ``strict``, else cut to its bound (to show the form again)."""
    try:
        count = bounded_decimal(form, "rows", "rows", low=Decimal(0),
                                high=Decimal(prizes.MAX_SEGMENTS + SPARE_ROWS), whole=True)
    except ValidationFailed:
        if strict:
            raise
        count = Decimal(0)
    rows: list[dict[str, str]] = []
    for i in range(int(count or 0)):
        rows.append({key: bounded_text(form, f"{prefix}_{i}", f"prize {i + 1}: {prefix}", limit)
                     if strict else form.get(f"{prefix}_{i}")[:limit]
                     for key, prefix, limit in FIELDS})
    return rows


def _table_of(form: Form, rows: int) -> list[dict[str, Any]]:
    """The posted prize table (a row with an empty label is left out), in the engine's
    request shape: weights whole numbers, amounts decimals, each within its bounds."""
    table: list[dict[str, Any]] = []
    for i in range(rows):
        label = form.get(f"label_{i}")
        if not label:
            continue
        n = len(table) + 1
        weight = bounded_decimal(form, f"weight_{i}", f"prize {n} ({label}): weight",
                                 low=Decimal(0), high=MAX_WEIGHT, whole=True)
        amount = bounded_decimal(form, f"amount_{i}", f"prize {n} ({label}): amount",
                                 low=Decimal(0), high=MAX_AMOUNT)
        asset = form.get(f"asset_{i}")
        if asset not in prizes.REWARD_ASSETS:
            raise ValidationFailed(f"prize {n} ({label}): asset: one of "
                                   f"{', '.join(prizes.REWARD_ASSETS)}", field=f"asset_{i}")
        table.append({"segment_label": label, "weight": int(weight or 0), "asset": asset,
                      "amount": amount or Decimal(0)})
    if not table:
        raise ValidationFailed("the prize table needs at least one prize", field="prize_table")
    return table


def _cost_of(form: Form) -> Decimal:
    cost = bounded_decimal(form, "cost_winz", "cost per draw (WINZ)", low=Decimal(0),
                           high=MAX_AMOUNT, whole=True)
    return cost or Decimal(0)


async def _page(request: Request, kind: str, tenant: dict[str, Any], realm: Realm,
                entity: dict[str, Any], *, rows: list[dict[str, str]] | None = None,
                cost: str | None = None, odds: dict[str, Any] | None = None,
                error: str | None = None, preview: bool = False,
                status_code: int = 200, recent: list[dict[str, Any]] | None = None) -> Response:
    """The detail page: the saved table and its odds, and the editor (as posted, with the
    preview's odds or the refusal, when re-rendered after a POST)."""
    game, title, use = GAMES[kind]
    saved_cost = from_minor(int(entity["cost_winz"]), WINZ)
    saved = prizes.odds(entity["prize_table"], saved_cost)
    page = render(request, "prize_game.html", status_code=status_code, tenant=tenant,
                  mode=realm.mode.value, section="engines", kind=kind, title=title, use=use,
                  game=draws.config_view(game, entity), saved=saved,
                  rows=rows if rows is not None else _editor_rows(entity["prize_table"]),
                  cost=cost if cost is not None else str(saved_cost), preview_odds=odds,
                  preview=preview, error=error, assets=prizes.REWARD_ASSETS,
                  label_limit=LABEL_LIMIT, base=base_path(tenant, realm), recent=recent)
    # the live odds as the operator types (static/prize-editor.js); the page works without
    page.headers["Content-Security-Policy"] = SCRIPTED_CSP
    return page


@router.get("/tenants/{ref}/{mode}/engines/{kind}/{entity_id}")
@permission("engines.view")
async def show_game(ref: str, mode: str, kind: str, entity_id: str,
                    request: Request) -> Response:
    game, _, _ = _game(kind)
    tenant, realm = await tenant_realm(request, ref, mode)
    principal = principal_of(request)
    recent: list[dict[str, Any]] = []
    async with read_only(platform_of(request).engine) as conn:
        entity = await draws.load(conn, game, realm, entity_id)
        for brand in visible_brands(principal, await tenants.list_brands(conn,
                                                                          realm.tenant_id)):
            found = await draws.results(conn, game=game, view=_recent_view, realm=realm,
                                        brand_id=brand["id"], ref=str(entity["id"]),
                                        user_ref=None, limit=RECENT, cursor=None)
            recent += found["data"]
    recent.sort(key=lambda d: d["at"], reverse=True)
    return await _page(request, kind, tenant, realm, entity, recent=recent[:RECENT])


RECENT = 10  # the latest draws the page lists, each with its link to the verifier


def _recent_view(drawn: draws.Drawn) -> dict[str, Any]:
    return {"id": str(drawn.id), "user": drawn.user, "prize": prizes.public_reward(drawn.segment),
            "index": drawn.index, "at": drawn.at, **drawn.proof()}


@router.post("/tenants/{ref}/{mode}/engines/{kind}/{entity_id}/prize-table")
@permission("engines.manage")
async def edit_prize_table(ref: str, mode: str, kind: str, entity_id: str,
                           request: Request) -> Response:
    """Save (or, with ``action=preview``, only price) the posted prize table and cost."""
    _, form = await checked_form(request)
    game, _, _ = _game(kind)
    tenant, realm = await tenant_realm(request, ref, mode)
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        entity = await draws.load(conn, game, realm, entity_id)
    try:
        rows = _posted_rows(form)
        table, cost = _table_of(form, len(rows)), _cost_of(form)
        if form.get("action") == "preview":
            canonical = draws.normalise({"prize_table": table, "cost_winz": cost})
            odds = prizes.odds(canonical["prize_table"], cost)
            return await _page(request, kind, tenant, realm, entity, rows=rows,
                               cost=form.get("cost_winz"), odds=odds, preview=True)
        await unit_of_work(platform.engine, lambda conn: draws.update(
            conn, game=game, realm=realm, ref=entity_id,
            fields={"prize_table": table, "cost_winz": cost}, actor=principal_of(request).actor,
            at=platform.clock.now()))
    except ValidationFailed as exc:
        return await _page(request, kind, tenant, realm, entity,
                           rows=_posted_rows(form, strict=False),
                           cost=form.get("cost_winz")[:24], error=exc.message,
                           status_code=400)
    return see_other(f"{base_path(tenant, realm)}/{kind}/{entity['id']}", "prize-table-saved")
