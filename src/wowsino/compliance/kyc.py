"""KYC decisions: an operator's manual decision (``PATCH /v1/players/<key>/kyc``) sets
the player's ``kyc_status`` and ``kyc_level``, is kept in ``kyc_decisions``, audited, and
emitted as ``kyc.decision``. The withdrawal gate (``compliance.gate``) reads the result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit, outbox
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.ids import new_id
from wowsino.kernel.realm import Actor, Realm
from wowsino.players import service as players

MANUAL = "manual"


def _level(status: str, level: int | None) -> int:
    if status == "approved":
        if level is None or level < 1:
            raise ValidationFailed("level: an approved KYC has a level from 1 to 3",
                                   field="level")
        return level
    return 0 if level is None else level


async def record_decision(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, status: str,
    level: int | None, reason: str, actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Set a player's KYC status and level by hand; 404 ``NO_PLAYER``, 400 for an approval
    without a level."""
    decided = _level(status, level)
    player = await players.get(conn, realm, brand_id, ref, for_update=True)
    decision_id = new_id()
    await conn.execute(
        text("INSERT INTO kyc_decisions (tenant_id, mode, id, player_id, brand_id, source, "
             "status, level, reason, actor, created_at) VALUES (:tenant_id, :mode, :id, "
             ":player_id, :brand_id, :source, :status, :level, :reason, :actor, :at)"),
        {**realm.params, "id": decision_id, "player_id": player["id"],
         "brand_id": player["brand_id"], "source": MANUAL, "status": status, "level": decided,
         "reason": reason, "actor": actor.label, "at": at})
    await players.set_kyc(conn, realm, player["id"], status=status, level=decided, at=at)
    await audit.record(conn, realm=realm, actor=actor, action="kyc.decision",
                       target_type="player", target_id=str(player["id"]), at=at,
                       before={"kyc_status": player["kyc_status"],
                               "kyc_level": player["kyc_level"]},
                       after={"kyc_status": status, "kyc_level": decided, "reason": reason,
                              "decision_id": str(decision_id), "source": MANUAL})
    await outbox.emit(conn, realm=realm, type="kyc.decision", at=at, data={
        "document_id": str(decision_id), "user": players.player_ref(player),
        "decision": status, "level": decided, "reason": reason, "source": MANUAL,
        "rejection": None, "kyc_session_id": None})
    return {"kyc": {"decision_id": str(decision_id), "user": players.player_ref(player),
                    "status": status, "level": decided, "reason": reason, "source": MANUAL,
                    "previous": {"status": player["kyc_status"],
                                 "level": player["kyc_level"]},
                    "decided_at": at}}
