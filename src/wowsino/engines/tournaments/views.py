"""How tournaments, leaderboard rows and payouts are shown: amounts in their asset's unit,
scores as decimals (``config.shown_score``), players named only to their own brand."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from wowsino.engines.tournaments.config import shown_score, stored
from wowsino.kernel.money import ASSETS, from_minor


def phase(row: dict[str, Any], at: datetime) -> str:
    """``upcoming`` before ``starts_at``, ``running`` until ``ends_at`` (or an early
    close), then ``ended``."""
    if row["status"] == "closed":
        return "ended"
    if at < row["starts_at"]:
        return "upcoming"
    return "running" if at < row["ends_at"] else "ended"


def prize(raw: dict[str, Any]) -> dict[str, Any]:
    if "bonus_template" in raw:
        return {"bonus_template": raw["bonus_template"]}
    return {"asset": raw["asset"], "amount": Decimal(raw["amount"])}


def prize_table(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"rank_from": r["rank_from"], "rank_to": r["rank_to"], "prize": prize(r["prize"])}
            for r in table]


def total_paid(raw: dict[str, Any] | None) -> dict[str, Decimal] | None:
    if raw is None:
        return None
    return {code: from_minor(int(minor), ASSETS[code]) for code, minor in sorted(raw.items())}


def tournament(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    currency = row["currency"]
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "scoring": row["scoring"],
        "status": row["status"],
        "phase": phase(row, at),
        "starts_at": row["starts_at"],
        "ends_at": row["ends_at"],
        "currency": currency,
        "min_bet": None if row["min_bet"] is None
        else from_minor(int(row["min_bet"]), ASSETS[currency]),
        "game_categories": row["game_categories"],
        "opt_in": row["opt_in"],
        "max_participants": row["max_participants"],
        "participants": int(row["participants"]),
        "prize_table": prize_table(stored(row["prize_table"])),
        "recurrence": stored(row["recurrence"]),
        "series_id": str(row["series_id"]),
        "instance": row["instance"],
        "closed_at": row["closed_at"],
        "close_trigger": row["close_trigger"],
        "total_paid": total_paid(stored(row["total_paid"])),
        "next_instance_id": None if row["next_instance_id"] is None
        else str(row["next_instance_id"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def user(player_id: UUID, username: str | None, brand_id: UUID,
         viewer_brand: UUID | None) -> dict[str, Any]:
    """A player by name to a key of their brand; ``{user_id: null, username: null}`` to any
    other (a tournament is shared by the tenant's brands, its players are not)."""
    if viewer_brand is not None and brand_id != viewer_brand:
        return {"user_id": None, "username": None}
    return {"user_id": str(player_id), "username": username}


def standing(row: dict[str, Any], tournament_row: dict[str, Any],
             viewer_brand: UUID | None) -> dict[str, Any]:
    """A leaderboard row ``{rank, user, score}``."""
    return {"rank": row["rank"],
            "user": user(row["player_id"], row["username"], row["brand_id"], viewer_brand),
            "score": shown_score(row["score"], tournament_row["scoring"],
                                 tournament_row["currency"])}


def payout(row: dict[str, Any], tournament_row: dict[str, Any],
           viewer_brand: UUID | None = None) -> dict[str, Any]:
    """One rank of a close: ``{rank, user, score, prize, status, reason?, …}``."""
    shown = {"rank": row["rank"],
             "user": user(row["player_id"], row["username"], row["brand_id"], viewer_brand),
             "score": shown_score(row["score"], tournament_row["scoring"],
                                  tournament_row["currency"]),
             "prize": prize(row["prize"]), "status": row["status"]}
    if row["reason"] is not None:
        shown["reason"] = row["reason"]
    shown.update(row["detail"])
    return shown


def anonymous(page: dict[str, Any], *, keep: UUID | None = None) -> dict[str, Any]:
    """A leaderboard page as shown outside the operator's back office (a brand's site with
    its publishable key, a player): players by username only, their ids left out, except
    ``keep`` (the calling player's own rows)."""
    own = None if keep is None else str(keep)
    for row in page["data"]:
        user = row["user"]
        if user["user_id"] != own:
            row["user"] = {"user_id": None, "username": user["username"]}
    return page
