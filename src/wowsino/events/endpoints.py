"""``/v1/events``: what operators send us. Thin routes over ``events.service``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request

from wowsino.events import service
from wowsino.events.grouped import coalescer as wager_group
from wowsino.events.schemas import DepositIn, RollbackIn, WagerBatchIn, WagerIn
from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.direct import direct
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.writes import grouped, platform_of, write_answer

router = APIRouter(prefix="/events", tags=["events"], route_class=DecimalRoute)
Events = Annotated[Principal, scoped("events:write")]
ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"description": "a replay (deduped: true)"},
    400: {"description": "VALIDATION_ERROR"}, 404: {"description": "NO_PLAYER, NO_WAGER"},
    409: {"description": "SOURCE_ID_REUSED, IDEMPOTENCY_IN_PROGRESS"},
    422: {"description": "IDEMPOTENCY_KEY_REUSED"},
}


@router.post("/wager", status_code=201, responses=ERRORS,
             summary="A settled wager, fanned out to every engine (deduped on source_wager_id)")
@direct
async def wager(body: WagerIn, request: Request, principal: Events) -> MoneyJSONResponse:
    # concurrent single events of a brand share a commit (events/grouped.py)
    return await grouped(request, principal, payload=body.model_dump(mode="json"), item=body,
                         coalescer=platform_of(request).coalescer("wager", wager_group))


@router.post("/wager:batch", status_code=201, responses=ERRORS,
             summary="Up to 1,000 wager events in one transaction, a result per event")
@direct
async def wager_batch(body: WagerBatchIn, request: Request,
                      principal: Events) -> MoneyJSONResponse:
    return await write_answer(request, principal, payload=body.model_dump(mode="json"),
                              call=lambda conn, at: service.record_batch(
                                  conn, realm=principal.realm, brand_id=principal.brand_id,
                                  service_mode=principal.service_mode, events=body.events,
                                  at=at))


@router.post("/wager-rollback", status_code=201, responses=ERRORS,
             summary="Void a wager: its wagering progress is reversed (jackpots keep theirs)")
@direct
async def wager_rollback(body: RollbackIn, request: Request,
                         principal: Events) -> MoneyJSONResponse:
    return await write_answer(request, principal, payload=body.model_dump(mode="json"),
                              call=lambda conn, at: service.rollback_wager(
                                  conn, realm=principal.realm,
                                  service_mode=principal.service_mode,
                                  source_wager_id=body.source_wager_id, at=at))


@router.post("/deposit", status_code=201, responses=ERRORS,
             summary="A deposit: counters, deposit bonuses, first-deposit triggers")
@direct
async def deposit(body: DepositIn, request: Request, principal: Events) -> MoneyJSONResponse:
    return await write_answer(request, principal, payload=body.model_dump(mode="json"),
                              call=lambda conn, at: service.record_deposit(
                                  conn, realm=principal.realm, brand_id=principal.brand_id,
                                  service_mode=principal.service_mode, event=body, at=at))
