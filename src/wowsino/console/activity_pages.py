"""Console pages for what happened in a realm: the audit log and webhook deliveries."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response

from wowsino.console.auth import checked_form, principal_of
from wowsino.console.permissions import permission
from wowsino.console.player_pages import realm_of
from wowsino.console.views import ConsoleRoute, platform_of, render, see_other
from wowsino.kernel import audit
from wowsino.kernel.bodies import utc
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.pagination import BY_ID
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
    filters = {"actor": actor or "", "action": action or "", "target": target or "",
               "since": since or ""}
    return render(request, "audit.html", tenant=tenant, mode=realm.mode.value, section="audit",
                  rows=result["data"], next_cursor=result["next_cursor"], filters=filters,
                  paged=bool(cursor), operator_emails=names)


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
