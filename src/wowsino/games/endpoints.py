"""``GET /v1/games`` (a white-label brand's secret or publishable key) and ``POST
/v1/games/{game_id}/launch`` (a player session)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.games import catalogue, sessions
from wowsino.kernel.auth import Principal, white_label
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.http import NEVER_REPLAYED
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import Limit, check_limit
from wowsino.kernel.writes import platform_of
from wowsino.pam.sessions import CurrentPlayer

router = APIRouter(tags=["games"], route_class=DecimalRoute)

CatalogueKey = Annotated[Principal, white_label("engagement:read", public=True)]
Category = Literal["slots", "table", "live", "sports", "other"]


class LaunchIn(BaseModel):
    """A launch takes nothing but the game (in the path) and the player (the session).
    It is never replayed: each launch opens a new game session with a new token."""

    model_config = ConfigDict(extra="forbid")


@router.get("/games", summary="The brand's game catalogue (secret or publishable key)")
async def list_games(request: Request, principal: CatalogueKey, category: Category | None = None,
                     limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    return MoneyJSONResponse(catalogue.listing(platform_of(request).settings, principal.realm,
                                               category=category, cursor=cursor, limit=size))


@router.post("/games/{game_id}/launch", status_code=201, openapi_extra=NEVER_REPLAYED,
             summary="Launch a game for the calling player: a game session token",
             responses={403: {"description": "PLAYER_BLOCKED: self-excluded, on a time-out or "
                                             "held; nothing was opened"},
                        404: {"description": "NO_GAME: not in the brand's catalogue"}})
async def launch(game_id: str, request: Request, session: CurrentPlayer,
                 body: LaunchIn | None = None) -> MoneyJSONResponse:
    platform = platform_of(request)
    game = catalogue.game(platform.settings, session.realm, game_id)

    async def work(conn: AsyncConnection) -> dict[str, object]:
        return await sessions.launch(conn, settings=platform.settings, realm=session.realm,
                                     brand_id=session.brand_id, player_id=session.player_id,
                                     game=game, at=platform.clock.now())

    return MoneyJSONResponse(await unit_of_work(platform.engine, work), status_code=201)
