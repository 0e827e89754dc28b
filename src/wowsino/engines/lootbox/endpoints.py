"""``/v1/lootbox`` (singular, as the public API names it): thin routes over the lootbox service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines.lootbox import service
from wowsino.engines.lootbox.schemas import LootboxIn, LootboxPatch, OpenIn, StatusChangeIn
from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import check_limit
from wowsino.kernel.platform import Platform
from wowsino.kernel.writes import idempotent

router = APIRouter(prefix="/lootbox", tags=["lootbox"], route_class=DecimalRoute)

Read = Annotated[Principal, scoped("engagement:read")]
Use = Annotated[Principal, scoped("engagement:write")]
Config = Annotated[Principal, scoped("config:write")]
Limit = Annotated[int | None, Query(description="1–500, default 50")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "NO_LOOTBOX"}}
CONFIG_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR naming the field"}, **NOT_FOUND,
    409: {"description": "NOT_ACTIVE (a bad pause/resume)"},
}
OPEN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR"},
    402: {"description": "INSUFFICIENT_WINZ: the box's cost; nothing changed"},
    403: {"description": "PLAYER_BLOCKED by the compliance gate; nothing changed"},
    404: {"description": "NO_LOOTBOX or NO_PLAYER"},
    409: {"description": "NOT_ACTIVE (paused) or IDEMPOTENCY_IN_PROGRESS"},
    422: {"description": "IDEMPOTENCY_KEY_REUSED"},
}


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


@router.get("", summary="The realm's lootboxes with configuration and status")
async def list_lootboxes(request: Request, principal: Read,
                         status: Literal["active", "paused"] | None = None,
                         limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with read_only(_platform(request).engine) as conn:
        return MoneyJSONResponse(await service.list_lootboxes(
            conn, realm=principal.realm, status=status, limit=size, cursor=cursor))


@router.post("", status_code=201, summary="Create a lootbox", responses=CONFIG_ERRORS)
async def create_lootbox(body: LootboxIn, request: Request, principal: Config) -> MoneyJSONResponse:
    clock = _platform(request).clock
    fields = body.model_dump(exclude_unset=True)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 201, await service.create_lootbox(conn, realm=principal.realm, fields=fields,
                                                 actor=principal.actor, at=clock.now())

    return await idempotent(request, principal, payload=dict(fields), effect=effect)


@router.get("/{lootbox_id}", summary="One lootbox", responses=NOT_FOUND)
async def get_lootbox(lootbox_id: str, request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(_platform(request).engine) as conn:
        return MoneyJSONResponse(await service.get_lootbox(conn, realm=principal.realm,
                                                           ref=lootbox_id))


@router.patch("/{lootbox_id}", summary="Change a lootbox's name, prize table or cost",
              responses=CONFIG_ERRORS)
async def update_lootbox(lootbox_id: str, body: LootboxPatch, request: Request,
                         principal: Config) -> MoneyJSONResponse:
    clock = _platform(request).clock
    fields = body.model_dump(exclude_unset=True)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 200, await service.update_lootbox(conn, realm=principal.realm, ref=lootbox_id,
                                                 fields=fields, actor=principal.actor,
                                                 at=clock.now())

    return await idempotent(request, principal, payload=dict(fields), effect=effect)


async def _set_status(lootbox_id: str, to: str, body: StatusChangeIn | None, request: Request,
                      principal: Principal) -> MoneyJSONResponse:
    clock = _platform(request).clock

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 200, await service.set_lootbox_status(conn, realm=principal.realm, ref=lootbox_id,
                                                     to=to, actor=principal.actor,
                                                     at=clock.now())

    payload = body.model_dump(exclude_unset=True) if body else {}
    return await idempotent(request, principal, payload=payload, effect=effect)


@router.post("/{lootbox_id}/pause", summary="Pause a lootbox (opens answer 409 NOT_ACTIVE)",
             responses=CONFIG_ERRORS)
async def pause_lootbox(lootbox_id: str, request: Request, principal: Config,
                        body: StatusChangeIn | None = None) -> MoneyJSONResponse:
    return await _set_status(lootbox_id, "paused", body, request, principal)


@router.post("/{lootbox_id}/resume", summary="Resume a paused lootbox", responses=CONFIG_ERRORS)
async def resume_lootbox(lootbox_id: str, request: Request, principal: Config,
                         body: StatusChangeIn | None = None) -> MoneyJSONResponse:
    return await _set_status(lootbox_id, "active", body, request, principal)


@router.post("/{lootbox_id}/open", status_code=201, responses=OPEN_ERRORS,
             summary="Open a lootbox for a player (provably fair draw, reward credited)")
async def open_lootbox(lootbox_id: str, body: OpenIn, request: Request,
                       principal: Use) -> MoneyJSONResponse:
    clock = _platform(request).clock

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return 201, await service.open_lootbox(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=lootbox_id,
            user_ref=body.user_id, client_seed=body.client_seed, at=clock.now())

    return await idempotent(request, principal, payload=body.model_dump(exclude_unset=True),
                            effect=effect)


@router.get("/{lootbox_id}/opens", responses={404: {"description": "NO_LOOTBOX or NO_PLAYER"}},
            summary="Past opens with every published input, newest first")
async def list_opens(lootbox_id: str, request: Request, principal: Read,
                     user_id: str | None = None, limit: Limit = None,
                     cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with read_only(_platform(request).engine) as conn:
        return MoneyJSONResponse(await service.list_opens(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=lootbox_id,
            user_ref=user_id, limit=size, cursor=cursor))
