"""The player's wallet under ``/v1/player``, with the player's session token: thin routes
over the wallet's services (the same the operator's side uses)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.db import read_only
from wowsino.kernel.idempotency import WriteResult
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import NEWEST, Limit, check_limit
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import callback_base, platform_of, write_then
from wowsino.pam.sessions import CurrentPlayer
from wowsino.wallet import deposits, history, repository, service, views, withdrawals
from wowsino.wallet.schemas import DepositIn, WithdrawalIn

router = APIRouter(prefix="/player", tags=["player wallet"], route_class=DecimalRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR, CURRENCY_MISMATCH"},
    401: {"description": "AUTH_REQUIRED, AUTH_INVALID: a player session token is needed"},
    404: {"description": "NO_DEPOSIT, NO_WITHDRAWAL"},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    402: {"description": "INSUFFICIENT_FUNDS: more than the player's real balance"},
    409: {"description": "PSP_NOT_CONFIGURED, IDEMPOTENCY_IN_PROGRESS"},
    503: {"description": "SERVICE_UNAVAILABLE: the PSP did not answer; the deposit is "
                         "pending, send the request again with the same idempotency key"},
}
PRIVATE = ("flag",)  # what the operator sees of a deposit and the player does not


def _for_player(shown: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in shown.items() if k not in PRIVATE}


@router.post("/deposits", status_code=201, responses={
    **WRITE_ERRORS, 403: {"description": "DEPOSIT_LIMIT (naming the limit and `resets_at`), "
                                         "SELF_EXCLUDED, PLAYER_BLOCKED"}},
             summary="Deposit through the brand's PSP: pending until the PSP's callback")
async def create_deposit(body: DepositIn, request: Request,
                         player: CurrentPlayer) -> MoneyJSONResponse:
    platform = platform_of(request)
    base = callback_base(request)

    async def call(conn: AsyncConnection, at: datetime) -> tuple[int, dict[str, Any]]:
        return await deposits.request(
            conn, realm=player.realm, brand_id=player.brand_id, player_id=player.player_id,
            amount=body.amount, currency=body.currency, method=body.method,
            promo_code=body.promo_code, callback_base=base, actor=player.actor,
            settings=platform.settings, at=at)

    async def then(result: WriteResult) -> dict[str, Any]:
        done = await service.after_deposit(platform, player.realm, result)
        return {**done, "deposit": _for_player(done["deposit"])}

    return await write_then(request, player, payload=body.model_dump(mode="json"), call=call,
                            then=then)


@router.get("/deposits/{deposit_id}", summary="One of the player's deposits", responses=ERRORS)
async def get_deposit(deposit_id: str, request: Request,
                      player: CurrentPlayer) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        found = await deposits.get(conn, player.realm, player.brand_id, deposit_id,
                                   player_id=player.player_id)
    return MoneyJSONResponse({"deposit": _for_player(found["deposit"])})


@router.post("/withdrawals", status_code=201, responses={
    **WRITE_ERRORS, 403: {"description": "KYC_REQUIRED, SELF_EXCLUDED, PLAYER_BLOCKED"}},
             summary="Withdraw real money: active bonuses are forfeited (`forfeited_bonuses`)")
async def create_withdrawal(body: WithdrawalIn, request: Request,
                            player: CurrentPlayer) -> MoneyJSONResponse:
    platform = platform_of(request)
    base = callback_base(request)

    async def call(conn: AsyncConnection, at: datetime) -> tuple[int, dict[str, Any]]:
        return await withdrawals.request(
            conn, realm=player.realm, brand_id=player.brand_id, player_id=player.player_id,
            amount=body.amount, currency=body.currency, method=body.method,
            callback_base=base, actor=player.actor, settings=platform.settings, at=at)

    async def then(result: WriteResult) -> dict[str, Any]:
        done = await service.after_withdrawal(platform, player.realm, result)
        return {**done, "withdrawal": _for_player(done["withdrawal"])}

    return await write_then(request, player, payload=body.model_dump(mode="json"), call=call,
                            then=then)


@router.get("/withdrawals", summary="The player's withdrawals, newest first", responses=ERRORS)
@routed_read
async def list_withdrawals(
    request: Request, player: CurrentPlayer,
    status: Literal["pending", "approved", "completed", "failed", "rejected"] | None = None,
    limit: Limit = None, cursor: str | None = None,
) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = NEWEST.decode(cursor)
    async with reading(request) as conn:
        rows = await repository.listing(conn, player.realm, "withdrawal",
                                        brand_id=player.brand_id, player_id=player.player_id,
                                        status=status, flagged=None, after=after, limit=size)
    page = NEWEST.page(rows, size)
    page["data"] = [_for_player(views.withdrawal(row, player.realm)) for row in page["data"]]
    return MoneyJSONResponse(page)


@router.get("/transactions", responses=ERRORS,
            summary="The player's deposits, withdrawals, bonus and game movements, newest "
                    "first, each with the balance after it")
@routed_read
async def list_transactions(request: Request, player: CurrentPlayer,
                            rail: Literal["real", "bonus"] | None = None,
                            limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        return MoneyJSONResponse(await history.transactions(
            conn, player.realm, player.player_id, rail=rail, limit=size, cursor=cursor))
