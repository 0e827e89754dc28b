"""Bonus templates in the console: the list, each template's terms with the promo
linter's verdict for every brand (``compliance.lint``, as the API answers it) and the
cost simulator (``bonuses.simulator.run``, as ``POST …/simulate`` runs it)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from wowsino.bonuses import repository, service, simulator, views
from wowsino.bonuses import terms as terms_
from wowsino.bonuses.schemas import SimulateIn
from wowsino.compliance import service as compliance
from wowsino.console.auth import Form, checked_form
from wowsino.console.engine_pages import (
    NUMBER_CHARS,
    PAGE_SIZE,
    base_path,
    bounded_text,
    tenant_realm,
)
from wowsino.console.permissions import permission
from wowsino.console.views import ConsoleRoute, money, platform_of, render
from wowsino.kernel.db import read_only
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import ASSETS
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm
from wowsino.tenants import service as tenants

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

CATEGORIES = ("slots", "table", "live", "sports", "other")
# the simulator's form: (field, label, default); a smaller run than the API's by default
SIMULATION_FIELDS = (
    ("players", "Simulated players (1–20,000)", "2000"), ("bet_size", "Bet size", ""),
    ("deposit_amount", "Deposit (for a deposit bonus)", ""),
    ("rtp", "Game RTP (above 0, at most 1.2)", "0.96"),
    ("volatility", "Volatility (standard deviation of a spin's return)", "5"),
    ("max_spins", "Spins per player at most", "20000"), ("seed", "Seed", "1"),
)


def _terms(row: dict[str, Any]) -> list[tuple[str, str]]:
    """The template's terms as (label, text), money in the template's currency."""
    code = row["currency"]
    lines = []
    for name, value in terms_.shown(row["terms"], ASSETS[code]).items():
        if value is None:
            continue
        if name in terms_.MONEY:
            text = money(value, code)
        elif name == "prizes" and isinstance(value, list):
            text = ", ".join(f"{p['count']} × {money(p['amount'], code)}" for p in value)
        elif isinstance(value, dict):
            text = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            text = str(value)
        lines.append((name.replace("_", " "), text))
    return lines


async def _verdicts(request: Request, realm: Realm,
                    row: dict[str, Any]) -> list[dict[str, Any]]:
    """Every brand with the linter's verdict: the rule its profile finds broken, or none."""
    async with read_only(platform_of(request).engine) as conn:
        brands = await tenants.list_brands(conn, realm.tenant_id)
        broken = {v["brand"]: v for v in await compliance.lint(conn, realm, row["terms"],
                                                               row["type"])}
    return [{"brand": b["slug"], "name": b["name"], "violation": broken.get(b["slug"])}
            for b in brands]


@router.get("/tenants/{ref}/{mode}/engines/bonuses")
@permission("engines.view")
async def list_templates(ref: str, mode: str, request: Request,
                         cursor: str | None = None) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    async with read_only(platform_of(request).engine) as conn:
        rows = await repository.templates(conn, realm, after=NEWEST.decode(cursor),
                                          limit=PAGE_SIZE)
    page = NEWEST.page(rows, PAGE_SIZE)
    return render(request, "bonus_templates.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", templates=[views.template(r) for r in page["data"]],
                  next_cursor=page["next_cursor"], paged=bool(cursor),
                  base=base_path(tenant, realm))


async def _page(request: Request, tenant: dict[str, Any], realm: Realm, template_id: str, *,
                posted: dict[str, str] | None = None, result: dict[str, Any] | None = None,
                error: str | None = None, status_code: int = 200) -> Response:
    async with read_only(platform_of(request).engine) as conn:
        row = await service.load_template(conn, realm, template_id)  # 404 NO_TEMPLATE
    values = {name: default for name, _, default in SIMULATION_FIELDS} | {"game_category": "slots"}
    return render(request, "bonus_template.html", status_code=status_code, tenant=tenant,
                  mode=realm.mode.value, section="engines", template=views.template(row),
                  terms=_terms(row), verdicts=await _verdicts(request, realm, row),
                  fields=SIMULATION_FIELDS, categories=CATEGORIES,
                  values=values | (posted or {}), result=result, error=error,
                  base=base_path(tenant, realm))


@router.get("/tenants/{ref}/{mode}/engines/bonuses/{template_id}")
@permission("engines.view")
async def show_template(ref: str, mode: str, template_id: str, request: Request) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    return await _page(request, tenant, realm, template_id)


def _simulation(form: Form) -> tuple[dict[str, str], SimulateIn]:
    """The posted simulator fields, each bounded in length, as the API's request body (its
    validation: 400 naming the field)."""
    posted = {name: bounded_text(form, name, label, NUMBER_CHARS)
              for name, label, _ in SIMULATION_FIELDS}
    posted["game_category"] = bounded_text(form, "game_category", "game category", 16)
    body = {k: v.replace(",", "") for k, v in posted.items() if v}
    try:
        return posted, SimulateIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "form"
        label = next((lbl for name, lbl, _ in SIMULATION_FIELDS if name == field), field)
        raise ValidationFailed(f"{label}: {first['msg'].lower()}", field=field) from None


@router.post("/tenants/{ref}/{mode}/engines/bonuses/{template_id}/simulate")
@permission("engines.view")
async def simulate(ref: str, mode: str, template_id: str, request: Request) -> Response:
    """Run the cost simulator on the posted assumptions (nothing is saved)."""
    _, form = await checked_form(request)
    tenant, realm = await tenant_realm(request, ref, mode)
    async with read_only(platform_of(request).engine) as conn:
        row = await service.load_template(conn, realm, template_id)  # 404 NO_TEMPLATE
    posted: dict[str, str] = {}
    try:
        posted, given = _simulation(form)
        # CPU-bound: off the event loop, as the API runs it
        result = await asyncio.to_thread(simulator.run, row, given)
    except ValidationFailed as exc:
        posted = posted or {name: form.get(name)[:NUMBER_CHARS]
                            for name, _, _ in SIMULATION_FIELDS}
        return await _page(request, tenant, realm, template_id, posted=posted,
                           error=exc.message, status_code=400)
    return await _page(request, tenant, realm, template_id, posted=posted, result=result)
