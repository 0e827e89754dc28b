"""What an operator does to a player from the console: change the status with a reason, set
responsible-gambling limits,
adjust a balance with a reason (above the tenant's threshold, a second operator
approves it: ``players.approvals``), and set that threshold. The API's own services do
the work; every step is audited with the operator as actor."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError as PydanticError
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.console.auth import checked_form, principal_of
from wowsino.console.permissions import permission
from wowsino.console.player_pages import choose_brand, realm_of, visible_brands
from wowsino.console.views import ConsoleRoute, platform_of, see_other
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.idempotency import choose_key
from wowsino.kernel.realm import Realm
from wowsino.players import approvals, service
from wowsino.players.schemas import STATUSES, RgIn
from wowsino.tenants import service as tenants

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PLAYER = "/tenants/{ref}/{mode}/players/{brand}/{player}"


async def _player_path(request: Request, ref: str, mode: str, brand: str,
                       player: str) -> tuple[str, dict[str, Any], Realm]:
    """The player's page, the brand and the realm (404 for anything not visible)."""
    async with read_only(platform_of(request).engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
        chosen = choose_brand(visible_brands(principal_of(request), await tenants.list_brands(
            conn, realm.tenant_id)), brand)
        row = await service.get(conn, realm, chosen["id"], player)
    return (f"/admin/tenants/{tenant['slug']}/{realm.mode.value}/players/{chosen['slug']}/"
            f"{row['id']}"), chosen, realm


@router.post(PLAYER + "/status")
@permission("players.manage")
async def change_status(ref: str, mode: str, brand: str, player: str,
                        request: Request) -> Response:
    _, form = await checked_form(request)
    back, chosen, realm = await _player_path(request, ref, mode, brand, player)
    status, reason = form.get("status", limit=40), form.get("reason", limit=600).strip()
    if status not in STATUSES:
        raise ValidationFailed(f"status: one of {', '.join(STATUSES)}", field="status")
    if not reason or len(reason) > approvals.MAX_REASON:
        raise ValidationFailed(f"reason: 1 to {approvals.MAX_REASON} characters",
                               field="reason")
    p, actor = platform_of(request), principal_of(request).actor
    await unit_of_work(p.engine, lambda conn: service.change_status(
        conn, realm=realm, brand_id=chosen["id"], ref=player, status=status, reason=reason,
        actor=actor, at=p.clock.now()))
    return see_other(back, "status-changed")


@router.post(PLAYER + "/adjustments")
@permission("players.adjust")
async def adjust(ref: str, mode: str, brand: str, player: str, request: Request) -> Response:
    _, form = await checked_form(request)
    back, chosen, realm = await _player_path(request, ref, mode, brand, player)
    p, actor = platform_of(request), principal_of(request).actor
    rail, code = form.get("rail", limit=10), form.get("asset", limit=16)
    amount, reason = form.get("amount", limit=40).strip(), form.get("reason", limit=600)
    if not amount:
        raise ValidationFailed("amount: a signed amount such as 25.00 or -10.50",
                               field="amount")
    if rail not in ("real", "bonus", "winz", "xp"):
        raise ValidationFailed("rail: real, bonus, winz or xp", field="rail")
    # the form carries a key made when the page was drawn: a second submit of the same
    # form (a double click, a resent POST) replays the first answer and moves no money
    key = choose_key(form.get("idempotency_key", limit=300) or None, None)

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        answer = await approvals.adjust_or_request(
            conn, realm=realm, brand_id=chosen["id"], ref=player, rail=rail, asset_code=code,
            amount=amount, reason=reason, actor=actor, at=p.clock.now())
        return 201, {"applied": answer["applied"]}

    done = await p.writes.run(
        realm=realm, endpoint=f"console adjustments {actor.label}", key=key,
        request={"brand": str(chosen["id"]), "player": player, "rail": rail, "asset": code,
                 "amount": amount, "reason": reason}, effect=effect)
    return see_other(back, "adjusted" if done.body["applied"] else "adjustment-waiting")


async def _decide(request: Request, ref: str, mode: str, request_id: str,
                  approve: bool) -> Response:
    _, form = await checked_form(request)
    p, actor = platform_of(request), principal_of(request).actor
    async with read_only(p.engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
    reason = form.get("reason", limit=600)
    await unit_of_work(p.engine, lambda conn: approvals.decide(
        conn, realm=realm, ref=request_id, approve=approve, reason=reason, actor=actor,
        at=p.clock.now()))
    back = form.get("back", limit=400)
    prefix = f"/admin/tenants/{tenant['slug']}/{realm.mode.value}/"
    target = back if back.startswith(prefix) and "//" not in back[1:] else prefix + "players"
    return see_other(target, "adjustment-approved" if approve else "adjustment-rejected")


@router.post("/tenants/{ref}/{mode}/adjustment-requests/{request_id}/approve")
@permission("adjustments.approve")
async def approve(ref: str, mode: str, request_id: str, request: Request) -> Response:
    return await _decide(request, ref, mode, request_id, True)


@router.post("/tenants/{ref}/{mode}/adjustment-requests/{request_id}/reject")
@permission("adjustments.approve")
async def reject(ref: str, mode: str, request_id: str, request: Request) -> Response:
    return await _decide(request, ref, mode, request_id, False)


@router.post("/tenants/{ref}/adjustment-policy")
@permission("console_policy.manage")
async def set_policy(ref: str, request: Request) -> Response:
    _, form = await checked_form(request)
    p, actor = platform_of(request), principal_of(request).actor
    async with read_only(p.engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)
    code, amount = form.get("asset", limit=16), form.get("amount", limit=40).strip()
    await unit_of_work(p.engine, lambda conn: approvals.set_threshold(
        conn, tenant_id=tenant["id"], asset_code=code, amount=amount or None, actor=actor,
        at=p.clock.now()))
    return see_other(f"/admin/tenants/{tenant['slug']}/operators", "adjustment-policy-saved")


RG_FIELDS = ("deposit_daily_limit", "deposit_weekly_limit", "deposit_monthly_limit",
             "loss_daily_limit", "loss_weekly_limit", "loss_monthly_limit",
             "wager_daily_limit", "session_minutes_limit")


@router.post(PLAYER + "/rg")
@permission("players.manage")
async def set_limits(ref: str, mode: str, brand: str, player: str,
                     request: Request) -> Response:
    """Responsible-gambling limits as the API sets them: a filled field sets that limit
    (tightening at once, loosening after the cooling-off), ``none`` removes it, an empty
    field leaves it."""
    _, form = await checked_form(request)
    back, chosen, realm = await _player_path(request, ref, mode, brand, player)
    requested: dict[str, Any] = {}
    for name in RG_FIELDS:
        value = form.get(name, limit=40).strip()
        if value:
            requested[name] = None if value.lower() == "none" else value
    if not requested:
        raise ValidationFailed("limits: fill at least one (none removes a limit)",
                               field="limits")
    try:
        checked = RgIn.model_validate(requested).model_dump(exclude_unset=True)
    except PydanticError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "limits"
        raise ValidationFailed(f"{name.replace('_', ' ')}: {first['msg']}", field=name) from None
    p, actor = platform_of(request), principal_of(request).actor
    async with read_only(p.engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)
    await unit_of_work(p.engine, lambda conn: service.update_rg(
        conn, realm=realm, brand_id=chosen["id"], service_mode=tenant["service_mode"],
        ref=player, requested=checked, actor=actor, at=p.clock.now()))
    return see_other(back, "limits-saved")
