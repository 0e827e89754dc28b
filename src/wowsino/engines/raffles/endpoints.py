"""``/v1/raffles``: thin routes over ``raffles.service``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines.raffles import service
from wowsino.engines.raffles.schemas import (
    DrawIn,
    EnterIn,
    RaffleIn,
    RafflePatch,
    RaffleStatus,
    StatusChangeIn,
)
from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.clock import Clock
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import check_limit
from wowsino.kernel.platform import Platform
from wowsino.kernel.writes import idempotent

router = APIRouter(prefix="/raffles", tags=["raffles"], route_class=DecimalRoute)

Read = Annotated[Principal, scoped("engagement:read")]
Use = Annotated[Principal, scoped("engagement:write")]
Config = Annotated[Principal, scoped("config:write")]
Limit = Annotated[int | None, Query(description="1–500, default 50")]

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "NO_RAFFLE (or NO_PLAYER)"},
    409: {"description": "NOT_ACTIVE, NO_TICKETS, TICKETS_SOLD or IDEMPOTENCY_IN_PROGRESS"},
}


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _clock(request: Request) -> Clock:
    return _platform(request).clock


@router.get("", summary="List raffles: status, public configuration, seed hash")
async def list_raffles(request: Request, principal: Read, status: RaffleStatus | None = None,
                       limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with read_only(_platform(request).engine) as conn:
        return MoneyJSONResponse(await service.listing(conn, principal.realm, status=status,
                                                       limit=size, cursor=cursor))


@router.post("", status_code=201, summary="Create a raffle (its server seed is committed now)")
async def create_raffle(body: RaffleIn, request: Request, principal: Config) -> MoneyJSONResponse:
    fields = body.model_dump()
    clock = _clock(request)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 201, await service.create(conn, realm=principal.realm, fields=fields,
                                         actor=principal.actor, at=clock.now())

    return await idempotent(request, principal, payload=fields, effect=effect)


@router.get("/{raffle_id}", summary="One raffle, with its draw once drawn",
            responses={404: ERRORS[404]})
async def get_raffle(raffle_id: str, request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(_platform(request).engine) as conn:
        return MoneyJSONResponse(await service.get_one(conn, principal.realm, raffle_id))


@router.patch("/{raffle_id}", summary="Change a raffle (cost and prize only before any ticket)",
              responses=ERRORS)
async def patch_raffle(raffle_id: str, body: RafflePatch, request: Request,
                       principal: Config) -> MoneyJSONResponse:
    payload = body.model_dump(exclude_unset=True)
    fields = {k: v for k, v in payload.items() if k != "idempotency_key"}
    clock = _clock(request)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 200, await service.update(conn, realm=principal.realm, ref=raffle_id,
                                         fields=fields, actor=principal.actor, at=clock.now())

    return await idempotent(request, principal, payload=payload, effect=effect)


async def _set_status(raffle_id: str, to: str, body: StatusChangeIn | None, request: Request,
                      principal: Principal) -> MoneyJSONResponse:
    clock = _clock(request)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 200, await service.set_status(conn, realm=principal.realm, ref=raffle_id, to=to,
                                             actor=principal.actor, at=clock.now())

    payload = (body or StatusChangeIn()).model_dump()
    return await idempotent(request, principal, payload=payload, effect=effect)


@router.post("/{raffle_id}/pause", summary="Pause a raffle (no entries, no draw)",
             responses=ERRORS)
async def pause_raffle(raffle_id: str, request: Request, principal: Config,
                       body: StatusChangeIn | None = None) -> MoneyJSONResponse:
    return await _set_status(raffle_id, "paused", body, request, principal)


@router.post("/{raffle_id}/resume", summary="Resume a paused raffle", responses=ERRORS)
async def resume_raffle(raffle_id: str, request: Request, principal: Config,
                        body: StatusChangeIn | None = None) -> MoneyJSONResponse:
    return await _set_status(raffle_id, "active", body, request, principal)


@router.post("/{raffle_id}/enter", status_code=201,
             summary="Buy tickets for a player (debits ticket_cost_winz × tickets)",
             responses={402: {"description": "INSUFFICIENT_WINZ"},
                        403: {"description": "PLAYER_BLOCKED or LIMIT_EXCEEDED"}, **ERRORS})
async def enter_raffle(raffle_id: str, body: EnterIn, request: Request,
                       principal: Use) -> MoneyJSONResponse:
    clock = _clock(request)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 201, await service.enter(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=raffle_id,
            user_ref=body.user_id, tickets_wanted=body.tickets, at=clock.now())

    return await idempotent(request, principal, payload=body.model_dump(), effect=effect)


@router.get("/{raffle_id}/tickets",
            summary="The ticket list, the exact bytes hashed, and their SHA-256 (client seed)",
            responses={404: ERRORS[404]})
async def get_tickets(raffle_id: str, request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(_platform(request).engine) as conn:
        return MoneyJSONResponse(await service.ticket_list(conn, principal.realm, raffle_id))


@router.post("/{raffle_id}/draw", status_code=201,
             summary="Draw the winner (provably fair) and credit the prize", responses=ERRORS)
async def draw_raffle(raffle_id: str, request: Request, principal: Config,
                      body: DrawIn | None = None) -> MoneyJSONResponse:
    clock = _clock(request)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 201, await service.draw(conn, realm=principal.realm, ref=raffle_id,
                                       trigger="manual", actor=principal.actor, at=clock.now())

    return await idempotent(request, principal, payload=(body or DrawIn()).model_dump(),
                            effect=effect)
