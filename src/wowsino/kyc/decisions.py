"""A vendor's decision about a verification session, applied once and in the vendor's
order.

Invariants (docs/kyc.md, "Order and repeats"):

- A decision is identified by the vendor's own id for it: the same decision again is a
  ``duplicate`` — recorded once, changes nothing, answered 200 so the vendor stops.
- Decisions are ordered by the vendor's time of the decision (``decided_at``), not by
  arrival. One older than the newest decision in force about the player (a vendor's or an
  operator's, whose time is when it was recorded) is kept as ``stale`` and changes
  nothing. The player's row is locked first, so two deliveries take turns.
- An approval sets ``approved`` and raises the level to the session's, never lowering an
  approval at a higher level. A rejection of a level above the one approved (a failed
  level-up) leaves the approval in force; any other rejection sets ``rejected``, level 0.
  ``retry`` lets the player start again, ``final`` does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit, outbox
from wowsino.kernel.errors import NotFound
from wowsino.kernel.ids import new_id
from wowsino.kernel.realm import Actor, Realm
from wowsino.kyc import repository
from wowsino.kyc.adapters.base import VendorDecision
from wowsino.players import service as players


def in_force_after(decision: VendorDecision, session_level: int, status: str,
                   level: int) -> tuple[str, int]:
    """The player's ``(kyc_status, kyc_level)`` once ``decision`` about a session at
    ``session_level`` applies to a player at ``(status, level)``."""
    approved = level if status == "approved" else 0
    if decision.verdict == "approved":
        return "approved", max(session_level, approved)
    if status == "approved" and level < session_level:
        return "approved", level  # a failed level-up keeps the level already verified
    return "rejected", 0


async def record(conn: AsyncConnection, *, realm: Realm, session_id: UUID, adapter: str,
                 decision: VendorDecision, body: str, at: datetime) -> str:
    """Record a verified decision about ``session_id``; the outcome: ``applied``,
    ``stale`` or ``duplicate``. Raises 404 for an unknown session."""
    found = await repository.session(conn, realm, session_id)
    if found is None:
        raise NotFound("no KYC session with this reference", code="NOT_FOUND")
    player = await players.get(conn, realm, found["brand_id"], str(found["player_id"]),
                               for_update=True)
    session = await repository.session(conn, realm, session_id, for_update=True)
    assert session is not None
    in_force = await repository.in_force(conn, realm, player["id"])
    newer = in_force is None or decision.decided_at > in_force["decided_at"]
    decision_id = new_id()
    if not await repository.insert_decision(conn, realm, {
            "id": decision_id, "player_id": player["id"], "brand_id": player["brand_id"],
            "source": adapter, "status": decision.verdict, "level": session["level"],
            "reason": decision.reason, "actor": _actor(adapter).label, "created_at": at,
            "session_id": session_id, "vendor_decision_id": decision.decision_id[:255],
            "decided_at": decision.decided_at, "rejection": decision.rejection,
            "outcome": "applied" if newer else "stale", "body": body}):
        return "duplicate"
    if session["decided_at"] is None or decision.decided_at > session["decided_at"]:
        await repository.update_session(conn, realm, session_id, {
            "status": decision.verdict, "rejection": decision.rejection,
            "reason": decision.reason, "decided_at": decision.decided_at, "updated_at": at})
    if not newer:
        return "stale"
    await _apply(conn, realm, player, session, decision, decision_id, adapter, at)
    return "applied"


def _actor(adapter: str) -> Actor:
    return Actor("system", f"kyc:{adapter}")


async def _apply(conn: AsyncConnection, realm: Realm, player: dict[str, Any],
                 session: dict[str, Any], decision: VendorDecision, decision_id: UUID,
                 adapter: str, at: datetime) -> None:
    status, level = in_force_after(decision, session["level"], player["kyc_status"],
                                   player["kyc_level"])
    await players.set_kyc(conn, realm, player["id"], status=status, level=level, at=at)
    await audit.record(conn, realm=realm, actor=_actor(adapter), action="kyc.decision",
                       target_type="player", target_id=str(player["id"]), at=at,
                       before={"kyc_status": player["kyc_status"],
                               "kyc_level": player["kyc_level"]},
                       after={"kyc_status": status, "kyc_level": level,
                              "decision": decision.verdict, "rejection": decision.rejection,
                              "reason": decision.reason, "decision_id": str(decision_id),
                              "kyc_session_id": str(session["id"]), "source": adapter,
                              "decided_at": decision.decided_at.isoformat()})
    await outbox.emit(conn, realm=realm, type="kyc.decision", at=at, data={
        "document_id": str(decision_id), "user": players.player_ref(player),
        "decision": decision.verdict, "level": level, "reason": decision.reason,
        "source": adapter, "rejection": decision.rejection,
        "kyc_session_id": str(session["id"])})
