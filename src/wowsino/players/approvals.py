"""Two-person approval of large manual adjustments made in the console.

A tenant names, per asset, the size above which a console adjustment needs a second
operator (``tenants.adjustment_approval_above``: ``{asset: minor units}``). Below it, or
for an asset it does not name, the adjustment is posted at once through
``players.service.adjust`` — the service behind ``POST /v1/players/<key>/adjustments``.
Above it, the adjustment waits as a request; another operator approves it (the entry is
posted then, by the same service, in the same transaction as the decision) or rejects
it. The one who asked can decide neither. Every step is audited. Queries and rules
only: the caller's unit of work commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit
from wowsino.kernel.errors import Conflict, NotFound, ValidationFailed
from wowsino.kernel.ids import new_id, parse_uuid
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.money import ASSETS, Rail, asset, check_rail_asset, from_minor, to_minor
from wowsino.kernel.realm import Actor, Mode, Realm
from wowsino.players import service

MAX_REASON = 500


async def thresholds(conn: AsyncConnection, tenant_id: UUID) -> dict[str, int]:
    """``{asset: minor units}`` above which a console adjustment waits for a second
    operator."""
    found = await conn.scalar(text("SELECT adjustment_approval_above FROM tenants "
                                   "WHERE id = :t"), {"t": tenant_id})
    return {str(k): int(v) for k, v in (found or {}).items()}


async def set_threshold(conn: AsyncConnection, *, tenant_id: UUID, asset_code: str,
                        amount: Any, actor: Actor, at: datetime) -> dict[str, int]:
    """Set (a positive amount) or remove (empty) the threshold of one asset; audited in
    the tenant's live log."""
    unit = asset(asset_code)
    before = await thresholds(conn, tenant_id)
    after = dict(before)
    if amount in (None, ""):
        after.pop(unit.code, None)
    else:
        minor = to_minor(amount, unit, field="amount")
        if minor <= 0:
            raise ValidationFailed("amount: more than zero, or empty for no approval",
                                   field="amount")
        after[unit.code] = minor
    await conn.execute(text("UPDATE tenants SET adjustment_approval_above = "
                            "CAST(:v AS jsonb) WHERE id = :t"),
                       {"v": dumps(after), "t": tenant_id})
    await audit.record(conn, realm=Realm(tenant_id, Mode.LIVE), actor=actor,
                       action="adjustment_policy.updated", target_type="tenant",
                       target_id=str(tenant_id), before={"approval_above": before},
                       after={"approval_above": after}, at=at)
    return after


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ValidationFailed(f"reason: 1 to {MAX_REASON} characters: say why the balance "
                               "changes", field="reason")
    return reason


