"""``/v1/segments``, ``/v1/campaigns`` and ``/v1/crm/budget``: thin routes over the CRM
services (scopes ``crm:read`` and ``crm:write``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request

from wowsino.crm import backtest, budget, repository, runs, service, views
from wowsino.crm.schemas import (
    BacktestIn,
    BudgetIn,
    CampaignIn,
    CampaignPatch,
    KeyOnly,
    SegmentIn,
    SegmentPatch,
)
from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.idempotency import choose_key
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import BIGINT, NEWEST, Keyset, Limit, check_limit
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import platform_of, write

router = APIRouter(tags=["crm"], route_class=DecimalRoute)
Read = Annotated[Principal, scoped("crm:read")]
Write = Annotated[Principal, scoped("crm:write")]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR (an expression's details: field, position, "
                         "expected)"},
    404: {"description": "NO_SEGMENT, NO_CAMPAIGN, NO_TEMPLATE, NO_LOOTBOX"},
    409: {"description": "SEGMENT_IN_USE, NOT_ACTIVE, RUN_IN_PROGRESS, NOT_SCHEDULED"},
}
BY_SEQ = Keyset(("_seq",), (BIGINT,))  # a campaign's runs, newest first


def _fields(body: Any) -> dict[str, Any]:
    return dict(body.model_dump(exclude_unset=True, exclude={"idempotency_key"}))


# --- segments ------------------------------------------------------------------------------

@router.post("/segments", status_code=201, responses=ERRORS,
             summary="Create a segment from an expression")
async def create_segment(body: SegmentIn, request: Request, principal: Write) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(mode="json"), status=201,
                       call=lambda conn, at: service.create_segment(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           fields=_fields(body), actor=principal.actor, at=at))


@router.get("/segments", summary="The brand's segments, newest first")
@routed_read
async def list_segments(request: Request, principal: Read, limit: Limit = None,
                        cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = NEWEST.decode(cursor)
    async with reading(request) as conn:
        rows = await repository.segments(conn, principal.realm, principal.brand_id, after, size)
    result = NEWEST.page(rows, size)
    result["data"] = [views.segment(r) for r in result["data"]]
    return MoneyJSONResponse(result)


@router.get("/segments/{segment_id}", responses=ERRORS, summary="One segment")
async def get_segment(segment_id: str, request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        row = await service.own_segment(conn, principal.realm, principal.brand_id, segment_id)
    return MoneyJSONResponse({"segment": views.segment(row)})


@router.patch("/segments/{segment_id}", responses=ERRORS,
              summary="Rename a segment or change its expression")
async def update_segment(segment_id: str, body: SegmentPatch, request: Request,
                         principal: Write) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(mode="json",
                                                                   exclude_unset=True),
                       status=200, call=lambda conn, at: service.update_segment(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           ref=segment_id, fields=_fields(body), actor=principal.actor, at=at))


@router.delete("/segments/{segment_id}", responses=ERRORS,
               summary="Delete a segment no campaign uses")
async def delete_segment(segment_id: str, request: Request, principal: Write) -> MoneyJSONResponse:
    return await write(request, principal, payload={}, status=200,
                       call=lambda conn, at: service.delete_segment(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           ref=segment_id, actor=principal.actor, at=at))


@router.get("/segments/{segment_id}/preview", responses=ERRORS,
            summary="How many players match now, and a sample of 20")
@routed_read
async def preview_segment(segment_id: str, request: Request,
                          principal: Read) -> MoneyJSONResponse:
    p = platform_of(request)
    async with reading(request) as conn:
        return MoneyJSONResponse(await service.preview(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=segment_id,
            at=p.clock.now()))


# --- campaigns -----------------------------------------------------------------------------

@router.post("/campaigns", status_code=201, responses=ERRORS,
             summary="Create a campaign: a segment, an action and a schedule")
async def create_campaign(body: CampaignIn, request: Request,
                          principal: Write) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(mode="json"), status=201,
                       call=lambda conn, at: service.create_campaign(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           fields=_fields(body), actor=principal.actor, at=at))


@router.get("/campaigns", summary="The brand's campaigns, newest first")
async def list_campaigns(request: Request, principal: Read, limit: Limit = None,
                         cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = NEWEST.decode(cursor)
    async with read_only(platform_of(request).engine) as conn:
        rows = await repository.campaigns(conn, principal.realm, principal.brand_id, after, size)
    result = NEWEST.page(rows, size)
    result["data"] = [views.campaign(r) for r in result["data"]]
    return MoneyJSONResponse(result)


@router.get("/campaigns/{campaign_id}", responses=ERRORS, summary="One campaign")
async def get_campaign(campaign_id: str, request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        row = await service.own_campaign(conn, principal.realm, principal.brand_id, campaign_id)
    return MoneyJSONResponse({"campaign": views.campaign(row)})


@router.patch("/campaigns/{campaign_id}", responses=ERRORS,
              summary="Change a campaign (its next runs; a running run keeps its terms)")
async def update_campaign(campaign_id: str, body: CampaignPatch, request: Request,
                          principal: Write) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(mode="json",
                                                                   exclude_unset=True),
                       status=200, call=lambda conn, at: service.update_campaign(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           ref=campaign_id, fields=_fields(body), actor=principal.actor, at=at))


async def _status(campaign_id: str, body: KeyOnly | None, request: Request,
                  principal: Principal, to: str) -> MoneyJSONResponse:
    return await write(request, principal, payload=(body or KeyOnly()).model_dump(), status=200,
                       call=lambda conn, at: service.set_status(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           ref=campaign_id, to=to, actor=principal.actor, at=at))


@router.post("/campaigns/{campaign_id}/pause", responses=ERRORS,
             summary="Pause a campaign: no runs until resumed")
async def pause_campaign(campaign_id: str, request: Request, principal: Write,
                         body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await _status(campaign_id, body, request, principal, "paused")


@router.post("/campaigns/{campaign_id}/resume", responses=ERRORS,
             summary="Resume a paused campaign")
async def resume_campaign(campaign_id: str, request: Request, principal: Write,
                          body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await _status(campaign_id, body, request, principal, "active")


@router.post("/campaigns/{campaign_id}/dry-run", responses=ERRORS,
             summary="Who a run now would reach, its cost and its skips; grants nothing")
async def dry_run(campaign_id: str, request: Request, principal: Write,
                  body: KeyOnly | None = None) -> MoneyJSONResponse:
    p = platform_of(request)
    at = p.clock.now()
    async with read_only(p.engine) as conn:
        result = await service.dry_run(conn, realm=principal.realm,
                                       brand_id=principal.brand_id, ref=campaign_id, at=at)

    await unit_of_work(p.engine, lambda conn: service.record_dry_run(
        conn, realm=principal.realm, actor=principal.actor, result=result, at=at))
    return MoneyJSONResponse(result)


@router.post("/campaigns/{campaign_id}/run", status_code=201, responses=ERRORS,
             summary="Run a campaign now (its idempotency key names the run)")
async def run_campaign(campaign_id: str, request: Request, principal: Write,
                       body: KeyOnly | None = None) -> MoneyJSONResponse:
    p = platform_of(request)
    key = choose_key((body or KeyOnly()).idempotency_key, request.headers.get("idempotency-key"))
    made, created = await unit_of_work(p.engine, lambda conn: runs.run_now(
        conn, realm=principal.realm, brand_id=principal.brand_id, ref=campaign_id, key=key,
        actor=principal.actor, at=p.clock.now()))
    if made["status"] == "running":
        await runs.drive(p, principal.realm, made["id"], seconds=runs.STEP_SECONDS)
    async with read_only(p.engine) as conn:
        row = await repository.run(conn, principal.realm, made["id"])
    assert row is not None
    return MoneyJSONResponse({"run": views.run(row), "deduped": not created},
                             status_code=201 if created else 200,
                             headers={"Idempotency-Key": key})


@router.get("/campaigns/{campaign_id}/runs", responses=ERRORS,
            summary="A campaign's runs with their results, newest first")
async def list_runs(campaign_id: str, request: Request, principal: Read, limit: Limit = None,
                    cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = BY_SEQ.decode(cursor)
    async with read_only(platform_of(request).engine) as conn:
        campaign = await service.own_campaign(conn, principal.realm, principal.brand_id,
                                              campaign_id)
        rows = await repository.runs(conn, principal.realm, campaign["id"],
                                     after[0] if after else None, size)
    result = BY_SEQ.page([{**views.run(r), "_seq": r["seq"]} for r in rows], size)
    for row in result["data"]:
        row.pop("_seq", None)
    return MoneyJSONResponse(result)


@router.post("/campaigns/{campaign_id}/backtest", responses=ERRORS,
             summary="Who would have qualified at each scheduled time of the past days")
async def backtest_campaign(campaign_id: str, body: BacktestIn, request: Request,
                            principal: Read) -> MoneyJSONResponse:
    p = platform_of(request)
    async with read_only(p.engine) as conn:
        return MoneyJSONResponse({"backtest": await backtest.backtest(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=campaign_id,
            days=body.days, at=p.clock.now())})


# --- the monthly budget --------------------------------------------------------------------

@router.put("/crm/budget", responses=ERRORS,
            summary="Set the tenant's monthly promotion budget per asset")
async def put_budget(body: BudgetIn, request: Request, principal: Write) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(mode="json"), status=200,
                       call=lambda conn, at: budget.put(conn, realm=principal.realm,
                                                        monthly=body.monthly,
                                                        actor=principal.actor, at=at))


@router.get("/crm/budget", summary="This month's budget: limit, spent, left, spend per day")
async def get_budget(request: Request, principal: Read) -> MoneyJSONResponse:
    p = platform_of(request)
    async with read_only(p.engine) as conn:
        return MoneyJSONResponse(await budget.show(conn, principal.realm, p.clock.now()))
