"""How templates and bonuses are shown: money in the currency's unit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from wowsino.bonuses import terms as terms_
from wowsino.kernel.money import ASSETS, from_minor

TERMINAL = ("completed", "expired", "forfeited", "cancelled")


def template(row: dict[str, Any], lint: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    currency = ASSETS[row["currency"]]
    out = {"id": str(row["id"]), "name": row["name"], "type": row["type"],
           "status": row["status"], "promo_code": row["promo_code"], "currency": currency.code,
           **terms_.shown(row["terms"], currency),
           "created_at": row["created_at"], "updated_at": row["updated_at"]}
    if lint is not None:
        out["lint"] = lint
    return out


def bonus(row: dict[str, Any]) -> dict[str, Any]:
    """The API's bonus object."""
    currency = ASSETS[row["currency"]]

    def money(minor: Any) -> Decimal | None:
        return None if minor is None else from_minor(int(minor), currency)

    return {
        "id": str(row["id"]), "player_id": str(row["player_id"]),
        "template_id": str(row["template_id"]), "type": row["type"], "status": row["status"],
        "currency": currency.code, "bonus_amount": money(row["bonus_amount"]),
        "balance": money(row["balance"]), "deposit_amount": money(row["deposit_amount"]),
        "wagering_required": money(row["wagering_required"]),
        "wagering_completed": money(row["wagering_completed"]),
        "expires_at": row["expires_at"], "granted_at": row["granted_at"],
        "ended_at": row["ended_at"], "end_reason": row["end_reason"],
        "real_credited": money(row["real_credited"]),
    }


def transparent(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A bonus as its player should see it: progress by game category, turnover left,
    time left, the stake cap, and what withdrawing now would cost."""
    currency = ASSETS[row["currency"]]
    base = bonus(row)
    open_ = row["status"] not in TERMINAL
    required, done = int(row["wagering_required"]), int(row["wagering_completed"])
    left = None
    if row["expires_at"] is not None and open_:
        left = max(0, int((row["expires_at"] - now).total_seconds()))
    weights = row["terms"].get("game_weights")
    return {
        **base, "template_name": row.get("template_name"),
        "progress_by_category": {k: from_minor(int(v), currency)
                                 for k, v in sorted(row.get("by_category", {}).items())},
        "game_weights": None if weights is None else {k: Decimal(str(v))
                                                      for k, v in weights.items()},
        "progress_pct": (Decimal(100) if required == 0 else
                         (Decimal(min(done, required)) * 100 / required).quantize(Decimal("0.01"))),
        "remaining_turnover": from_minor(max(0, required - done) if open_ else 0, currency),
        "time_left_seconds": left,
        "max_bet": (None if row["terms"].get("max_bet") is None
                    else from_minor(int(row["terms"]["max_bet"]), currency)),
        "max_conversion": (None if row["terms"].get("max_conversion") is None
                           else from_minor(int(row["terms"]["max_conversion"]), currency)),
        "forfeit_if_withdrawn_now": from_minor(int(row["balance"]) if open_ else 0, currency),
    }
