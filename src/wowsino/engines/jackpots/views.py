"""How jackpots, contributions and drops are shown: amounts in the pool's currency.

A listing never shows a mystery pool's seed or drop point before the round ends,
only the published ``mystery_seed_hash``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from wowsino.fairness import links
from wowsino.kernel.jsonio import loads
from wowsino.kernel.money import ASSETS, Asset, from_minor


def _money(minor: int | None, currency: Asset) -> Decimal | None:
    return None if minor is None else from_minor(int(minor), currency)


def percent(value: Decimal | None) -> Decimal | None:
    """A stored percentage without trailing zeros (``1.0000`` → ``1``)."""
    if value is None:
        return None
    plain = value.normalize()
    return plain.quantize(Decimal(1)) if plain == plain.to_integral_value() else plain


def jackpot(row: dict[str, Any], viewer_brand: UUID | None = None) -> dict[str, Any]:
    """A jackpot with its current pool, round and last drop (from ``repository.view``); the
    last winner is named only to a key of the winner's brand (``viewer_brand``)."""
    currency = ASSETS[row["currency"]]
    last_drop = None
    if row["last_drop_id"] is not None:
        named = row["last_drop_winner_brand_id"] == viewer_brand
        last_drop = {
            "drop_id": str(row["last_drop_id"]), "round": row["last_drop_round"],
            "winner_username": row["last_drop_winner_username"] if named else None,
            "amount": _money(row["last_drop_amount"], currency),
            "trigger_reason": row["last_drop_trigger_reason"],
            "dropped_at": row["last_drop_at"],
        }
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "currency": currency.code,
        "status": row["status"],
        "seed_usd": _money(row["seed"], currency),
        "contribution_pct": percent(row["contribution_pct"]),
        "must_drop_at": _money(row["must_drop_at"], currency),
        "mystery": row["mystery"],
        "mystery_seed_hash": row["mystery_seed_hash"],
        "pool": _money(row["pool"], currency),
        "round": {
            "number": row["round"], "started_at": row["round_started_at"],
            "seed": _money(row["round_seed"], currency),
            "must_drop_at": _money(row["round_must_drop_at"], currency),
            "mystery_client_seed": row["mystery_client_seed"],
        },
        "last_drop": last_drop,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def mystery(reveal: dict[str, Any] | str | None, currency: Asset) -> dict[str, Any] | None:
    """A revealed mystery round: its seed, hash, client seed, range and drop point."""
    if reveal is None:
        return None
    data = loads(reveal) if isinstance(reveal, str) else reveal
    return {
        "server_seed": data["server_seed"], "server_seed_hash": data["server_seed_hash"],
        "client_seed": data["client_seed"], "seed": _money(data["seed"], currency),
        "must_drop_at": _money(data["must_drop_at"], currency),
        "drop_point": _money(data["drop_point"], currency),
        "verify_url": links.mystery_url(
            server_seed=data["server_seed"], server_seed_hash=data["server_seed_hash"],
            client_seed=data["client_seed"], low=int(data["seed"]),
            high=int(data["must_drop_at"]), point=int(data["drop_point"])),
    }


def drop(row: dict[str, Any], currency_code: str, *, show_winner: bool = True) -> dict[str, Any]:
    """One drop (a ``jackpot_drops`` row, or the values about to become one); without
    ``show_winner`` (a key of another brand than the winner's) the winner is not named."""
    currency = ASSETS[currency_code]
    username = row["winner_username"] if show_winner else None
    return {
        "drop_id": str(row["id"]),
        "jackpot_id": str(row["jackpot_id"]),
        "round": row["round"],
        "winner_username": username,
        "winner": {"user_id": str(row["winner_id"]) if show_winner else None,
                   "username": username},
        "currency": currency.code,
        "amount": _money(row["amount"], currency),
        "pool_before": _money(row["pool_before"], currency),
        "pool_after": _money(row["pool_after"], currency),
        "trigger_reason": row["trigger_reason"],
        "contribution_id": None if row["contribution_id"] is None
        else str(row["contribution_id"]),
        "mystery": mystery(row["mystery"], currency),
        "dropped_at": row["created_at"],
    }


def contribution(
    row: dict[str, Any], *, currency_code: str, pool: int, dropped: dict[str, Any] | None
) -> dict[str, Any]:
    """The answer to a contribution: what the pool took and the pool after the call."""
    currency = ASSETS[currency_code]
    return {
        "contribution_id": str(row["id"]),
        "jackpot_id": str(row["jackpot_id"]),
        "source_wager_id": row["source_wager_id"],
        "round": row["round"],
        "amount": _money(row["amount"], currency),
        "requested_amount": _money(row["requested"], currency),
        "currency": currency.code,
        "pool": _money(pool, currency),
        "dropped": dropped,
    }
