"""``/v1/audit`` and ``/v1/usage``: what changed, and what is billable."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import text

from wowsino.kernel.auth import Principal, authenticate, scoped
from wowsino.kernel.db import read_only
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import check_limit, decode_cursor, page
from wowsino.kernel.platform import Platform

router = APIRouter(route_class=DecimalRoute)
AuditReader = Annotated[Principal, scoped("audit:read")]


@router.get("/audit", tags=["audit"], summary="The audit log of this realm, newest first")
async def list_audit(
    request: Request, principal: AuditReader, actor: str | None = None,
    action: str | None = None, target: str | None = None, since: datetime | None = None,
    limit: Annotated[int | None, Query()] = None, cursor: str | None = None,
) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = decode_cursor(cursor, 1)
    clauses = ["tenant_id = :tenant_id", "mode = :mode"]
    params: dict[str, Any] = {**principal.realm.params, "limit": size + 1}
    if actor:
        clauses.append("(actor_type || ':' || actor_id = :actor OR actor_id = :actor)")
        params["actor"] = actor
    if action:
        clauses.append("action = :action")
        params["action"] = action
    if target:
        clauses.append("(target_type || ':' || target_id = :target OR target_id = :target)")
        params["target"] = target
    if since:
        clauses.append("created_at >= :since")
        params["since"] = since
    if after:
        clauses.append("id < :after")
        params["after"] = int(after[0])
    platform: Platform = request.app.state.platform
    async with read_only(platform.engine) as conn:
        rows = await conn.execute(
            text("SELECT id, actor_type, actor_id, action, target_type, target_id, before, after, "
                 f"request_id, created_at, chain_seq FROM audit_log WHERE {' AND '.join(clauses)} "
                 "ORDER BY id DESC LIMIT :limit"),
            params,
        )
        items = [
            {"id": r.id, "actor": {"type": r.actor_type, "id": r.actor_id}, "action": r.action,
             "target": {"type": r.target_type, "id": r.target_id}, "before": r.before,
             "after": r.after, "request_id": r.request_id, "created_at": r.created_at,
             "sealed": r.chain_seq is not None}
            for r in rows
        ]
    return MoneyJSONResponse(page(items, size, lambda it: [it["id"]]))


@router.get("/usage", tags=["usage"], summary="API calls and monthly active players per mode")
async def usage(request: Request, month: str | None = None) -> MoneyJSONResponse:
    principal = await authenticate(request)
    platform: Platform = request.app.state.platform
    today = platform.clock.now().date()
    try:
        first = date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
    except ValueError:
        raise ValidationFailed("month: YYYY-MM", field="month") from None
    following = (first.replace(year=first.year + 1, month=1) if first.month == 12
                 else first.replace(month=first.month + 1))
    await platform.usage.flush(platform.engine)
    params = {"t": principal.realm.tenant_id, "first": first, "next": following}
    async with read_only(platform.engine) as conn:
        calls: dict[str, int] = dict((await conn.execute(text(
            "SELECT mode, sum(api_calls) FROM usage_counters WHERE tenant_id = :t AND day >= :first "
            "AND day < :next GROUP BY mode"), params)).all())
        active: dict[str, int] = dict((await conn.execute(text(
            "SELECT mode, count(*) FROM player_activity WHERE tenant_id = :t AND month = :first "
            "GROUP BY mode"), params)).all())
    per_mode = {
        mode: {"api_calls": int(calls.get(mode, 0)), "monthly_active_players":
               int(active.get(mode, 0)), "billable": mode == "live"}
        for mode in ("live", "test")
    }
    return MoneyJSONResponse({"month": first.strftime("%Y-%m"), **per_mode})
