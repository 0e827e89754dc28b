"""CRM in the console, brand by brand: segments with how many players match them now
(``crm.service.preview``), campaigns with their run history, and a **Dry run** through
the engine's own dry run (audited as the API's is); its findings are read back from the
audit log after the redirect."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from wowsino.console.auth import checked_form, principal_of
from wowsino.console.engine_pages import PAGE_SIZE, base_path, tenant_realm
from wowsino.console.permissions import permission
from wowsino.console.player_pages import choose_brand, visible_brands
from wowsino.console.views import ConsoleRoute, money, platform_of, render, see_other
from wowsino.crm import backtest, repository, service, views
from wowsino.kernel import audit
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import DomainError
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm
from wowsino.tenants import service as tenants

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

RUNS_SHOWN = 25
DRY_RUNS_SHOWN = 5
BACKTEST_DAYS = 90  # as the API's backtest allows


def action_text(action: dict[str, Any]) -> str:
    """A campaign's action in words, its amount in its unit."""
    kind = action["type"]
    if kind == "grant_winz":
        return f"grant {money(action['amount'], 'WINZ')}"
    if kind == "grant_bonus":
        return f"grant a bonus (template {str(action['template'])[:13]})"
    if kind == "open_lootbox":
        return "a free lootbox open"
    return str(kind).replace("_", " ")


def schedule_text(schedule: Any) -> str:
    """``once``, ``every fri at 10:00 (Europe/Malta)`` or ``cron … (tz)``."""
    if not isinstance(schedule, dict):
        return "once, when asked" if schedule in (None, "once") else str(schedule)
    if "weekly" in schedule:
        weekly = schedule["weekly"]
        return f"every {weekly['day']} at {weekly['time']} ({weekly['tz']})"
    if "cron" in schedule:
        return f"cron {schedule['cron']} ({schedule.get('tz', 'UTC')})"
    return ", ".join(f"{k} {v}" for k, v in schedule.items())


async def _brand(request: Request, realm: Realm, slug: str | None) -> tuple[list[Any], Any]:
    async with read_only(platform_of(request).engine) as conn:
        brands = visible_brands(principal_of(request),
                                await tenants.list_brands(conn, realm.tenant_id))
    return brands, choose_brand(brands, slug)


@router.get("/tenants/{ref}/{mode}/engines/crm")
@permission("engines.view")
async def show_crm(ref: str, mode: str, request: Request, brand: str | None = None,
                   cursor: str | None = None) -> Response:
    tenant, realm = await tenant_realm(request, ref, mode)
    brands, chosen = await _brand(request, realm, brand)
    platform = platform_of(request)
    at = platform.clock.now()
    async with read_only(platform.engine) as conn:
        rows = await repository.segments(conn, realm, chosen["id"], None, PAGE_SIZE)
        segments = []
        for row in rows[:PAGE_SIZE]:
            found = await service.preview(conn, realm=realm, brand_id=chosen["id"],
                                          ref=str(row["id"]), at=at)
            segments.append({**views.segment(row), "count": found["count"]})
        campaign_rows = await repository.campaigns(conn, realm, chosen["id"],
                                                   NEWEST.decode(cursor), PAGE_SIZE)
    page = NEWEST.page(campaign_rows, PAGE_SIZE)
    names = {s["id"]: s["name"] for s in segments}
    campaigns = [{**views.campaign(r), "action_text": action_text(r["action"]),
                  "schedule_text": schedule_text(r["schedule"])} for r in page["data"]]
    return render(request, "crm.html", tenant=tenant, mode=realm.mode.value, section="engines",
                  brands=brands, brand=chosen, segments=segments, more_segments=len(rows)
                  > PAGE_SIZE, campaigns=campaigns, segment_names=names,
                  next_cursor=page["next_cursor"], paged=bool(cursor),
                  base=base_path(tenant, realm))


@router.get("/tenants/{ref}/{mode}/engines/crm/{brand}/campaigns/{campaign_id}")
@permission("engines.view")
async def show_campaign(ref: str, mode: str, brand: str, campaign_id: str,
                        request: Request, backtest_days: str | None = None) -> Response:
    """The campaign; with ``backtest_days``, the engine's backtest over that many days (it
    changes nothing: a GET form)."""
    tenant, realm = await tenant_realm(request, ref, mode)
    _, chosen = await _brand(request, realm, brand)
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        row = await service.own_campaign(conn, realm, chosen["id"], campaign_id)  # 404
        segment = await service.own_segment(conn, realm, chosen["id"], str(row["segment_id"]))
        live = await service.preview(conn, realm=realm, brand_id=chosen["id"],
                                     ref=str(segment["id"]), at=platform.clock.now())
        runs = await repository.runs(conn, realm, row["id"], None, RUNS_SHOWN)
        dry_runs = await audit.search(conn, realm, action="campaign.dry_run",
                                      target=f"campaign:{row['id']}", limit=DRY_RUNS_SHOWN)
        replay, replay_error = None, None
        if backtest_days:
            try:
                days = int(backtest_days[:4])
                if not 1 <= days <= BACKTEST_DAYS:
                    raise ValueError
                replay = await backtest.backtest(conn, realm=realm, brand_id=chosen["id"],
                                                 ref=str(row["id"]), days=days,
                                                 at=platform.clock.now())
            except ValueError:
                replay_error = f"days: a whole number from 1 to {BACKTEST_DAYS}"
            except DomainError as exc:
                replay_error = exc.message
    campaign = {**views.campaign(row), "action_text": action_text(row["action"]),
                "schedule_text": schedule_text(row["schedule"])}
    return render(request, "campaign.html", tenant=tenant, mode=realm.mode.value,
                  section="engines", brand=chosen, campaign=campaign,
                  segment={**views.segment(segment), "count": live["count"]},
                  runs=[views.run(r) for r in runs[:RUNS_SHOWN]], dry_runs=dry_runs,
                  base=base_path(tenant, realm), replay=replay, replay_error=replay_error,
                  backtest_days=backtest_days or "30", backtest_limit=BACKTEST_DAYS)


@router.post("/tenants/{ref}/{mode}/engines/crm/{brand}/campaigns/{campaign_id}/dry-run")
@permission("engines.manage")
async def dry_run(ref: str, mode: str, brand: str, campaign_id: str,
                  request: Request) -> Response:
    """The engine's dry run (grants nothing), audited as ``POST …/dry-run`` audits it."""
    await checked_form(request)
    tenant, realm = await tenant_realm(request, ref, mode)
    _, chosen = await _brand(request, realm, brand)
    platform = platform_of(request)
    at = platform.clock.now()
    async with read_only(platform.engine) as conn:
        result = await service.dry_run(conn, realm=realm, brand_id=chosen["id"],
                                       ref=campaign_id, at=at)
    await unit_of_work(platform.engine, lambda conn: service.record_dry_run(
        conn, realm=realm, actor=principal_of(request).actor, result=result, at=at))
    return see_other(f"{base_path(tenant, realm)}/crm/{chosen['slug']}/campaigns/"
                     f"{result['campaign_id']}", "dry-run-recorded")
