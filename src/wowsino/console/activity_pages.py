"""Console pages for what happened in a realm: the dashboard, the audit log and webhook
deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.console import charts, dashboard
from wowsino.console.auth import checked_form, principal_of
from wowsino.console.permissions import permission
from wowsino.console.player_pages import realm_of
from wowsino.console.views import ConsoleRoute, platform_of, render, see_other
from wowsino.kernel import audit
from wowsino.kernel.bodies import utc
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import ASSETS, Asset
from wowsino.kernel.pagination import BY_ID
from wowsino.kernel.realm import Realm
from wowsino.kernel.replicas import reading
from wowsino.operators import service as operators
from wowsino.webhooks import service as webhooks

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

AUDIT_PAGE = 50
RECENT_DELIVERIES = 10
DELIVERY_PAGE = 50
DELIVERY_STATUSES = ("pending", "delivering", "succeeded", "failed")


def _since(raw: str | None) -> datetime | None:
    """A date (``2026-01-31``) or a date and time, read as UTC."""
    if not raw:
        return None
    try:
        return utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError:
        raise ValidationFailed("since: a date such as 2026-01-31", field="since") from None


# the tables of audited targets that have a currency: their money fields are in it
CURRENCY_TABLES = {"player": "players", "bonus_template": "bonus_templates",
                   "bonus": "bonuses", "jackpot": "jackpots", "tournament": "tournaments",
                   "deposit": "deposits", "withdrawal": "withdrawals"}


async def target_currencies(conn: AsyncConnection, realm: Realm,
                             rows: list[dict[str, Any]]) -> dict[str, Asset]:
    """The currency of each target the rows are about, in one statement."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        if row["target"]["type"] in CURRENCY_TABLES:
            wanted.setdefault(row["target"]["type"], set()).add(row["target"]["id"])
    if not wanted:
        return {}
    params: dict[str, Any] = dict(realm.params)
    parts = []
    for i, (kind, ids) in enumerate(sorted(wanted.items())):
        params[f"ids{i}"] = sorted(ids)
        parts.append(f"SELECT id::text, currency FROM {CURRENCY_TABLES[kind]} "
                     f"WHERE tenant_id = :tenant_id AND mode = :mode AND id::text = ANY(:ids{i})")
    found = await conn.execute(text(" UNION ALL ".join(parts)), params)
    return {row[0]: ASSETS[row[1]] for row in found if row[1] in ASSETS}


@router.get("/tenants/{ref}/{mode}/dashboard")
@permission("dashboard.view")
async def show_dashboard(ref: str, mode: str, request: Request, period: str | None = None,
                         currency: str | None = None) -> Response:
    platform = platform_of(request)
    async with reading(request) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
        board = await dashboard.build(conn, realm, service_mode=tenant["service_mode"],
                                      period=period, currency=currency,
                                      today=platform.clock.now().date())
    units = {"money": board.currency.code, "winz": "WINZ", "count": ""}
    shown = [{"series": s, "unit": units[s.kind],
              "chart": charts.bar_chart(s.title, board.days,
                                        [float(board.amount(s, v)) for v in s.values],
                                        units[s.kind])}
             for s in board.series]
    return render(request, "dashboard.html", tenant=tenant, mode=realm.mode.value,
                  section="dashboard", board=board, shown=shown,
                  periods=list(dashboard.PERIODS))


@router.get("/tenants/{ref}/{mode}/audit")
@permission("audit.view")
async def show_audit(
    ref: str, mode: str, request: Request, actor: str | None = None, action: str | None = None,
    target: str | None = None, since: str | None = None, cursor: str | None = None,
) -> Response:
    principal = principal_of(request)
    for name, value in (("actor", actor), ("action", action), ("target", target),
                        ("since", since)):
        if value and len(value) > 200:
            raise ValidationFailed(f"{name}: at most 200 characters", field=name)
    after = BY_ID.decode(cursor)
    async with read_only(platform_of(request).engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
        rows = await audit.search(
            conn, realm, actor=actor or None, action=action or None, target=target or None,
            since=_since(since), before_id=after[0] if after else None,
            limit=AUDIT_PAGE + 1, brand_ids=list(principal.brand_ids) or None)
        names = {str(o["id"]): o["email"]
                 for o in await operators.list_operators(conn, realm.tenant_id)}
        result = BY_ID.page(rows, AUDIT_PAGE)
        currencies = await target_currencies(conn, realm, result["data"])
    filters = {"actor": actor or "", "action": action or "", "target": target or "",
               "since": since or ""}
    return render(request, "audit.html", tenant=tenant, mode=realm.mode.value, section="audit",
                  rows=result["data"], next_cursor=result["next_cursor"], filters=filters,
                  paged=bool(cursor), operator_emails=names, currencies=currencies)


@router.get("/tenants/{ref}/{mode}/webhooks")
@permission("webhooks.view")
async def list_webhooks(ref: str, mode: str, request: Request) -> Response:
    async with read_only(platform_of(request).engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
        subscriptions = await webhooks.list_all(conn, realm)
        recent = {
            str(hook["id"]): (await webhooks.deliveries(
                conn, realm, str(hook["id"]), status=None, limit=RECENT_DELIVERIES,
                cursor=None))["data"]
            for hook in subscriptions
        }
    return render(request, "webhooks.html", tenant=tenant, mode=realm.mode.value,
                  section="webhooks", subscriptions=subscriptions, recent=recent)


@router.get("/tenants/{ref}/{mode}/webhooks/{webhook_id}")
@permission("webhooks.view")
async def show_webhook(
    ref: str, mode: str, webhook_id: str, request: Request, status: str | None = None,
    cursor: str | None = None,
) -> Response:
    if status and status not in DELIVERY_STATUSES:
        raise ValidationFailed(f"status: one of {', '.join(DELIVERY_STATUSES)}", field="status")
    async with read_only(platform_of(request).engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
        hook = await webhooks.get(conn, realm, webhook_id)
        log = await webhooks.deliveries(conn, realm, webhook_id, status=status or None,
                                        limit=DELIVERY_PAGE, cursor=cursor)
    return render(request, "webhook.html", tenant=tenant, mode=realm.mode.value,
                  section="webhooks", hook={k: hook[k] for k in webhooks.PUBLIC},
                  deliveries=log["data"], next_cursor=log["next_cursor"],
                  statuses=DELIVERY_STATUSES, status=status or "", paged=bool(cursor))


@router.post("/tenants/{ref}/{mode}/webhook-deliveries/{delivery_id}/redeliver")
@permission("webhooks.redeliver")
async def redeliver(ref: str, mode: str, delivery_id: str, request: Request) -> Response:
    _, form = await checked_form(request)
    p, actor = platform_of(request), principal_of(request).actor
    async with read_only(p.engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
    delivery = await unit_of_work(p.engine, lambda conn: webhooks.redeliver(
        conn, realm=realm, delivery_ref=delivery_id, actor=actor, at=p.clock.now()))
    back = f"/admin/tenants/{tenant['slug']}/{realm.mode.value}/webhooks"
    if form.get("back") == "log":
        back += f"/{delivery['webhook_id']}"
    return see_other(back, "redelivered")
