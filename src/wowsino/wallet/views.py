"""How deposits, withdrawals and transactions are shown: amounts in their currency."""

from __future__ import annotations

from typing import Any

from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.realm import Realm
from wowsino.wallet import references


def _user(row: dict[str, Any]) -> dict[str, Any]:
    return {"user_id": str(row["player_id"]), "username": row["username"]}


def deposit(row: dict[str, Any], realm: Realm) -> dict[str, Any]:
    currency = ASSETS[row["currency"]]
    return {
        "id": str(row["id"]),
        "reference": references.encode("deposit", realm, row["id"]),
        "user": _user(row),
        "status": row["status"],
        "amount": from_minor(int(row["amount"]), currency),
        "currency": currency.code,
        "method": row["method"],
        "adapter": row["adapter"],
        "promo_code": row["promo_code"],
        "psp_reference": row["psp_reference"],
        "redirect_url": row["redirect_url"],
        "failure_reason": row["failure_reason"],
        "flag": row["flag"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "settled_at": row["settled_at"],
    }


def withdrawal(row: dict[str, Any], realm: Realm) -> dict[str, Any]:
    currency = ASSETS[row["currency"]]
    review = None
    if row["reviewed_at"] is not None:
        review = {"by": row["reviewed_by"], "reason": row["review_reason"],
                  "at": row["reviewed_at"], "automatic": row["auto_approved"]}
    return {
        "id": str(row["id"]),
        "reference": references.encode("withdrawal", realm, row["id"]),
        "user": _user(row),
        "status": row["status"],
        "amount": from_minor(int(row["amount"]), currency),
        "currency": currency.code,
        "method": row["method"],
        "adapter": row["adapter"],
        "auto_approved": row["auto_approved"],
        "review": review,
        "psp_reference": row["psp_reference"],
        "payout_sent_at": row["payout_sent_at"],
        "failure_reason": row["failure_reason"],
        "forfeited_bonuses": row["forfeited_bonuses"],
        "flag": row["flag"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "settled_at": row["settled_at"],
    }


def transaction(row: dict[str, Any]) -> dict[str, Any]:
    """One posting of the player's: ``type`` is what moved the money (``deposit``,
    ``withdrawal``, ``bonus``, ``game``, …: the ledger entry kind's first word)."""
    unit = ASSETS[row["asset"]]
    return {
        "entry_id": row["entry_id"],
        "account_id": row["account_id"],
        "type": row["kind"].split(".", 1)[0],
        "kind": row["kind"],
        "rail": row["rail"],
        "currency": unit.code,
        "amount": from_minor(int(row["amount"]), unit),
        "balance_after": from_minor(int(row["balance_after"]), unit),
        "reference": {"type": row["ref_type"], "id": row["ref_id"]},
        "created_at": row["created_at"],
    }
