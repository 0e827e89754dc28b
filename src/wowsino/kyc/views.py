"""How a verification session and a decision are shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wowsino.kernel.realm import Realm
from wowsino.kyc import references
from wowsino.players import service as players


def session(row: dict[str, Any], realm: Realm, now: datetime) -> dict[str, Any]:
    """A session; a pending one past ``expires_at`` shows ``expired`` (a decision the
    vendor still sends about it is recorded all the same)."""
    status = row["status"]
    if status == "pending" and now >= row["expires_at"]:
        status = "expired"
    return {"id": str(row["id"]), "adapter": row["adapter"],
            "user": players.player_ref({"id": row["player_id"], "username": row["username"]}),
            "level": row["level"], "status": status, "rejection": row["rejection"],
            "reason": row["reason"], "verification_url": row["verification_url"],
            "reference": references.encode(realm, row["id"]),
            "expires_at": row["expires_at"], "decided_at": row["decided_at"],
            "created_at": row["created_at"]}


def decision(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "source": row["source"], "decision": row["status"],
            "level": row["level"], "rejection": row["rejection"], "reason": row["reason"],
            "outcome": row["outcome"],
            "kyc_session_id": None if row["session_id"] is None else str(row["session_id"]),
            "decided_at": row["decided_at"], "recorded_at": row["recorded_at"]}
