"""``/v1/jackpots``: thin routes over ``engines.jackpots.service``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from wowsino.engines.auth import Config, Public, Use, viewer
from wowsino.engines.jackpots import repository, service, views
from wowsino.engines.jackpots.schemas import ContributionIn, DropIn, JackpotIn, JackpotPatch
from wowsino.kernel.auth import Principal
from wowsino.kernel.db import read_only
from wowsino.kernel.direct import direct
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import NEWEST, Limit, check_limit
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import platform_of, write, write_answer

router = APIRouter(prefix="/jackpots", tags=["jackpots"], route_class=DecimalRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR"}, 404: {"description": "NO_JACKPOT, NO_PLAYER"},
    409: {"description": "NOT_ACTIVE, NO_CONTRIBUTIONS, IDEMPOTENCY_IN_PROGRESS"},
    422: {"description": "IDEMPOTENCY_KEY_REUSED"},
}


class KeyOnly(BaseModel):
    model_config = ConfigDict(extra="forbid")
    idempotency_key: str | None = None


@router.get("", summary="Jackpots with their pool, round and last drop")
@routed_read
async def list_jackpots(request: Request, principal: Public,
                        status: Literal["active", "paused"] | None = None,
                        limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = NEWEST.decode(cursor)
    async with reading(request) as conn:
        rows = await repository.listing(conn, principal.realm, status=status, after=after,
                                        limit=size)
    result = NEWEST.page(rows, size)
    result["data"] = [views.jackpot(r, viewer(principal)) for r in result["data"]]
    return MoneyJSONResponse(result)


@router.post("", status_code=201, summary="Configure a jackpot (funds its seed)",
             responses=ERRORS)
async def create_jackpot(body: JackpotIn, request: Request,
                         principal: Config) -> MoneyJSONResponse:
    fields = body.model_dump(exclude={"idempotency_key"})
    return await write_answer(request, principal, payload=body.model_dump(),
                              call=lambda conn, at: service.create(
                                  conn, realm=principal.realm,
                                  service_mode=principal.service_mode, fields=fields,
                                  actor=principal.actor, at=at))


@router.get("/{jackpot_id}", summary="One jackpot", responses=ERRORS)
async def get_jackpot(jackpot_id: str, request: Request, principal: Public) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse({"jackpot": await service.show(conn, principal.realm,
                                                                jackpot_id, viewer(principal))})


@router.patch("/{jackpot_id}", summary="Change a jackpot's configuration", responses=ERRORS)
async def update_jackpot(jackpot_id: str, body: JackpotPatch, request: Request,
                         principal: Config) -> MoneyJSONResponse:
    requested = body.model_dump(exclude_unset=True, exclude={"idempotency_key"})
    return await write(request, principal, payload=body.model_dump(exclude_unset=True),
                       status=200, call=lambda conn, at: service.update(
                           conn, realm=principal.realm, ref=jackpot_id, requested=requested,
                           actor=principal.actor, at=at))


async def _set_status(jackpot_id: str, body: KeyOnly | None, request: Request,
                      principal: Principal, to: str) -> MoneyJSONResponse:
    return await write(request, principal, payload=(body or KeyOnly()).model_dump(),
                       status=200, call=lambda conn, at: service.set_status(
                           conn, realm=principal.realm, ref=jackpot_id, to=to,
                           actor=principal.actor, at=at))


@router.post("/{jackpot_id}/pause", summary="Pause: contributions and drops answer 409",
             responses=ERRORS)
async def pause_jackpot(jackpot_id: str, request: Request, principal: Config,
                        body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await _set_status(jackpot_id, body, request, principal, "paused")


@router.post("/{jackpot_id}/resume", summary="Resume a paused jackpot", responses=ERRORS)
async def resume_jackpot(jackpot_id: str, request: Request, principal: Config,
                         body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await _set_status(jackpot_id, body, request, principal, "active")


@router.post("/{jackpot_id}/contribute", status_code=201,
             summary="Contribute to the pool (deduped on source_wager_id)",
             responses={**ERRORS, 200: {"description": "a replay or a known source_wager_id"}})
@direct
async def contribute(jackpot_id: str, body: ContributionIn, request: Request,
                     principal: Use) -> MoneyJSONResponse:
    # a contribution found by its source_wager_id answers 200 with deduped: true
    return await write_answer(request, principal, payload=body.model_dump(),
                              call=lambda conn, at: service.contribute(
                                  conn, realm=principal.realm, brand_id=principal.brand_id,
                                  service_mode=principal.service_mode, ref=jackpot_id,
                                  user_ref=body.user_id, source_wager_id=body.source_wager_id,
                                  amount=body.amount, at=at),
                              lookups=service.contribution_lookups(
                                  principal.realm, principal.brand_id, jackpot_id, body.user_id))


@router.post("/{jackpot_id}/drop", status_code=201,
             summary="Drop the whole pool now (to the last contributor by default)",
             responses={**ERRORS, 403: {"description": "PLAYER_BLOCKED"}})
async def drop_jackpot(jackpot_id: str, request: Request, principal: Config,
                       body: DropIn | None = None) -> MoneyJSONResponse:
    chosen = body or DropIn()
    return await write_answer(request, principal, payload=chosen.model_dump(),
                              call=lambda conn, at: service.drop(
                                  conn, realm=principal.realm, brand_id=principal.brand_id,
                                  service_mode=principal.service_mode, ref=jackpot_id,
                                  winner_ref=chosen.winner_user_id, actor=principal.actor,
                                  at=at))


@router.get("/{jackpot_id}/drops",
            summary="Drop history, newest first (mystery rounds reveal seed and point)",
            responses=ERRORS)
async def list_drops(jackpot_id: str, request: Request, principal: Public, limit: Limit = None,
                     cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = repository.DROPS.decode(cursor)
    async with read_only(platform_of(request).engine) as conn:
        rows = await service.drops(conn, realm=principal.realm, ref=jackpot_id,
                                   cursor_round=after[0] if after else None, limit=size,
                                   viewer_brand=viewer(principal))
    return MoneyJSONResponse(repository.DROPS.page(rows, size))
