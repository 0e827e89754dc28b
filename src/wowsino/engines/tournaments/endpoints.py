"""``/v1/tournaments``: thin routes over ``engines.tournaments.service``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from wowsino.engines.auth import Config, Public, Use
from wowsino.engines.tournaments import service, views
from wowsino.engines.tournaments.schemas import (
    JoinIn,
    KeyOnly,
    ScoreIn,
    Status,
    TournamentIn,
    TournamentPatch,
)
from wowsino.kernel.auth import Principal
from wowsino.kernel.db import read_only
from wowsino.kernel.direct import direct
from wowsino.kernel.errors import Forbidden
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import Limit, check_limit
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import platform_of, write, write_answer

router = APIRouter(prefix="/tournaments", tags=["tournaments"], route_class=DecimalRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR"},
    404: {"description": "NO_TOURNAMENT, NO_PLAYER, NO_TEMPLATE"},
    409: {"description": "NOT_ACTIVE (paused, closed, not started or ended), "
                         "TOURNAMENT_STARTED, IDEMPOTENCY_IN_PROGRESS"},
    422: {"description": "IDEMPOTENCY_KEY_REUSED"},
}
PLAYER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"description": "PLAYER_BLOCKED"},
    409: {"description": "NOT_ACTIVE, NOT_JOINED, TOURNAMENT_FULL, SOURCE_ID_REUSED, "
                         "IDEMPOTENCY_IN_PROGRESS"},
}


def _now(request: Request) -> Any:
    return platform_of(request).clock.now()


@router.get("", summary="Tournaments with their configuration, status and participants")
@routed_read
async def list_tournaments(request: Request, principal: Public, status: Status | None = None,
                           limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        return MoneyJSONResponse(await service.listing(
            conn, principal.realm, status=status, limit=size, cursor=cursor, at=_now(request)))


@router.post("", status_code=201, summary="Create a tournament", responses=ERRORS)
async def create_tournament(body: TournamentIn, request: Request,
                            principal: Config) -> MoneyJSONResponse:
    fields = body.model_dump(exclude={"idempotency_key"})
    return await write(request, principal, payload=body.model_dump(mode="json"), status=201,
                       call=lambda conn, at: service.create(
                           conn, realm=principal.realm, fields=fields, actor=principal.actor,
                           at=at))


@router.get("/{tournament_id}", summary="One tournament", responses=ERRORS)
async def get_tournament(tournament_id: str, request: Request,
                         principal: Public) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.get_one(conn, principal.realm, tournament_id,
                                                       _now(request)))


@router.patch("/{tournament_id}",
              summary="Change a tournament (scoring rules only before it starts)",
              responses=ERRORS)
async def update_tournament(tournament_id: str, body: TournamentPatch, request: Request,
                            principal: Config) -> MoneyJSONResponse:
    requested = body.model_dump(exclude_unset=True, exclude={"idempotency_key"})
    return await write(request, principal, payload=body.model_dump(mode="json",
                                                                   exclude_unset=True),
                       status=200, call=lambda conn, at: service.update(
                           conn, realm=principal.realm, ref=tournament_id, requested=requested,
                           actor=principal.actor, at=at))


async def _set_status(tournament_id: str, body: KeyOnly | None, request: Request,
                      principal: Principal, to: str) -> MoneyJSONResponse:
    return await write(request, principal, payload=(body or KeyOnly()).model_dump(),
                       status=200, call=lambda conn, at: service.set_status(
                           conn, realm=principal.realm, ref=tournament_id, to=to,
                           actor=principal.actor, at=at))


@router.post("/{tournament_id}/pause", summary="Pause: scores, joins and close answer 409",
             responses=ERRORS)
async def pause_tournament(tournament_id: str, request: Request, principal: Config,
                           body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await _set_status(tournament_id, body, request, principal, "paused")


@router.post("/{tournament_id}/resume", summary="Resume a paused tournament", responses=ERRORS)
async def resume_tournament(tournament_id: str, request: Request, principal: Config,
                            body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await _set_status(tournament_id, body, request, principal, "active")


@router.post("/{tournament_id}/join", status_code=201,
             summary="Enter a player (needed before an opt-in tournament scores them)",
             responses={**PLAYER_ERRORS, 200: {"description": "already joined, or a replay"}})
async def join_tournament(tournament_id: str, body: JoinIn, request: Request,
                          principal: Use) -> MoneyJSONResponse:
    return await write_answer(request, principal, payload=body.model_dump(mode="json"),
                              call=lambda conn, at: service.join(
                                  conn, realm=principal.realm, brand_id=principal.brand_id,
                                  ref=tournament_id, user_ref=body.user_id, at=at),
                              lookups=service.write_lookups(principal.realm, principal.brand_id,
                                                            tournament_id, body.user_id))


@router.post("/{tournament_id}/score", status_code=201,
             summary="Add to a player's score (deduped on source_wager_id)",
             responses={**PLAYER_ERRORS,
                        200: {"description": "a replay or a known source_wager_id"}})
@direct
async def score_tournament(tournament_id: str, body: ScoreIn, request: Request,
                           principal: Use) -> MoneyJSONResponse:
    fields = body.model_dump(exclude={"idempotency_key"})
    return await write_answer(request, principal, payload=body.model_dump(mode="json"),
                              call=lambda conn, at: service.score(
                                  conn, realm=principal.realm, brand_id=principal.brand_id,
                                  ref=tournament_id, fields=fields, at=at),
                              lookups=service.write_lookups(principal.realm, principal.brand_id,
                                                            tournament_id, body.user_id))


@router.get("/{tournament_id}/leaderboard",
            summary="Standings {rank, user, score}: ties go to who reached the score first "
                    "(to a publishable key: players by username only, no around)",
            responses=ERRORS)
@routed_read
async def leaderboard(
    tournament_id: str, request: Request, principal: Public, limit: Limit = None,
    cursor: str | None = None,
    around: str | None = Query(default=None, min_length=1, max_length=128,
                               description="a player (username or id): the rows around them"),
) -> MoneyJSONResponse:
    size = check_limit(limit)
    if principal.publishable and around is not None:
        raise Forbidden("around names a player: a publishable key reads the board only",
                        scope="engagement:read")
    async with reading(request) as conn:
        page = await service.standings(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=tournament_id,
            limit=size, cursor=cursor, around=around)
    # a brand's site shows its own players by username, never by id
    return MoneyJSONResponse(views.anonymous(page) if principal.publishable else page)


@router.post("/{tournament_id}/close", status_code=201,
             summary="Close now: pay the prize table once, emit tournament.closed",
             responses={**ERRORS, 200: {"description": "a replay"}})
async def close_tournament(tournament_id: str, request: Request, principal: Use,
                           body: KeyOnly | None = None) -> MoneyJSONResponse:
    chosen = body or KeyOnly()
    return await write(request, principal, payload=chosen.model_dump(), status=201,
                       call=lambda conn, at: service.close(
                           conn, realm=principal.realm, service_mode=principal.service_mode,
                           ref=tournament_id, trigger="manual", actor=principal.actor, at=at,
                           viewer_brand=principal.brand_id))
