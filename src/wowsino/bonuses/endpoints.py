"""``/v1/bonus-templates``, ``/v1/bonuses`` and a player's bonuses: thin routes over
``bonuses.service``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request

from wowsino.bonuses import repository, service, simulator, views
from wowsino.bonuses.schemas import (
    ForfeitIn,
    GrantIn,
    KeyOnly,
    SettleIn,
    SimulateIn,
    TemplateIn,
    TemplatePatch,
)
from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import BIGINT, NEWEST, Keyset, Limit, check_limit
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import platform_of, write, write_answer

router = APIRouter(tags=["bonuses"], route_class=DecimalRoute)
Config = Annotated[Principal, scoped("config:write")]
Read = Annotated[Principal, scoped("engagement:read")]
Grant = Annotated[Principal, scoped("bonuses:grant")]
PlayersRead = Annotated[Principal, scoped("players:read")]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "VALIDATION_ERROR"},
    403: {"description": "PROMO_RULE_VIOLATION, PLAYER_BLOCKED"},
    404: {"description": "NO_TEMPLATE, NO_BONUS, NO_PLAYER"},
    409: {"description": "NOT_ACTIVE, NOT_PENDING, MAX_GRANTS, NO_BASIS, PROMO_CODE_TAKEN, "
                         "NOT_DROPS"},
    422: {"description": "IDEMPOTENCY_KEY_REUSED"},
}

BY_SEQ = Keyset(("_seq",), (BIGINT,))  # a player's bonuses, newest grant first


@router.get("/bonus-templates", summary="Bonus templates, newest first")
@routed_read
async def list_templates(request: Request, principal: Read, limit: Limit = None,
                         cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = NEWEST.decode(cursor)
    async with reading(request) as conn:
        rows = await repository.templates(conn, principal.realm, after=after, limit=size)
    result = NEWEST.page(rows, size)
    result["data"] = [views.template(r) for r in result["data"]]
    return MoneyJSONResponse(result)


@router.get("/bonus-templates/{promotion_id}/drops/wins", responses=ERRORS,
            summary="A drops promotion's winning wagers, newest first (recompute them "
                    "from the revealed seed)")
async def drop_wins(promotion_id: str, request: Request, principal: Read, limit: Limit = None,
                    cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = BY_SEQ.decode(cursor)
    async with read_only(platform_of(request).engine) as conn:
        rows = await service.drop_wins(conn, principal.realm, promotion_id,
                                       brand_id=principal.brand_id,
                                       before_seq=after[0] if after else None, limit=size)
    result = BY_SEQ.page(rows, size)
    for row in result["data"]:
        row.pop("_seq", None)
    return MoneyJSONResponse(result)


@router.post("/bonus-templates", status_code=201, responses=ERRORS,
             summary="Create a bonus template (answers per-brand lint)")
async def create_template(body: TemplateIn, request: Request,
                          principal: Config) -> MoneyJSONResponse:
    fields = body.model_dump(exclude_unset=True, exclude={"idempotency_key"})
    fields.setdefault("currency", body.currency)
    return await write_answer(request, principal, payload=body.model_dump(mode="json"),
                              call=lambda conn, at: service.create_template(
                                  conn, realm=principal.realm, fields=fields,
                                  actor=principal.actor, at=at))


@router.get("/bonus-templates/{template_id}", summary="One bonus template", responses=ERRORS)
async def get_template(template_id: str, request: Request, principal: Read) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.show_template(conn, principal.realm,
                                                             template_id))


@router.patch("/bonus-templates/{template_id}", responses=ERRORS,
              summary="Change a template (grants from now on; answers per-brand lint)")
async def update_template(template_id: str, body: TemplatePatch, request: Request,
                          principal: Config) -> MoneyJSONResponse:
    fields = body.model_dump(exclude_unset=True, exclude={"idempotency_key"})
    return await write(request, principal, payload=body.model_dump(mode="json",
                                                                   exclude_unset=True),
                       status=200, call=lambda conn, at: service.update_template(
                           conn, realm=principal.realm, ref=template_id, fields=fields,
                           actor=principal.actor, at=at))


async def _status(template_id: str, body: KeyOnly | None, request: Request,
                  principal: Principal, to: str) -> MoneyJSONResponse:
    return await write(request, principal, payload=(body or KeyOnly()).model_dump(),
                       status=200, call=lambda conn, at: service.set_template_status(
                           conn, realm=principal.realm, ref=template_id, to=to,
                           actor=principal.actor, at=at))


@router.post("/bonus-templates/{template_id}/pause", responses=ERRORS,
             summary="Pause a template: grants answer 409 NOT_ACTIVE")
async def pause_template(template_id: str, request: Request, principal: Config,
                         body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await _status(template_id, body, request, principal, "paused")


@router.post("/bonus-templates/{template_id}/resume", responses=ERRORS,
             summary="Resume a paused template")
async def resume_template(template_id: str, request: Request, principal: Config,
                          body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await _status(template_id, body, request, principal, "active")


@router.post("/bonus-templates/{template_id}/simulate", responses=ERRORS,
             summary="Monte-Carlo estimate of a template's cost (same seed, same answer)")
async def simulate_template(template_id: str, body: SimulateIn, request: Request,
                            principal: Config) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        template = await service.load_template(conn, principal.realm, template_id)
    # CPU-bound: off the event loop, so other requests keep being served
    result = await asyncio.to_thread(simulator.run, template, body)
    return MoneyJSONResponse({"simulation": result})


@router.post("/bonuses/grant", status_code=201, responses=ERRORS,
             summary="Grant a bonus by promo code or template id")
async def grant_bonus(body: GrantIn, request: Request, principal: Grant) -> MoneyJSONResponse:
    fields = body.model_dump(exclude={"idempotency_key"})
    return await write_answer(request, principal, payload=body.model_dump(mode="json"),
                              call=lambda conn, at: service.grant_request(
                                  conn, realm=principal.realm, brand_id=principal.brand_id,
                                  service_mode=principal.service_mode, request=fields,
                                  actor=principal.actor, at=at))


@router.post("/bonuses/{bonus_id}/forfeit", responses=ERRORS,
             summary="Forfeit a bonus: what is left is removed")
async def forfeit_bonus(bonus_id: str, body: ForfeitIn, request: Request,
                        principal: Grant) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(), status=200,
                       call=lambda conn, at: service.forfeit(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           ref=bonus_id, reason=body.reason, actor=principal.actor, at=at))


@router.post("/bonuses/{bonus_id}/cancel", responses=ERRORS,
             summary="Cancel a pending bonus")
async def cancel_bonus(bonus_id: str, request: Request, principal: Grant,
                       body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await write(request, principal, payload=(body or KeyOnly()).model_dump(),
                       status=200, call=lambda conn, at: service.cancel(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           ref=bonus_id, actor=principal.actor, at=at))


@router.post("/bonuses/{bonus_id}/free-spins/settle", responses=ERRORS,
             summary="Report a free-spins bonus's total win (becomes bonus money)")
async def settle_free_spins(bonus_id: str, body: SettleIn, request: Request,
                            principal: Grant) -> MoneyJSONResponse:
    return await write(request, principal, payload=body.model_dump(mode="json"), status=200,
                       call=lambda conn, at: service.settle_free_spins(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           service_mode=principal.service_mode, ref=bonus_id,
                           win_amount=body.win_amount, at=at))


@router.get("/players/{key}/bonuses", responses=ERRORS,
            summary="A player's bonuses with progress, turnover left, time left and stakes")
@routed_read
async def player_bonuses(key: str, request: Request, principal: PlayersRead,
                         limit: Limit = None, cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = BY_SEQ.decode(cursor)
    before = after[0] if after else None
    p = platform_of(request)
    async with reading(request) as conn:
        rows = await service.player_bonuses(conn, realm=principal.realm,
                                            brand_id=principal.brand_id, ref=key,
                                            before_seq=before, limit=size, now=p.clock.now())
    result = BY_SEQ.page(rows, size)
    for row in result["data"]:
        row.pop("_seq", None)
    return MoneyJSONResponse(result)
