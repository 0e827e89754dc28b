"""``/v1/players/<key>/fairness``: the player's current commitment and client seed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.fairness import service
from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.writes import platform_of, write
from wowsino.players import service as players

router = APIRouter(prefix="/players", tags=["fairness"], route_class=DecimalRoute)


class ClientSeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_seed: str = Field(min_length=1, max_length=service.MAX_CLIENT_SEED)
    idempotency_key: str | None = None


def _answer(player: dict[str, Any], c: service.Commitment) -> dict[str, Any]:
    return {"fairness": {"user_id": str(player["id"]), "server_seed_hash": c.server_seed_hash,
                         "client_seed": c.client_seed, "draws": c.draws}}


@router.get("/{key}/fairness", summary="The commitment for the player's next draw")
async def get_fairness(key: str, request: Request,
                       principal: Annotated[Principal, scoped("engagement:read")]
                       ) -> MoneyJSONResponse:
    platform = platform_of(request)

    async def read(conn: AsyncConnection) -> dict[str, Any]:
        player = await players.get(conn, principal.realm, principal.brand_id, key)
        found = await service.commitment(conn, principal.realm, player["id"],
                                         platform.clock.now())
        return _answer(player, found)

    return MoneyJSONResponse(await unit_of_work(platform.engine, read))


@router.put("/{key}/fairness", summary="Set the player's default client seed")
async def put_fairness(key: str, body: ClientSeedIn, request: Request,
                       principal: Annotated[Principal, scoped("engagement:write")]
                       ) -> MoneyJSONResponse:
    async def set_client_seed(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
        player = await players.get(conn, principal.realm, principal.brand_id, key)
        found = await service.set_client_seed(conn, principal.realm, player["id"],
                                              body.client_seed, at)
        return _answer(player, found)

    return await write(request, principal, payload=body.model_dump(), status=200,
                       call=set_client_seed)
