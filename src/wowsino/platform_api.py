"""``/v1/audit`` and ``/v1/usage``: what changed, and what is billable."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator
from sqlalchemy import text

from wowsino.kernel import audit
from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.bodies import Instant
from wowsino.kernel.db import read_only
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import BY_ID, Limit, check_limit
from wowsino.kernel.writes import platform_of

router = APIRouter(route_class=DecimalRoute)
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def _iso_datetime(value: object) -> object:
    # a bare number would otherwise be read as a Unix timestamp, which the document denies
    if isinstance(value, str) and not ISO_DATETIME.match(value):
        raise ValueError("an ISO-8601 date-time with an offset, such as 2026-01-01T00:00:00Z")
    return value


Since = Annotated[Instant | None, BeforeValidator(_iso_datetime),
                  Query(description="ISO-8601 date-time with an offset")]
AuditReader = Annotated[Principal, scoped("audit:read")]
UsageReader = Annotated[Principal, scoped("usage:read")]


@router.get("/audit", tags=["audit"], summary="The audit log of this realm, newest first")
async def list_audit(
    request: Request, principal: AuditReader, actor: str | None = None,
    action: str | None = None, target: str | None = None, since: Since = None,
    limit: Limit = None, cursor: str | None = None,
) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = BY_ID.decode(cursor)
    async with read_only(platform_of(request).engine) as conn:
        items = await audit.search(
            conn, principal.realm, actor=actor, action=action, target=target, since=since,
            before_id=after[0] if after else None, limit=size + 1,
            brand_id=principal.brand_id)
    return MoneyJSONResponse(BY_ID.page(items, size))


@router.get("/usage", tags=["usage"],
            summary="API calls and monthly active players of the key's own mode")
async def usage(request: Request, principal: UsageReader,
                month: str | None = None) -> MoneyJSONResponse:
    platform = platform_of(request)
    today = platform.clock.now().date()
    try:
        first = date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
    except ValueError:
        raise ValidationFailed("month: YYYY-MM", field="month") from None
    following = (first.replace(year=first.year + 1, month=1) if first.month == 12
                 else first.replace(month=first.month + 1))
    await platform.usage.flush(platform.engine)
    mode = principal.realm.mode.value
    params = {"t": principal.realm.tenant_id, "m": mode, "first": first, "next": following}
    async with read_only(platform.engine) as conn:
        calls = await conn.scalar(text(
            "SELECT sum(api_calls) FROM usage_counters WHERE tenant_id = :t AND mode = :m "
            "AND day >= :first AND day < :next"), params)
        active = await conn.scalar(text(
            "SELECT count(*) FROM player_activity WHERE tenant_id = :t AND mode = :m "
            "AND month = :first"), params)
    # a key sees its own world only: a test key never reads live (billed) figures
    return MoneyJSONResponse({"month": first.strftime("%Y-%m"), mode: {
        "api_calls": int(calls or 0), "monthly_active_players": int(active or 0),
        "billable": mode == "live"}})
