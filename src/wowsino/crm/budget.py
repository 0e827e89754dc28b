"""The tenant's monthly promotion budget per asset (``PUT /v1/crm/budget``).

Every campaign grant counts against it, in the grant's transaction; a run checks what is
left before each grant, and the grant that would pass the limit is not made: the run
stops, every active campaign spending that asset is paused, and ``crm.budget_reached``
is sent (once per month and asset). Months are UTC calendar months; a realm (live or
test) has its own budget. Grants made outside campaigns (the bonus API, deposits) are not
counted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.crm import repository
from wowsino.kernel import audit, outbox
from wowsino.kernel.money import ASSETS, asset, from_minor, to_minor
from wowsino.kernel.realm import Actor, Realm


def month_of(at: datetime) -> date:
    return at.astimezone(UTC).date().replace(day=1)


def _next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


async def limits(conn: AsyncConnection, realm: Realm) -> dict[str, dict[str, Any]]:
    rows = await conn.execute(text(
        "SELECT asset, monthly_limit, reached_month FROM crm_budgets WHERE tenant_id = "
        ":tenant_id AND mode = :mode ORDER BY asset"), realm.params)
    return {r.asset: {"limit": int(r.monthly_limit), "reached_month": r.reached_month}
            for r in rows}


async def spent(conn: AsyncConnection, realm: Realm, code: str, month: date) -> int:
    return int(await conn.scalar(text(
        "SELECT coalesce(sum(spent), 0) FROM crm_budget_spend WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND asset = :asset AND day >= :month AND day < :next"),
        {**realm.params, "asset": code, "month": month, "next": _next_month(month)}) or 0)


async def lock(conn: AsyncConnection, realm: Realm, code: str, at: datetime) -> int | None:
    """What is left of this month's budget for ``code`` (None: no budget), with the
    budget's row locked until the caller's transaction ends, so runs spend it in turn."""
    limit = await conn.scalar(text(
        "SELECT monthly_limit FROM crm_budgets WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND asset = :asset FOR UPDATE"), {**realm.params, "asset": code})
    if limit is None:
        return None
    return max(int(limit) - await spent(conn, realm, code, month_of(at)), 0)


async def spend(conn: AsyncConnection, realm: Realm, code: str, amount: int,
                at: datetime) -> None:
    if amount <= 0:
        return
    await conn.execute(text(
        "INSERT INTO crm_budget_spend AS s (tenant_id, mode, asset, day, spent) VALUES "
        "(:tenant_id, :mode, :asset, :day, :amount) ON CONFLICT (tenant_id, mode, asset, day) "
        "DO UPDATE SET spent = s.spent + excluded.spent"),
        {**realm.params, "asset": code, "day": at.astimezone(UTC).date(), "amount": amount})


async def reached(conn: AsyncConnection, realm: Realm, code: str, campaign_id: str | None,
                  at: datetime) -> None:
    """The budget for ``code`` is used up: pause the campaigns spending it and send
    ``crm.budget_reached`` (once a month)."""
    month = month_of(at)
    paused = await repository.pause_spending(conn, realm, code, "budget_reached", at)
    first = await conn.scalar(text(
        "UPDATE crm_budgets SET reached_month = :month WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND asset = :asset AND reached_month IS DISTINCT FROM :month "
        "RETURNING monthly_limit"), {**realm.params, "asset": code, "month": month})
    if first is None:
        return
    the_asset = ASSETS[code]
    await outbox.emit(conn, realm=realm, type="crm.budget_reached", at=at, data={
        "asset": code, "month": month.strftime("%Y-%m"),
        "limit": from_minor(int(first), the_asset),
        "spent": from_minor(await spent(conn, realm, code, month), the_asset),
        "campaign_id": campaign_id, "paused_campaigns": sorted(str(c) for c in paused)})


async def put(conn: AsyncConnection, *, realm: Realm, monthly: dict[str, Decimal],
              actor: Actor, at: datetime) -> dict[str, Any]:
    """Replace the monthly limits; an asset left out has none. Audited."""
    wanted = {}
    for code, value in monthly.items():
        found = asset(code, field=f"monthly.{code}")
        wanted[found.code] = to_minor(value, found, field=f"monthly.{code}")
    before = await limits(conn, realm)
    await conn.execute(text("DELETE FROM crm_budgets WHERE tenant_id = :tenant_id AND mode = "
                            ":mode AND NOT (asset = ANY(CAST(:keep AS text[])))"),
                       {**realm.params, "keep": list(wanted)})
    for code, limit in sorted(wanted.items()):
        await conn.execute(text(
            "INSERT INTO crm_budgets AS b (tenant_id, mode, asset, monthly_limit, updated_at) "
            "VALUES (:tenant_id, :mode, :asset, :limit, :at) ON CONFLICT (tenant_id, mode, "
            "asset) DO UPDATE SET monthly_limit = excluded.monthly_limit, updated_at = :at, "
            "reached_month = CASE WHEN excluded.monthly_limit > b.monthly_limit THEN NULL "
            "ELSE b.reached_month END"),
            {**realm.params, "asset": code, "limit": limit, "at": at})
    await audit.record(conn, realm=realm, actor=actor, action="crm.budget_updated",
                       target_type="crm_budget", target_id="monthly",
                       before={c: v["limit"] for c, v in before.items()}, after=wanted, at=at)
    return await show(conn, realm, at)


async def show(conn: AsyncConnection, realm: Realm, at: datetime) -> dict[str, Any]:
    """The live burn-down: this month's limit, spent, left and spend per day, per asset."""
    month = month_of(at)
    out: dict[str, Any] = {}
    for code, found in (await limits(conn, realm)).items():
        the_asset = ASSETS[code]
        days = await conn.execute(text(
            "SELECT day, spent FROM crm_budget_spend WHERE tenant_id = :tenant_id AND mode = "
            ":mode AND asset = :asset AND day >= :month AND day < :next ORDER BY day"),
            {**realm.params, "asset": code, "month": month, "next": _next_month(month)})
        by_day = [{"day": d.day.isoformat(), "spent": from_minor(int(d.spent), the_asset)}
                  for d in days]
        used = sum(int(d["spent"].scaleb(the_asset.scale)) for d in by_day)
        out[code] = {"limit": from_minor(found["limit"], the_asset),
                     "spent": from_minor(used, the_asset),
                     "remaining": from_minor(max(found["limit"] - used, 0), the_asset),
                     "reached": found["reached_month"] == month, "by_day": by_day}
    return {"budget": {"month": month.strftime("%Y-%m"), "monthly": out}}
