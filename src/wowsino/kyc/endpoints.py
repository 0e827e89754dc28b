"""KYC routes: the brand's vendor (operator), starting a verification (operator and
player), a player's KYC (operator), and the vendors' signed webhooks — thin routes over
``kyc.config``, ``kyc.sessions`` and ``kyc.callbacks``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.auth import Caller, Principal, white_label
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.writes import callback_base, platform_of, write, write_then
from wowsino.kyc import callbacks, config, sessions
from wowsino.kyc.schemas import KycConfigIn, StartIn
from wowsino.pam.sessions import CurrentPlayer

router = APIRouter(tags=["kyc"], route_class=DecimalRoute)
player_router = APIRouter(prefix="/player", tags=["kyc"], route_class=DecimalRoute)
# the vendor's body is read raw, whatever its media type: its signature covers the bytes
callback_router = APIRouter(tags=["kyc"], route_class=APIRoute)

Config = Annotated[Principal, white_label("config:write")]
Compliance = Annotated[Principal, white_label("compliance:write")]
Read = Annotated[Principal, white_label("players:read")]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR"},
    403: {"description": "SCOPE_DENIED (also any key of a plug-in tenant)"},
    404: {"description": "NOT_FOUND, NO_PLAYER"},
}
START_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR: a level above what the brand's vendor verifies"},
    409: {"description": "KYC_ALREADY_APPROVED (approved at the level asked or above), "
                         "KYC_REJECTED_FINAL (the last decision was a final rejection), "
                         "KYC_NOT_CONFIGURED (the sandbox, for live players in production), "
                         "IDEMPOTENCY_IN_PROGRESS"},
    503: {"description": "SERVICE_UNAVAILABLE: the vendor did not answer; the session is "
                         "pending, send the request again with the same idempotency key"},
}


@router.get("/brands/{slug}/kyc", summary="A brand's KYC vendor, its level and which "
            "credentials are set", responses=ERRORS)
async def get_kyc_config(slug: str, request: Request, principal: Config) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await config.show(conn, principal.realm, slug))


@router.put("/brands/{slug}/kyc", summary="Choose a brand's KYC vendor, its credentials and "
            "the level it verifies to", responses=ERRORS)
async def put_kyc_config(slug: str, body: KycConfigIn, request: Request,
                         principal: Config) -> MoneyJSONResponse:
    # the fingerprint of the request names the credentials, never their values
    payload = {**body.model_dump(mode="json", exclude={"credentials"}),
               "credentials": None if body.credentials is None else sorted(body.credentials)}
    return await write(request, principal, payload=payload, status=200,
                       call=lambda conn, at: config.put(
                           conn, realm=principal.realm, slug=slug, adapter_name=body.adapter,
                           credentials=body.credentials, level=body.level,
                           actor=principal.actor, at=at))


@router.get("/players/{key}/kyc", responses=ERRORS,
            summary="A player's KYC: status and level in force, verification sessions and "
                    "every decision (stale ones too), newest first")
async def get_player_kyc(key: str, request: Request, principal: Read) -> MoneyJSONResponse:
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        # one snapshot: the state in force and the decisions that made it agree
        await conn.execution_options(isolation_level="REPEATABLE READ")
        return MoneyJSONResponse(await sessions.overview(
            conn, principal.realm, principal.brand_id, key, platform.clock.now()))


async def _start(request: Request, caller: Caller, ref: str, body: StartIn
                 ) -> MoneyJSONResponse:
    platform = platform_of(request)
    base = callback_base(request)

    async def call(conn: AsyncConnection, at: datetime) -> tuple[int, dict[str, Any]]:
        return 201, await sessions.start(
            conn, realm=caller.realm, brand_id=caller.brand_id, ref=ref, level=body.level,
            callback_base=base, actor=caller.actor, settings=platform.settings, at=at)

    return await write_then(request, caller, payload=body.model_dump(mode="json"), call=call,
                            then=lambda result: sessions.after_start(
                                platform, caller.realm, result))


@router.post("/players/{key}/kyc/start", status_code=201,
             responses={**ERRORS, **START_ERRORS},
             summary="Start a verification of a player with the brand's KYC vendor")
async def start_player_kyc(key: str, request: Request, principal: Compliance,
                           body: StartIn | None = None) -> MoneyJSONResponse:
    return await _start(request, principal, key, body or StartIn())


@player_router.post("/kyc/start", status_code=201, responses={
    **START_ERRORS,
    400: ERRORS[400],
    401: {"description": "AUTH_REQUIRED, AUTH_INVALID: a player session token is needed"}},
    summary="Start the player's own verification: open `verification_url`")
async def start_own_kyc(request: Request, player: CurrentPlayer,
                        body: StartIn | None = None) -> MoneyJSONResponse:
    return await _start(request, player, str(player.player_id), body or StartIn())


CALLBACK_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": True,
        "description": "The vendor's own webhook body, signed over its raw bytes (the "
                       "sandbox's: `{event_id, session_id, reference, decision, rejection, "
                       "reason, level, decided_at, sent_at}` with `X-Signature`; Sumsub's "
                       "`applicantReviewed` with `X-Payload-Digest`)."}}},
}


@callback_router.post(
    "/kyc/{adapter}/callback", summary="A KYC vendor's signed webhook (no API key)",
    openapi_extra={"requestBody": CALLBACK_BODY},
    responses={200: {"description": "recorded: `outcome` is applied, stale, duplicate or "
                                    "ignored (news that decides nothing)"},
               400: {"description": "VALIDATION_ERROR: a body the adapter cannot read"},
               401: {"description": "SIGNATURE_INVALID: nothing was recorded"},
               404: {"description": "NOT_FOUND: no such adapter or session"}})
async def kyc_callback(adapter: str, request: Request) -> MoneyJSONResponse:
    body = await request.body()
    answer = await callbacks.receive(platform_of(request), adapter, body, request.headers)
    return MoneyJSONResponse(answer)
