"""The engines index of one realm: each engine with how many it has configured, and the
helpers the engine pages share (the realm from the URL, ids, bounded form fields)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from wowsino.console.auth import Form
from wowsino.console.permissions import permission
from wowsino.console.player_pages import realm_of
from wowsino.console.views import ConsoleRoute, platform_of, render
from wowsino.kernel.db import read_only
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.realm import Realm
from wowsino.vip import service as vip

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 25
NUMBER_CHARS = 24  # the longest number a form field may hold
# (path under /engines, title, table counted, what it is)
ENGINES = (
    ("lootboxes", "Lootboxes", "lootboxes", "prize tables opened for WINZ"),
    ("mini-games", "Mini-games", "mini_games", "wheels, scratch cards and picks"),
    ("jackpots", "Jackpots", "jackpots", "pools fed by wagers, dropped to one player"),
    ("raffles", "Raffles", "raffles", "tickets bought with WINZ, one fair draw"),
    ("tournaments", "Tournaments", "tournaments", "leaderboards with a prize table"),
    ("bonuses", "Bonus templates", "bonus_templates", "bonuses granted to players, with "
     "their terms"),
    ("journeys", "Journeys", "journeys", "steps a player completes for a reward"),
)


async def tenant_realm(request: Request, ref: str, mode: str) -> tuple[dict[str, Any], Realm]:
    """The tenant and realm named in the URL (404 for either)."""
    async with read_only(platform_of(request).engine) as conn:
        return await realm_of(conn, ref, mode)


def base_path(tenant: dict[str, Any], realm: Realm) -> str:
    """``/admin/tenants/<slug>/<mode>/engines``."""
    return f"/admin/tenants/{tenant['slug']}/{realm.mode.value}/engines"


VERIFY_PATH = "/fairness/verify"  # the public verifier page (docs/fairness.md)


def verify_link(game: str, *, server_seed: str, server_seed_hash: str, client_seed: str,
                index: int, **fields: int | Sequence[int]) -> str:
    """A link to the public verifier with a draw's published fields (``game``: weighted,
    raffle or mystery; ``tickets``/``skipped`` or ``range_from``/``range_to``)."""
    query: dict[str, str] = {"game": game, "server_seed": server_seed,
                             "server_seed_hash": server_seed_hash, "client_seed": client_seed}
    for name, value in fields.items():
        if isinstance(value, int):
            query[name] = str(value)
        elif value:
            query[name] = ",".join(str(int(v)) for v in value)
    return f"{VERIFY_PATH}?{urlencode({**query, 'index': str(index)})}"


def require_uuid(raw: str, noun: str, code: str) -> UUID:
    """The id in the URL, or 404 naming the ``noun``."""
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"no {noun} {raw[:64]!r}", code=code) from None


def bounded_text(form: Form, name: str, label: str, limit: int) -> str:
    """A posted text field, refused (400 naming ``label``) when over ``limit`` characters."""
    value = form.get(name)
    if len(value) > limit:
        raise ValidationFailed(f"{label}: at most {limit} characters", field=name)
    return value


def bounded_decimal(form: Form, name: str, label: str, *, low: Decimal, high: Decimal,
                    whole: bool = False) -> Decimal | None:
    """A posted number within ``[low, high]`` (a whole one when ``whole``); None when blank."""
    raw = bounded_text(form, name, label, NUMBER_CHARS).replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not low <= value <= high or (
            whole and value != value.to_integral_value()):
        kind = "a whole number" if whole else "a number"
        raise ValidationFailed(f"{label}: {kind} from {low:,} to {high:,}", field=name)
    return value


@router.get("/tenants/{ref}/{mode}/engines")
@permission("engines.view")
async def show_engines(ref: str, mode: str, request: Request) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    counts: dict[str, dict[str, int]] = {}
    async with read_only(platform_of(request).engine) as conn:
        for path, _, table, _ in ENGINES:
            row = (await conn.execute(text(
                f"SELECT count(*) AS total, count(*) FILTER (WHERE status = 'active') AS active "
                f"FROM {table} WHERE tenant_id = :tenant_id AND mode = :mode"),
                realm.params)).one()
            counts[path] = {"total": int(row.total), "active": int(row.active)}
        programme = (await vip.show(conn, realm))["vip"]
        campaigns = int(await conn.scalar(text(
            "SELECT count(*) FROM crm_campaigns WHERE tenant_id = :tenant_id AND mode = :mode"),
            realm.params) or 0)
    engines = [{"path": path, "title": title, "about": about, **counts[path]}
               for path, title, _, about in ENGINES]
    return render(request, "engines.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", engines=engines, base=base_path(tenant, realm),
                  vip_levels=None if programme is None else len(programme["levels"]),
                  crm_campaigns=campaigns)
