"""``/v1/journeys`` and ``/v1/players/<key>/journeys``: thin routes over
``journeys.service``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.convertors import Convertor, register_url_convertor

from wowsino.engines.auth import Config, Read, Use
from wowsino.engines.journeys import service
from wowsino.engines.journeys.schemas import (
    JourneyEventIn,
    JourneyIn,
    JourneyPatch,
    JourneyStatus,
    StatusChangeIn,
)
from wowsino.kernel.auth import Principal
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import Limit, check_limit
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import platform_of, write


class JourneyRef(Convertor[str]):
    """A journey's path segment: anything but ``event``, so that ``/journeys/event`` is only
    the trigger endpoint (its ``Allow`` names ``POST`` alone)."""

    regex = "(?!event$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("journey_ref", JourneyRef())
ONE = "/journeys/{journey_id:journey_ref}"
router = APIRouter(tags=["journeys"], route_class=DecimalRoute)

REPLAY: dict[int | str, dict[str, Any]] = {200: {"description": "a replay (deduped: true)"}}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR naming the field"},
    404: {"description": "NO_JOURNEY (or NO_TEMPLATE, NO_LOOTBOX: a reward)"},
    409: {"description": "NOT_ACTIVE (a bad pause/resume), JOURNEY_STARTED"},
}


@router.get("/journeys", summary="List journeys: configuration and status")
async def list_journeys(request: Request, principal: Read, status: JourneyStatus | None = None,
                        limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.listing(conn, principal.realm, status=status,
                                                       limit=size, cursor=cursor))


@router.post("/journeys", status_code=201, summary="Create a journey",
             responses={**REPLAY, **ERRORS})
async def create_journey(body: JourneyIn, request: Request,
                         principal: Config) -> MoneyJSONResponse:
    fields = body.model_dump(exclude={"idempotency_key"})
    return await write(request, principal, payload=body.model_dump(mode="json"), status=201,
                       call=lambda conn, at: service.create(
                           conn, realm=principal.realm, fields=fields, actor=principal.actor,
                           at=at))


@router.post("/journeys/event", status_code=201,
             summary="A named trigger for a player: advances every matching active journey",
             responses={**REPLAY, 404: {"description": "NO_PLAYER"}})
async def journey_event(body: JourneyEventIn, request: Request,
                        principal: Use) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(mode="json"), status=201,
                       call=lambda conn, at: service.record_event(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           service_mode=principal.service_mode, user_ref=body.user_id,
                           trigger=body.trigger, properties=body.properties, at=at))


@router.get(ONE, summary="One journey",
            responses={404: {"description": "NO_JOURNEY"}})
async def get_journey(journey_id: str, request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.get_one(conn, principal.realm, journey_id))


@router.patch(ONE, summary="Change a journey", responses=ERRORS)
async def patch_journey(journey_id: str, body: JourneyPatch, request: Request,
                        principal: Config) -> MoneyJSONResponse:
    payload = body.model_dump(exclude_unset=True)
    fields = {k: v for k, v in payload.items() if k != "idempotency_key"}
    return await write(request, principal, payload=body.model_dump(mode="json",
                                                                    exclude_unset=True),
                       status=200, call=lambda conn, at: service.update(
                           conn, realm=principal.realm, ref=journey_id, fields=fields,
                           actor=principal.actor, at=at))


async def _set_status(journey_id: str, to: str, body: StatusChangeIn | None, request: Request,
                      principal: Principal) -> MoneyJSONResponse:
    return await write(request, principal, payload=(body or StatusChangeIn()).model_dump(),
                       status=200, call=lambda conn, at: service.set_status(
                           conn, realm=principal.realm, ref=journey_id, to=to,
                           actor=principal.actor, at=at))


@router.post(f"{ONE}/pause",
             summary="Pause a journey (no one enters, no run advances)", responses=ERRORS)
async def pause_journey(journey_id: str, request: Request, principal: Config,
                        body: StatusChangeIn | None = None) -> MoneyJSONResponse:
    return await _set_status(journey_id, "paused", body, request, principal)


@router.post(f"{ONE}/resume", summary="Resume a paused journey",
             responses=ERRORS)
async def resume_journey(journey_id: str, request: Request, principal: Config,
                         body: StatusChangeIn | None = None) -> MoneyJSONResponse:
    return await _set_status(journey_id, "active", body, request, principal)


@router.get("/players/{key}/journeys",
            summary="A player's journeys: status, step, steps_total, expires_at",
            responses={404: {"description": "NO_PLAYER"}})
@routed_read
async def get_player_journeys(key: str, request: Request, principal: Read, limit: Limit = None,
                              cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    platform = platform_of(request)
    async with reading(request) as conn:
        return MoneyJSONResponse(await service.player_runs(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=key, limit=size,
            cursor=cursor, now=platform.clock.now()))
