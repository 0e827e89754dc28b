"""A bonus's end: completed (converted), forfeited, expired or cancelled.

Each end is one ledger entry (or none when nothing is left), one state change (the
database refuses any change to a terminal state) and one event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import flows, repository, terms
from wowsino.kernel import outbox
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.realm import Realm


async def _user(conn: AsyncConnection, realm: Realm, bonus: dict[str, Any]) -> dict[str, Any]:
    username = await conn.scalar(
        text("SELECT username FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND id = :id"), {**realm.params, "id": bonus["player_id"]})
    return {"user_id": str(bonus["player_id"]), "username": username}


async def convert(conn: AsyncConnection, *, realm: Realm, service_mode: str,
                  bonus: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Wagering done: the balance, capped at ``max_conversion``, becomes real money in one
    entry; emits ``bonus.converted {bonus_id, user, real_credited}``."""
    balance = int(bonus["balance"])
    cap = terms.money(bonus["terms"], "max_conversion")
    real = balance if cap is None else min(balance, cap)
    await flows.convert(conn, realm=realm, service_mode=service_mode, bonus_id=bonus["id"],
                        player_id=bonus["player_id"], currency=bonus["currency"],
                        balance=balance, real=real, at=at)
    await repository.finish(conn, realm, bonus["id"], status="completed", reason="wagered",
                            at=at, real_credited=real)
    currency = ASSETS[bonus["currency"]]
    data = {"bonus_id": str(bonus["id"]), "user": await _user(conn, realm, bonus),
            "type": bonus["type"],
            "currency": currency.code, "real_credited": from_minor(real, currency),
            "bonus_balance": from_minor(balance, currency),
            "paid_by": "operator" if service_mode == flows.PLUG_IN else "wallet"}
    await outbox.emit(conn, realm=realm, type="bonus.converted", at=at, data=data)
    return {"bonus_id": str(bonus["id"]), "converted": True,
            "real_credited": from_minor(real, currency)}


async def remove(conn: AsyncConnection, *, realm: Realm, bonus: dict[str, Any], status: str,
                 reason: str, at: datetime) -> dict[str, Any]:
    """Forfeit, expire or cancel: what is left goes back to ``bonus_liability``; emits
    ``bonus.forfeited`` / ``bonus.expired`` (a cancelled bonus held no money)."""
    balance = int(bonus["balance"])
    kind = {"forfeited": "bonus.forfeit", "expired": "bonus.expire",
            "cancelled": "bonus.cancel"}[status]
    await flows.remove(conn, realm=realm, bonus_id=bonus["id"], player_id=bonus["player_id"],
                       currency=bonus["currency"], balance=balance, kind=kind, at=at)
    await repository.finish(conn, realm, bonus["id"], status=status, reason=reason, at=at)
    currency = ASSETS[bonus["currency"]]
    removed = from_minor(balance, currency)
    if status in ("forfeited", "expired"):
        data = {"bonus_id": str(bonus["id"]), "user": await _user(conn, realm, bonus),
                "type": bonus["type"], "reason": reason, "currency": currency.code,
                "amount_removed": removed}
        if status == "forfeited":
            await outbox.emit(conn, realm=realm, type="bonus.forfeited", at=at, data=data)
        else:
            await outbox.emit(conn, realm=realm, type="bonus.expired", at=at, data=data)
    return {"bonus_id": str(bonus["id"]), status: True, "reason": reason,
            "amount_removed": removed}
