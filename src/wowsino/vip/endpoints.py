"""``/v1/vip`` and ``/v1/players/<key>/vip``: thin routes over ``vip.service``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from wowsino.engines.auth import Config, Read
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import platform_of, write
from wowsino.vip import service
from wowsino.vip.schemas import VipIn

router = APIRouter(tags=["vip"], route_class=DecimalRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR naming the field"},
    404: {"description": "NO_TEMPLATE or NO_LOOTBOX: a reward or the cashback template"},
}


@router.get("/vip", summary="The VIP programme (null until set) and the brands it excludes")
async def get_vip(request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.show(conn, principal.realm))


@router.put("/vip", summary="Set the VIP programme; every player is placed on the new ladder",
            responses=ERRORS)
async def put_vip(body: VipIn, request: Request, principal: Config) -> MoneyJSONResponse:
    fields = body.model_dump()
    return await write(request, principal, payload=body.model_dump(mode="json"), status=200,
                       call=lambda conn, at: service.put(
                           conn, realm=principal.realm, fields=fields, actor=principal.actor,
                           at=at))


@router.get("/players/{key}/vip",
            summary="A player's VIP standing: level, XP today and cap, progress, cashback",
            responses={404: {"description": "NO_PLAYER"}})
@routed_read
async def get_player_vip(key: str, request: Request, principal: Read) -> MoneyJSONResponse:
    platform = platform_of(request)
    async with reading(request) as conn:
        return MoneyJSONResponse(await service.player_view(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=key,
            now=platform.clock.now()))
