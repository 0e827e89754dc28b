"""``/v1/brands/<slug>/jurisdiction`` and ``/v1/players/<key>/kyc``: thin routes over
``compliance.service`` and ``compliance.kyc``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request

from wowsino.compliance import kyc, service
from wowsino.compliance.schemas import JurisdictionIn, KycIn
from wowsino.kernel.auth import Principal, scoped, white_label
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.writes import platform_of, write

router = APIRouter(prefix="/brands", tags=["compliance"], route_class=DecimalRoute)
kyc_router = APIRouter(prefix="/players", tags=["compliance"], route_class=DecimalRoute)
Config = Annotated[Principal, scoped("config:write")]
Compliance = Annotated[Principal, white_label("compliance:write")]
LIFTED_BY_NULL = ("max_wagering_multiple", "deposit_cap_monthly", "slot_stake_cap",
                  "slot_stake_cap_young_adult", "young_adult_max_age")
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR"}, 404: {"description": "NOT_FOUND"}}


@router.get("/{slug}/jurisdiction", summary="A brand's jurisdiction profile and rules in force",
            responses=ERRORS)
async def get_jurisdiction(slug: str, request: Request, principal: Config) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.show(conn, principal.realm, slug))


@router.put("/{slug}/jurisdiction", summary="Set a brand's base profile and overrides",
            responses=ERRORS)
async def put_jurisdiction(slug: str, body: JurisdictionIn, request: Request,
                           principal: Config) -> MoneyJSONResponse:
    # null lifts the wagering, deposit and stake caps; for the other rules it means "as the
    # base profile"
    overrides = {k: v for k, v in body.overrides.model_dump(exclude_unset=True).items()
                 if v is not None or k in LIFTED_BY_NULL}
    return await write(request, principal, payload=body.model_dump(mode="json"), status=200,
                       call=lambda conn, at: service.put(
                           conn, realm=principal.realm, slug=slug, profile=body.profile,
                           overrides=overrides, actor=principal.actor, at=at))


@kyc_router.patch("/{key}/kyc", summary="Record a manual KYC decision (white-label)", responses={
    400: {"description": "VALIDATION_ERROR"},
    403: {"description": "SCOPE_DENIED (also any key of a plug-in tenant)"},
    404: {"description": "NO_PLAYER"}})
async def record_kyc(key: str, body: KycIn, request: Request,
                     principal: Compliance) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(), status=200,
                       call=lambda conn, at: kyc.record_decision(
                           conn, realm=principal.realm, brand_id=principal.brand_id, ref=key,
                           status=body.status, level=body.level, reason=body.reason,
                           actor=principal.actor, at=at))
