"""``/v1/mini-games``: thin routes over the mini-game service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines.minigames import service
from wowsino.engines.minigames.schemas import MiniGameIn, MiniGamePatch, PlayIn, StatusChangeIn
from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import check_limit
from wowsino.kernel.platform import Platform
from wowsino.kernel.writes import idempotent

router = APIRouter(prefix="/mini-games", tags=["mini-games"], route_class=DecimalRoute)

Read = Annotated[Principal, scoped("engagement:read")]
Use = Annotated[Principal, scoped("engagement:write")]
Config = Annotated[Principal, scoped("config:write")]
Limit = Annotated[int | None, Query(description="1–500, default 50")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "NO_MINI_GAME"}}
CONFIG_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR naming the field"}, **NOT_FOUND,
    409: {"description": "NOT_ACTIVE (a bad pause/resume)"},
}
PLAY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR"},
    402: {"description": "INSUFFICIENT_WINZ: the game's cost; nothing changed"},
    403: {"description": "PLAYER_BLOCKED by the compliance gate; nothing changed"},
    404: {"description": "NO_MINI_GAME or NO_PLAYER"},
    409: {"description": "NOT_ACTIVE (paused), PLAY_LIMIT_REACHED (plays_per_day used up "
                         "this UTC day) or IDEMPOTENCY_IN_PROGRESS"},
    422: {"description": "IDEMPOTENCY_KEY_REUSED"},
}


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


@router.get("", summary="The realm's mini-games with configuration and status")
async def list_mini_games(request: Request, principal: Read,
                          status: Literal["active", "paused"] | None = None,
                          limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with read_only(_platform(request).engine) as conn:
        return MoneyJSONResponse(await service.list_mini_games(
            conn, realm=principal.realm, status=status, limit=size, cursor=cursor))


@router.post("", status_code=201, summary="Create a mini-game", responses=CONFIG_ERRORS)
async def create_mini_game(body: MiniGameIn, request: Request,
                           principal: Config) -> MoneyJSONResponse:
    clock = _platform(request).clock
    fields = body.model_dump(exclude_unset=True)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 201, await service.create_mini_game(conn, realm=principal.realm, fields=fields,
                                                   actor=principal.actor, at=clock.now())

    return await idempotent(request, principal, payload=dict(fields), effect=effect)


@router.get("/{mini_game_id}", summary="One mini-game", responses=NOT_FOUND)
async def get_mini_game(mini_game_id: str, request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(_platform(request).engine) as conn:
        return MoneyJSONResponse(await service.get_mini_game(conn, realm=principal.realm,
                                                             ref=mini_game_id))


@router.patch("/{mini_game_id}", summary="Change a mini-game's configuration",
              responses=CONFIG_ERRORS)
async def update_mini_game(mini_game_id: str, body: MiniGamePatch, request: Request,
                           principal: Config) -> MoneyJSONResponse:
    clock = _platform(request).clock
    fields = body.model_dump(exclude_unset=True)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 200, await service.update_mini_game(conn, realm=principal.realm,
                                                   ref=mini_game_id, fields=fields,
                                                   actor=principal.actor, at=clock.now())

    return await idempotent(request, principal, payload=dict(fields), effect=effect)


async def _set_status(mini_game_id: str, to: str, body: StatusChangeIn | None,
                      request: Request, principal: Principal) -> MoneyJSONResponse:
    clock = _platform(request).clock

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 200, await service.set_mini_game_status(conn, realm=principal.realm,
                                                       ref=mini_game_id, to=to,
                                                       actor=principal.actor, at=clock.now())

    payload = body.model_dump(exclude_unset=True) if body else {}
    return await idempotent(request, principal, payload=payload, effect=effect)


@router.post("/{mini_game_id}/pause", summary="Pause a mini-game (plays answer 409 NOT_ACTIVE)",
             responses=CONFIG_ERRORS)
async def pause_mini_game(mini_game_id: str, request: Request, principal: Config,
                          body: StatusChangeIn | None = None) -> MoneyJSONResponse:
    return await _set_status(mini_game_id, "paused", body, request, principal)


@router.post("/{mini_game_id}/resume", summary="Resume a paused mini-game",
             responses=CONFIG_ERRORS)
async def resume_mini_game(mini_game_id: str, request: Request, principal: Config,
                           body: StatusChangeIn | None = None) -> MoneyJSONResponse:
    return await _set_status(mini_game_id, "active", body, request, principal)


@router.post("/{mini_game_id}/play", status_code=201, responses=PLAY_ERRORS,
             summary="Play a mini-game for a player (provably fair draw, reward credited)")
async def play_mini_game(mini_game_id: str, body: PlayIn, request: Request,
                         principal: Use) -> MoneyJSONResponse:
    clock = _platform(request).clock

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 201, await service.play_mini_game(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=mini_game_id,
            user_ref=body.user_id, client_seed=body.client_seed, at=clock.now())

    return await idempotent(request, principal, payload=body.model_dump(exclude_unset=True),
                            effect=effect)


@router.get("/{mini_game_id}/plays",
            responses={404: {"description": "NO_MINI_GAME or NO_PLAYER"}},
            summary="Past plays with every published input, newest first")
async def list_plays(mini_game_id: str, request: Request, principal: Read,
                     user_id: str | None = None, limit: Limit = None,
                     cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with read_only(_platform(request).engine) as conn:
        return MoneyJSONResponse(await service.list_plays(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=mini_game_id,
            user_ref=user_id, limit=size, cursor=cursor))
