"""The wallet's operator routes (white-label only) and the PSP callback route: thin routes
over the wallet's services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.auth import Principal, white_label
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import NEWEST, Limit, check_limit
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import callback_base, platform_of, write, write_then
from wowsino.players import service as players
from wowsino.wallet import (
    callbacks,
    deposits,
    history,
    psp_config,
    repository,
    service,
    views,
    withdrawals,
)
from wowsino.wallet.schemas import ApproveIn, OperatorWithdrawalIn, PspConfigIn, RejectIn

router = APIRouter(tags=["wallet"], route_class=DecimalRoute)
# the PSP's body is read raw, whatever its media type: its signature covers the bytes
callback_router = APIRouter(tags=["wallet"], route_class=APIRoute)

Read = Annotated[Principal, white_label("players:read")]
Approve = Annotated[Principal, white_label("wallet:approve")]
Config = Annotated[Principal, white_label("config:write")]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR"},
    403: {"description": "SCOPE_DENIED (also any key of a plug-in tenant)"},
    404: {"description": "NOT_FOUND, NO_PLAYER, NO_DEPOSIT, NO_WITHDRAWAL"},
}
STATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS, 409: {"description": "WITHDRAWAL_STATE: the withdrawal is no longer pending; "
                                   "IDEMPOTENCY_IN_PROGRESS"},
}
DepositStatus = Literal["pending", "completed", "failed"]
WithdrawalStatus = Literal["pending", "approved", "completed", "failed", "rejected"]


@router.get("/brands/{slug}/psp", summary="A brand's PSP adapter and which credentials are set",
            responses=ERRORS)
async def get_psp(slug: str, request: Request, principal: Config) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await psp_config.show(conn, principal.realm, slug))


@router.put("/brands/{slug}/psp", summary="Choose a brand's PSP adapter, credentials and "
            "withdrawal auto-approval thresholds", responses=ERRORS)
async def put_psp(slug: str, body: PspConfigIn, request: Request,
                  principal: Config) -> MoneyJSONResponse:
    # the fingerprint of the request names the credentials, never their values
    payload = {**body.model_dump(mode="json", exclude={"credentials"}),
               "credentials": None if body.credentials is None else sorted(body.credentials)}
    return await write(request, principal, payload=payload, status=200,
                       call=lambda conn, at: psp_config.put(
                           conn, realm=principal.realm, slug=slug, adapter_name=body.adapter,
                           credentials=body.credentials,
                           auto_approve_below=body.auto_approve_below,
                           actor=principal.actor, at=at))


@router.get("/players/{key}/transactions", responses=ERRORS,
            summary="A player's deposits, withdrawals, bonus and game movements, newest "
                    "first, each with the balance after it")
@routed_read
async def player_transactions(key: str, request: Request, principal: Read,
                              rail: Literal["real", "bonus"] | None = None,
                              limit: Limit = None,
                              cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        player = await players.get(conn, principal.realm, principal.brand_id, key)
        return MoneyJSONResponse(await history.transactions(
            conn, principal.realm, player["id"], rail=rail, limit=size, cursor=cursor))


async def _listing(request: Request, principal: Principal, target: str, *, user_id: str | None,
                   status: str | None, flagged: bool | None, limit: int | None,
                   cursor: str | None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = NEWEST.decode(cursor)
    show = views.deposit if target == "deposit" else views.withdrawal
    async with read_only(platform_of(request).engine) as conn:
        player_id = None
        if user_id is not None:
            player_id = (await players.get(conn, principal.realm, principal.brand_id,
                                           user_id))["id"]
        rows = await repository.listing(conn, principal.realm, target,
                                        brand_id=principal.brand_id, player_id=player_id,
                                        status=status, flagged=flagged, after=after,
                                        limit=size)
    page = NEWEST.page(rows, size)
    page["data"] = [show(row, principal.realm) for row in page["data"]]
    return MoneyJSONResponse(page)


@router.get("/deposits", summary="The brand's deposits, newest first", responses=ERRORS)
async def list_deposits(request: Request, principal: Read, user_id: str | None = None,
                        status: DepositStatus | None = None, flagged: bool | None = None,
                        limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    return await _listing(request, principal, "deposit", user_id=user_id, status=status,
                          flagged=flagged, limit=limit, cursor=cursor)


@router.get("/deposits/{deposit_id}", summary="One deposit with the PSP callbacks it received",
            responses=ERRORS)
async def get_deposit(deposit_id: str, request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await deposits.get(conn, principal.realm, principal.brand_id,
                                                    deposit_id))


@router.get("/withdrawals", summary="The brand's withdrawals, newest first "
            "(`status=pending`: the approval queue)", responses=ERRORS)
async def list_withdrawals(request: Request, principal: Read, user_id: str | None = None,
                           status: WithdrawalStatus | None = None, flagged: bool | None = None,
                           limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    return await _listing(request, principal, "withdrawal", user_id=user_id, status=status,
                          flagged=flagged, limit=limit, cursor=cursor)


@router.get("/withdrawals/{withdrawal_id}",
            summary="One withdrawal with the PSP callbacks it received", responses=ERRORS)
async def get_withdrawal(withdrawal_id: str, request: Request,
                         principal: Read) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await withdrawals.get(conn, principal.realm,
                                                       principal.brand_id, withdrawal_id))


@router.post(
    "/players/{key}/withdrawals", status_code=201,
    summary="Pay a player's real money out on their behalf (e.g. a self-excluded player's "
            "balance): approved at once, through the compliance gate",
    responses={**ERRORS,
               402: {"description": "INSUFFICIENT_FUNDS: more than the player's real balance"},
               403: {"description": "KYC_REQUIRED, PLAYER_BLOCKED (the gate; recorded), "
                                    "SCOPE_DENIED"},
               409: {"description": "PSP_NOT_CONFIGURED, IDEMPOTENCY_IN_PROGRESS"}})
async def operator_withdrawal(key: str, body: OperatorWithdrawalIn, request: Request,
                              principal: Approve) -> MoneyJSONResponse:
    platform = platform_of(request)
    base = callback_base(request)

    async def call(conn: AsyncConnection, at: datetime) -> tuple[int, dict[str, Any]]:
        player = await players.get(conn, principal.realm, principal.brand_id, key)
        return await withdrawals.request(
            conn, realm=principal.realm, brand_id=principal.brand_id, player_id=player["id"],
            amount=body.amount, currency=body.currency, method=body.method,
            callback_base=base, actor=principal.actor, settings=platform.settings, at=at,
            approved_by=principal.actor, reason=body.reason)

    return await write_then(request, principal, payload=body.model_dump(mode="json"),
                            call=call, then=lambda result: service.after_withdrawal(
                                platform, principal.realm, result))


@router.post("/withdrawals/{withdrawal_id}/approve", responses=STATE_ERRORS,
             summary="Approve a pending withdrawal: its payout is sent to the PSP")
async def approve_withdrawal(withdrawal_id: str, request: Request, principal: Approve,
                             body: ApproveIn | None = None) -> MoneyJSONResponse:
    chosen = body or ApproveIn()

    async def call(conn: AsyncConnection, at: datetime) -> tuple[int, dict[str, Any]]:
        return 200, await withdrawals.approve(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=withdrawal_id,
            reason=chosen.reason, actor=principal.actor, at=at)

    return await write_then(request, principal, payload=chosen.model_dump(), call=call,
                            then=lambda result: service.after_withdrawal(
                                platform_of(request), principal.realm, result))


@router.post("/withdrawals/{withdrawal_id}/reject", responses=STATE_ERRORS,
             summary="Reject a pending withdrawal: its amount returns to the player")
async def reject_withdrawal(withdrawal_id: str, body: RejectIn, request: Request,
                            principal: Approve) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(), status=200,
                       call=lambda conn, at: withdrawals.reject(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           ref=withdrawal_id, reason=body.reason, actor=principal.actor,
                           at=at))


CALLBACK_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": True,
        "description": "The PSP's own callback body, signed over its raw bytes (the "
                       "sandbox's: `{transaction_id, reference, type, status, amount, "
                       "currency, reason}` with `X-Signature`)."}}},
}


@callback_router.post(
    "/psp/{adapter}/callback", summary="A PSP's signed callback (no API key)",
    openapi_extra={"requestBody": CALLBACK_BODY},
    responses={200: {"description": "recorded: `outcome` is applied, flagged, ignored or "
                                    "duplicate"},
               400: {"description": "VALIDATION_ERROR: a body the adapter cannot read"},
               401: {"description": "SIGNATURE_INVALID: nothing was recorded"},
               404: {"description": "NOT_FOUND: no such adapter, deposit or withdrawal"}})
async def psp_callback(adapter: str, request: Request) -> MoneyJSONResponse:
    body = await request.body()
    answer = await callbacks.receive(platform_of(request), adapter, body, request.headers)
    return MoneyJSONResponse(answer)
