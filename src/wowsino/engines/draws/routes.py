"""The HTTP routes of an engine that draws from a prize table, built once.

Configuration (list, create, get, change, pause, resume) and past uses go
straight to the shared services (``games``, ``flow``); a use (a lootbox is
opened, a mini-game played) goes to the engine's own service, which shapes the
answer and emits the engine's event. ``PrizeGameApi`` names what differs.
"""

# Annotations here are evaluated when a router is built (no ``from __future__ import
# annotations``): FastAPI reads each engine's path parameter from them.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, TypeVar
from uuid import UUID

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines.auth import Config, Public, Read, Use
from wowsino.engines.draws import games
from wowsino.engines.draws.flow import Drawn, draw_lookups, results
from wowsino.engines.draws.schemas import DrawIn, PrizeGameIn, PrizeGamePatch, StatusChangeIn
from wowsino.kernel.auth import Principal
from wowsino.kernel.db import read_only
from wowsino.kernel.direct import direct
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import Limit, check_limit
from wowsino.kernel.realm import Realm
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import platform_of, write

Errors = dict[int | str, dict[str, Any]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


class DrawCall(Protocol):
    """The engine's use for a player (``open_lootbox``, ``play_mini_game``): its answer."""

    def __call__(
        self, conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, user_ref: str,
        client_seed: str | None, at: datetime,
    ) -> Awaitable[dict[str, Any]]: ...


@dataclass(frozen=True)
class PrizeGameApi:
    """What the routes of one prize-table engine name differently.

    The game's noun names the path parameter (``lootbox_id``), the answer's key
    and the operations (``create_lootbox``); written with a hyphen it is the
    noun of the summaries (``mini-game``).
    """

    game: games.PrizeGame
    prefix: str  # "/lootbox"
    tag: str
    plural: str  # of the noun: "lootboxes", "mini_games"
    changeable: str  # what a change may change, in its summary
    cost_holder: str  # "box": "INSUFFICIENT_WINZ: the box's cost"
    use: str  # the verb of a use, and its path: "open"
    uses: str  # the path of past uses: "opens"
    use_conflicts: str  # the 409 answers of a use
    create_body: type[PrizeGameIn]  # each extends the shared body model
    change_body: type[PrizeGamePatch]
    use_body: type[DrawIn]
    draw: DrawCall
    view: Callable[[Drawn], dict[str, Any]]  # a use as the API shows it: ``open_view``


def _body_is(model: type[BaseModel]) -> Callable[[Endpoint], Endpoint]:
    """Have FastAPI validate and document an endpoint's ``body`` as the engine's ``model``;
    the code types it by the shared class that ``model`` extends."""

    def declare(endpoint: Endpoint) -> Endpoint:
        endpoint.__annotations__["body"] = model
        return endpoint

    return declare


def prize_game_router(api: PrizeGameApi) -> APIRouter:
    """The engine's routes under ``api.prefix``: configuration, then use and past uses."""
    router = APIRouter(prefix=api.prefix, tags=[api.tag], route_class=DecimalRoute)
    _add_configuration(router, api)
    _add_use(router, api)
    return router


def _path(game: games.PrizeGame) -> str:
    """One entity's path: ``/{lootbox_id}``."""
    return f"/{{{game.noun}_id}}"


def _add_configuration(router: APIRouter, api: PrizeGameApi) -> None:
    game, noun, item = api.game, api.game.noun, _path(api.game)
    Ref = Annotated[str, Path(alias=f"{noun}_id")]  # the path parameter: lootbox_id
    title, titles = noun.replace("_", "-"), api.plural.replace("_", "-")
    not_found: Errors = {404: {"description": game.not_found_code}}
    errors: Errors = {
        400: {"description": "VALIDATION_ERROR naming the field"}, **not_found,
        409: {"description": "NOT_ACTIVE (a bad pause/resume)"},
    }

    @router.get("", name=f"list_{api.plural}",
                summary=f"The realm's {titles} with configuration and status")
    @routed_read
    async def list_entities(request: Request, principal: Public,
                            status: Literal["active", "paused"] | None = None,
                            limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
        size = check_limit(limit)
        async with reading(request) as conn:
            return MoneyJSONResponse(await games.listing(
                conn, game=game, realm=principal.realm, status=status, limit=size, cursor=cursor))

    @router.post("", status_code=201, name=f"create_{noun}", summary=f"Create a {title}",
                 responses=errors)
    @_body_is(api.create_body)
    async def create_entity(body: PrizeGameIn, request: Request,
                            principal: Config) -> MoneyJSONResponse:
        fields = body.model_dump(exclude_unset=True)

        async def create(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
            return games.answer(game, await games.create(
                conn, game=game, realm=principal.realm, fields=fields, actor=principal.actor,
                at=at))

        return await write(request, principal, payload=dict(fields), status=201, call=create)

    @router.get(item, name=f"get_{noun}", summary=f"One {title}", responses=not_found)
    async def get_entity(ref: Ref, request: Request, principal: Public) -> MoneyJSONResponse:
        async with read_only(platform_of(request).engine) as conn:
            return MoneyJSONResponse(games.answer(game, await games.load(
                conn, game, principal.realm, ref)))

    @router.patch(item, name=f"update_{noun}",
                  summary=f"Change a {title}'s {api.changeable}", responses=errors)
    @_body_is(api.change_body)
    async def update_entity(ref: Ref, body: PrizeGamePatch, request: Request,
                            principal: Config) -> MoneyJSONResponse:
        fields = body.model_dump(exclude_unset=True)

        async def update(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
            return games.answer(game, await games.update(
                conn, game=game, realm=principal.realm, ref=ref, fields=fields,
                actor=principal.actor, at=at))

        return await write(request, principal, payload=dict(fields), status=200, call=update)

    async def change_status(ref: str, to: str, body: StatusChangeIn | None, request: Request,
                            principal: Principal) -> MoneyJSONResponse:
        async def set_status(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
            return games.answer(game, await games.set_status(
                conn, game=game, realm=principal.realm, ref=ref, to=to, actor=principal.actor,
                at=at))

        payload = body.model_dump(exclude_unset=True) if body else {}
        return await write(request, principal, payload=payload, status=200, call=set_status)

    @router.post(f"{item}/pause", name=f"pause_{noun}", responses=errors,
                 summary=f"Pause a {title} ({api.uses} answer 409 NOT_ACTIVE)")
    async def pause_entity(ref: Ref, request: Request, principal: Config,
                           body: StatusChangeIn | None = None) -> MoneyJSONResponse:
        return await change_status(ref, "paused", body, request, principal)

    @router.post(f"{item}/resume", name=f"resume_{noun}",
                 summary=f"Resume a paused {title}", responses=errors)
    async def resume_entity(ref: Ref, request: Request, principal: Config,
                            body: StatusChangeIn | None = None) -> MoneyJSONResponse:
        return await change_status(ref, "active", body, request, principal)


def _add_use(router: APIRouter, api: PrizeGameApi) -> None:
    game, noun, item = api.game, api.game.noun, _path(api.game)
    Ref = Annotated[str, Path(alias=f"{noun}_id")]  # the path parameter: lootbox_id
    not_found: Errors = {404: {"description": f"{game.not_found_code} or NO_PLAYER"}}
    errors: Errors = {
        400: {"description": "VALIDATION_ERROR"},
        402: {"description": f"INSUFFICIENT_WINZ: the {api.cost_holder}'s cost; nothing changed"},
        403: {"description": "PLAYER_BLOCKED by the compliance gate; nothing changed"},
        **not_found,
        409: {"description": api.use_conflicts},
        422: {"description": "IDEMPOTENCY_KEY_REUSED"},
    }

    @router.post(f"{item}/{api.use}", status_code=201, name=f"{api.use}_{noun}",
                 responses=errors,
                 summary=f"{api.use.capitalize()} a {noun.replace('_', '-')} for a player "
                         "(provably fair draw, reward credited)")
    @_body_is(api.use_body)
    @direct
    async def use_entity(ref: Ref, body: DrawIn, request: Request,
                         principal: Use) -> MoneyJSONResponse:
        async def draw(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
            return await api.draw(conn, realm=principal.realm, brand_id=principal.brand_id,
                                  ref=ref, user_ref=body.user_id, client_seed=body.client_seed,
                                  at=at)

        return await write(request, principal, payload=body.model_dump(exclude_unset=True),
                           status=201, call=draw,
                           lookups=draw_lookups(api.game, principal.realm, principal.brand_id,
                                                ref, body.user_id))

    @router.get(f"{item}/{api.uses}", name=f"list_{api.uses}", responses=not_found,
                summary=f"Past {api.uses} with every published input, newest first")
    async def list_uses(ref: Ref, request: Request, principal: Read,
                        user_id: str | None = None, limit: Limit = None,
                        cursor: str | None = None) -> MoneyJSONResponse:
        size = check_limit(limit)
        async with read_only(platform_of(request).engine) as conn:
            return MoneyJSONResponse(await results(
                conn, game=game, view=api.view, realm=principal.realm,
                brand_id=principal.brand_id, ref=ref, user_ref=user_id, limit=size, cursor=cursor))
