"""``/v1/raffles``: thin routes over ``raffles.service``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from wowsino.engines.auth import Config, Public, Read, Use, viewer
from wowsino.engines.raffles import service
from wowsino.engines.raffles.schemas import (
    DrawIn,
    EnterIn,
    RaffleIn,
    RafflePatch,
    RaffleStatus,
    StatusChangeIn,
)
from wowsino.kernel.auth import Principal
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import Limit, check_limit
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import platform_of, write

router = APIRouter(prefix="/raffles", tags=["raffles"], route_class=DecimalRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "NO_RAFFLE (or NO_PLAYER)"},
    409: {"description": "NOT_ACTIVE, NO_TICKETS, TICKETS_SOLD or IDEMPOTENCY_IN_PROGRESS"},
}


@router.get("", summary="List raffles: status, public configuration, seed hash")
@routed_read
async def list_raffles(request: Request, principal: Public, status: RaffleStatus | None = None,
                       limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        return MoneyJSONResponse(await service.listing(
            conn, principal.realm, status=status, limit=size, cursor=cursor,
            viewer_brand=viewer(principal)))


@router.post("", status_code=201, summary="Create a raffle (its server seed is committed now)")
async def create_raffle(body: RaffleIn, request: Request, principal: Config) -> MoneyJSONResponse:
    fields = body.model_dump()
    return await write(request, principal, payload=fields, status=201,
                       call=lambda conn, at: service.create(
                           conn, realm=principal.realm, fields=fields, actor=principal.actor,
                           at=at))


@router.get("/{raffle_id}", summary="One raffle, with its draw once drawn",
            responses={404: ERRORS[404]})
async def get_raffle(raffle_id: str, request: Request, principal: Public) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.get_one(conn, principal.realm, raffle_id,
                                                       viewer(principal)))


@router.patch("/{raffle_id}", summary="Change a raffle (cost and prize only before any ticket)",
              responses=ERRORS)
async def patch_raffle(raffle_id: str, body: RafflePatch, request: Request,
                       principal: Config) -> MoneyJSONResponse:
    payload = body.model_dump(exclude_unset=True)
    fields = {k: v for k, v in payload.items() if k != "idempotency_key"}
    return await write(request, principal, payload=payload, status=200,
                       call=lambda conn, at: service.update(
                           conn, realm=principal.realm, ref=raffle_id, fields=fields,
                           actor=principal.actor, at=at, viewer_brand=principal.brand_id))


async def _set_status(raffle_id: str, to: str, body: StatusChangeIn | None, request: Request,
                      principal: Principal) -> MoneyJSONResponse:
    return await write(request, principal, payload=(body or StatusChangeIn()).model_dump(),
                       status=200, call=lambda conn, at: service.set_status(
                           conn, realm=principal.realm, ref=raffle_id, to=to,
                           actor=principal.actor, at=at))


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
    return await write(request, principal, payload=body.model_dump(), status=201,
                       call=lambda conn, at: service.enter(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           ref=raffle_id, user_ref=body.user_id, tickets_wanted=body.tickets,
                           at=at))


@router.get("/{raffle_id}/entries/{key}",
            summary="A player's own entries: their tickets and their holder id",
            responses={404: ERRORS[404]})
async def get_player_entries(raffle_id: str, key: str, request: Request,
                             principal: Read) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.player_entries(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=raffle_id,
            user_ref=key))


@router.get("/{raffle_id}/tickets",
            summary="The ticket list by holder id, the exact bytes hashed, and their SHA-256 "
                    "(client seed)",
            responses={404: ERRORS[404]})
async def get_tickets(raffle_id: str, request: Request, principal: Public) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.ticket_list(conn, principal.realm, raffle_id))


@router.post("/{raffle_id}/draw", status_code=201,
             summary="Draw the winner (provably fair) and credit the prize", responses=ERRORS)
async def draw_raffle(raffle_id: str, request: Request, principal: Config,
                      body: DrawIn | None = None) -> MoneyJSONResponse:
    return await write(request, principal, payload=(body or DrawIn()).model_dump(), status=201,
                       call=lambda conn, at: service.draw(
                           conn, realm=principal.realm, ref=raffle_id, trigger="manual",
                           actor=principal.actor, at=at, viewer_brand=principal.brand_id))
