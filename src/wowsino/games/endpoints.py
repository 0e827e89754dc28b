"""``GET /v1/games`` (a white-label brand's secret or publishable key), ``POST
/v1/games/{game_id}/launch`` (a player session) and ``GET|PUT
/v1/brands/{slug}/aggregators/{adapter}`` (the operator's configuration of a brand's
aggregators, scope ``config:write``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.games import aggregator_config, catalogue, sessions
from wowsino.kernel.auth import Principal, white_label
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.http import NEVER_REPLAYED
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import Limit, check_limit
from wowsino.kernel.writes import platform_of, write
from wowsino.pam.sessions import CurrentPlayer

router = APIRouter(tags=["games"], route_class=DecimalRoute)

CatalogueKey = Annotated[Principal, white_label("engagement:read", public=True)]
Config = Annotated[Principal, white_label("config:write")]
Category = Literal["slots", "table", "live", "sports", "other"]

CONFIG_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR: a secret of the wrong length or characters, a "
                         "launch_url that is not an absolute http(s) address"},
    403: {"description": "SCOPE_DENIED (also any key of a plug-in tenant)"},
    404: {"description": "NOT_FOUND: no such brand of the tenant, or no such aggregator"},
}


class LaunchIn(BaseModel):
    """A launch takes nothing but the game (in the path) and the player (the session).
    It is never replayed: each launch opens a new game session with a new token."""

    model_config = ConfigDict(extra="forbid")


class AggregatorConfigIn(BaseModel):
    """``secret``: the brand's own signing secret (16 to 256 visible ASCII characters),
    write-only; omitted, the stored one stays; ``null`` removes it (the platform's signs
    again). ``launch_url``: the base address the brand's launched games open at (``null``
    or omitted: the platform's). ``enabled: false`` takes the aggregator's games out of the
    catalogue and ends its open sessions' betting."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    secret: str | None = Field(default=None, max_length=256)
    launch_url: str | None = Field(default=None, max_length=2048)
    idempotency_key: str | None = Field(default=None, max_length=255)


@router.get("/games", summary="The brand's game catalogue (secret or publishable key)")
async def list_games(request: Request, principal: CatalogueKey, category: Category | None = None,
                     limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        brand = await aggregator_config.for_brand(conn, principal.realm, principal.brand_id)
    return MoneyJSONResponse(catalogue.listing(platform.settings, principal.realm, brand,
                                               category=category, cursor=cursor, limit=size))


@router.post("/games/{game_id}/launch", status_code=201, openapi_extra=NEVER_REPLAYED,
             summary="Launch a game for the calling player: a game session token",
             responses={403: {"description": "PLAYER_BLOCKED: self-excluded, on a time-out or "
                                             "held; nothing was opened"},
                        404: {"description": "NO_GAME: not in the brand's catalogue"}})
async def launch(game_id: str, request: Request, session: CurrentPlayer,
                 body: LaunchIn | None = None) -> MoneyJSONResponse:
    platform = platform_of(request)

    async def work(conn: AsyncConnection) -> dict[str, object]:
        brand = await aggregator_config.for_brand(conn, session.realm, session.brand_id)
        game = catalogue.game(platform.settings, session.realm, brand, game_id)
        return await sessions.launch(conn, settings=platform.settings, realm=session.realm,
                                     brand_id=session.brand_id, player_id=session.player_id,
                                     game=game, at=platform.clock.now(),
                                     launch_base=brand[game.aggregator].launch_url)

    return MoneyJSONResponse(await unit_of_work(platform.engine, work), status_code=201)


@router.get("/brands/{slug}/aggregators/{adapter}", responses=CONFIG_ERRORS,
            summary="A brand's use of a game aggregator: on or off, whether it set its own "
                    "secret (never the secret), its launch address")
async def get_aggregator(slug: str, adapter: str, request: Request,
                         principal: Config) -> MoneyJSONResponse:
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        return MoneyJSONResponse(await aggregator_config.show(
            conn, realm=principal.realm, settings=platform.settings, slug=slug,
            adapter_name=adapter))


@router.put("/brands/{slug}/aggregators/{adapter}", responses=CONFIG_ERRORS,
            summary="Configure a brand's use of a game aggregator: on or off, its signing "
                    "secret (write-only), its launch address")
async def put_aggregator(slug: str, adapter: str, body: AggregatorConfigIn, request: Request,
                         principal: Config) -> MoneyJSONResponse:
    platform = platform_of(request)
    secret = body.secret if "secret" in body.model_fields_set else aggregator_config.KEEP
    # the request's fingerprint holds a digest of the secret, never its value
    payload = {**body.model_dump(mode="json", exclude={"secret"}),
               "secret": aggregator_config.fingerprinted(secret)}
    return await write(request, principal, payload=payload, status=200,
                       call=lambda conn, at: aggregator_config.put(
                           conn, realm=principal.realm, settings=platform.settings, slug=slug,
                           adapter_name=adapter, enabled=body.enabled, secret=secret,
                           launch_url=body.launch_url, actor=principal.actor, at=at))
