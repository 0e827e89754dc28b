"""The white-label work queues of one realm: withdrawals awaiting approval (approve or
reject with a reason, through the wallet's own services), KYC decisions and
verifications still open, and responsible-gambling alerts (limits hit, exclusions,
limit changes)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from wowsino.console.activity_pages import target_currencies
from wowsino.console.auth import Form, checked_form, principal_of
from wowsino.console.permissions import permission
from wowsino.console.player_pages import realm_of
from wowsino.console.views import ConsoleRoute, platform_of, render, see_other
from wowsino.kernel import audit
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.realm import Realm
from wowsino.tenants import service as tenants
from wowsino.wallet import gateway, repository, views, withdrawals

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

QUEUE_SIZE = 50
REASON_LIMIT = 500
# what a compliance officer is alerted to: refusals at a limit, exclusions, limit changes
LIMIT_CODES = ("DEPOSIT_LIMIT", "LOSS_LIMIT", "WAGER_LIMIT", "SESSION_LIMIT", "STAKE_LIMIT")
ALERT_ACTIONS = ("player.self_excluded", "player.rg_changed", "player.status_changed")


async def _white_label(request: Request, ref: str, mode: str) -> tuple[dict[str, Any], Realm]:
    async with read_only(platform_of(request).engine) as conn:
        tenant, realm = await realm_of(conn, ref, mode)
    if tenant["service_mode"] != "white_label":
        raise NotFound("work queues belong to white-label tenants: this one keeps its own "
                       "wallet")
    return tenant, realm


@router.get("/tenants/{ref}/{mode}/queues")
@permission("queues.view")
async def show_queues(ref: str, mode: str, request: Request) -> Response:
    tenant, realm = await _white_label(request, ref, mode)
    async with read_only(platform_of(request).engine) as conn:
        brands = {b["id"]: b for b in await tenants.list_brands(conn, realm.tenant_id)}
        pending = []
        for brand_id, brand in brands.items():
            rows = await repository.listing(conn, realm, "withdrawal", brand_id=brand_id,
                                            player_id=None, status="pending", flagged=None,
                                            after=None, limit=QUEUE_SIZE)
            pending += [{**views.withdrawal(row, realm), "brand": brand["slug"]}
                        for row in rows[:QUEUE_SIZE]]
        decisions = (await conn.execute(text(
            "SELECT d.created_at, d.status, d.level, d.reason, d.source, d.outcome, "
            "d.rejection, p.username, p.id AS player_id, b.slug AS brand FROM kyc_decisions d "
            "JOIN players p ON p.tenant_id = d.tenant_id AND p.id = d.player_id "
            "JOIN brands b ON b.tenant_id = p.tenant_id AND b.id = p.brand_id "
            "WHERE d.tenant_id = :tenant_id AND d.mode = :mode "
            "ORDER BY d.created_at DESC LIMIT :limit"),
            {**realm.params, "limit": QUEUE_SIZE})).mappings().all()
        open_checks = (await conn.execute(text(
            "SELECT s.created_at, s.expires_at, s.level, s.adapter, p.username, "
            "p.id AS player_id, b.slug AS brand FROM kyc_sessions s "
            "JOIN players p ON p.tenant_id = s.tenant_id AND p.id = s.player_id "
            "JOIN brands b ON b.tenant_id = p.tenant_id AND b.id = p.brand_id "
            "WHERE s.tenant_id = :tenant_id AND s.mode = :mode AND s.status = 'pending' "
            "ORDER BY s.created_at LIMIT :limit"),
            {**realm.params, "limit": QUEUE_SIZE})).mappings().all()
        alerts = await audit.search(conn, realm, limit=QUEUE_SIZE,
                                    alerts=(list(ALERT_ACTIONS), list(LIMIT_CODES)))
        currencies = await target_currencies(conn, realm, alerts)
    pending.sort(key=lambda w: w["created_at"])
    return render(request, "queues.html", tenant=tenant, mode=realm.mode.value,
                  section="queues", pending=pending, decisions=decisions,
                  open_checks=open_checks, alerts=alerts, currencies=currencies,
                  reason_limit=REASON_LIMIT)


def _reason(form: Form, *, required: bool) -> str | None:
    reason = (form.get("reason") or "").strip()
    if len(reason) > REASON_LIMIT:
        raise ValidationFailed(f"reason: at most {REASON_LIMIT} characters", field="reason")
    if required and not reason:
        raise ValidationFailed("reason: say why the withdrawal is rejected (the player is "
                               "told)", field="reason")
    return reason or None


async def _decide(request: Request, ref: str, mode: str, withdrawal_id: str,
                  decision: str) -> Response:
    _, form = await checked_form(request)
    tenant, realm = await _white_label(request, ref, mode)
    reason = _reason(form, required=decision == "reject")
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        row = await repository.row(conn, realm, "withdrawal", _uuid(withdrawal_id))
    if row is None:
        raise NotFound(f"no withdrawal {withdrawal_id[:64]!r}", code="NO_WITHDRAWAL")
    at, actor = platform.clock.now(), principal_of(request).actor
    if decision == "approve":
        await unit_of_work(platform.engine, lambda conn: withdrawals.approve(
            conn, realm=realm, brand_id=row["brand_id"], ref=withdrawal_id, reason=reason,
            actor=actor, at=at))
        await gateway.send_payout(platform, realm, row["id"])
    else:
        await unit_of_work(platform.engine, lambda conn: withdrawals.reject(
            conn, realm=realm, brand_id=row["brand_id"], ref=withdrawal_id,
            reason=reason or "", actor=actor, at=at))
    return see_other(f"/admin/tenants/{tenant['slug']}/{realm.mode.value}/queues",
                     f"withdrawal-{decision}d")


def _uuid(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"no withdrawal {raw[:64]!r}", code="NO_WITHDRAWAL") from None


@router.post("/tenants/{ref}/{mode}/queues/withdrawals/{withdrawal_id}/approve")
@permission("withdrawals.decide")
async def approve(ref: str, mode: str, withdrawal_id: str, request: Request) -> Response:
    return await _decide(request, ref, mode, withdrawal_id, "approve")


@router.post("/tenants/{ref}/{mode}/queues/withdrawals/{withdrawal_id}/reject")
@permission("withdrawals.decide")
async def reject(ref: str, mode: str, withdrawal_id: str, request: Request) -> Response:
    return await _decide(request, ref, mode, withdrawal_id, "reject")