async def adjust_or_request(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, rail: str,
    asset_code: str, amount: Any, reason: str, actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Post the adjustment, or keep it for a second operator when it is above the
    tenant's threshold: ``{"applied": bool, ...}``."""
    reason = _reason(reason)
    player = await service.get(conn, realm, brand_id, ref)
    the_rail, unit = Rail(rail), asset(asset_code)
    check_rail_asset(the_rail, unit)
    service.check_currency(player, the_rail, unit)
    minor = to_minor(amount, unit, allow_negative=True)
    above = (await thresholds(conn, realm.tenant_id)).get(unit.code)
    if above is None or abs(minor) <= above:
        _, answer = await service.adjust(conn, realm=realm, brand_id=brand_id, ref=ref,
                                         rail=rail, asset_code=unit.code, amount=amount,
                                         reason=reason, actor=actor, at=at)
        return {"applied": True, **answer}
    request_id = new_id()
    await conn.execute(text(
        "INSERT INTO adjustment_requests (tenant_id, mode, id, brand_id, player_id, rail, "
        "asset, amount, reason, requested_by, requested_at) VALUES (:tenant_id, :mode, :id, "
        ":brand, :player, :rail, :asset, :amount, :reason, :by, :at)"),
        {**realm.params, "id": request_id, "brand": player["brand_id"],
         "player": player["id"], "rail": the_rail.value, "asset": unit.code, "amount": minor,
         "reason": reason, "by": actor.label, "at": at})
    await audit.record(conn, realm=realm, actor=actor, action="adjustment.requested",
                       target_type="player", target_id=str(player["id"]), at=at,
                       after={"request_id": str(request_id), "rail": the_rail.value,
                              "asset": unit.code, "amount": minor, "reason": reason,
                              "approval_above": above})
    return {"applied": False, "request_id": str(request_id)}


async def pending(conn: AsyncConnection, realm: Realm, *, player_id: UUID | None = None,
                  limit: int = 50) -> list[dict[str, Any]]:
    """Requests waiting for a second operator, oldest first, amounts at their scale."""
    rows = await conn.execute(text(
        "SELECT r.*, p.username FROM adjustment_requests r JOIN players p ON "
        "p.tenant_id = r.tenant_id AND p.id = r.player_id WHERE r.tenant_id = :tenant_id "
        "AND r.mode = :mode AND r.status = 'pending' "
        + ("AND r.player_id = :player " if player_id is not None else "")
        + "ORDER BY r.requested_at LIMIT :limit"),
        {**realm.params, "player": player_id, "limit": limit})
    return [{**dict(r._mapping), "amount": from_minor(int(r.amount), ASSETS[r.asset])}
            for r in rows]


async def decide(
    conn: AsyncConnection, *, realm: Realm, ref: str, approve: bool, reason: str | None,
    actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Approve (posting the adjustment) or reject a pending request. 409
    ``ADJUSTMENT_STATE`` once decided, 409 ``SECOND_OPERATOR_REQUIRED`` for the operator
    who asked."""
    request_id = parse_uuid(ref)
    row = None if request_id is None else (await conn.execute(text(
        "SELECT * FROM adjustment_requests WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND id = :id FOR UPDATE"), {**realm.params, "id": request_id})).first()
    if row is None:
        raise NotFound(f"no adjustment request {ref[:64]!r}", code="NO_ADJUSTMENT_REQUEST")
    if row.status != "pending":
        raise Conflict(f"this adjustment was {row.status} already", code="ADJUSTMENT_STATE",
                       status=row.status)
    if row.requested_by == actor.label:
        raise Conflict("a second operator decides: the one who asked for the adjustment "
                       "cannot approve or reject it", code="SECOND_OPERATOR_REQUIRED")
    note = None if reason is None or not reason.strip() else _reason(reason)
    entry_id = None
    if approve:
        unit = ASSETS[row.asset]
        _, answer = await service.adjust(
            conn, realm=realm, brand_id=row.brand_id, ref=str(row.player_id), rail=row.rail,
            asset_code=row.asset, amount=from_minor(int(row.amount), unit),
            reason=f"{row.reason} (asked by {row.requested_by}, approved by {actor.label})",
            actor=actor, at=at)
        entry_id = answer["adjustment"]["entry_id"]
    status = "approved" if approve else "rejected"
    await conn.execute(text(
        "UPDATE adjustment_requests SET status = :status, decided_by = :by, decided_at = :at, "
        "decision_reason = :note, entry_id = :entry WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND id = :id"),
        {**realm.params, "status": status, "by": actor.label, "at": at, "note": note,
         "entry": entry_id, "id": row.id})
    await audit.record(conn, realm=realm, actor=actor, action=f"adjustment.{status}",
                       target_type="player", target_id=str(row.player_id), at=at,
                       before={"status": "pending"},
                       after={"status": status, "request_id": str(row.id), "rail": row.rail,
                              "asset": row.asset, "amount": int(row.amount),
                              "requested_by": row.requested_by, "reason": note})
    return {"request_id": str(row.id), "status": status, "entry_id": entry_id}
