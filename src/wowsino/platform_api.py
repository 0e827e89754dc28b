"""``/v1/audit`` and ``/v1/usage``: what changed, and what is billable."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import text

from wowsino.kernel import audit
from wowsino.kernel.auth import Principal, authenticate, scoped
from wowsino.kernel.bodies import AnyInstant
from wowsino.kernel.db import read_only
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import BY_ID, check_limit
from wowsino.kernel.writes import platform_of

router = APIRouter(route_class=DecimalRoute)
AuditReader = Annotated[Principal, scoped("audit:read")]


@router.get("/audit", tags=["audit"], summary="The audit log of this realm, newest first")
async def list_audit(
    request: Request, principal: AuditReader, actor: str | None = None,
    action: str | None = None, target: str | None = None, since: AnyInstant | None = None,
    limit: Annotated[int | None, Query()] = None, cursor: str | None = None,
) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = BY_ID.decode(cursor)
    async with read_only(platform_of(request).engine) as conn:
        items = await audit.search(
            conn, principal.realm, actor=actor, action=action, target=target, since=since,
            before_id=after[0] if after else None, limit=size + 1)
    return MoneyJSONResponse(BY_ID.page(items, size))


@router.get("/usage", tags=["usage"], summary="API calls and monthly active players per mode")
async def usage(request: Request, month: str | None = None) -> MoneyJSONResponse:
    principal = await authenticate(request)
    platform = platform_of(request)
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
