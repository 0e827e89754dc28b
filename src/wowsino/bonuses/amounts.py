"""How much a grant is worth, per bonus type (minor units of the template's currency)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import terms as terms_
from wowsino.events import activity
from wowsino.kernel.errors import Conflict, ValidationFailed
from wowsino.kernel.realm import Realm


def pct_of(basis: int, terms: dict[str, Any]) -> int:
    """``amount_pct`` percent of ``basis``, rounded down, capped at ``max_amount``."""
    return capped(int(Decimal(basis) * Decimal(str(terms["amount_pct"])) / 100), terms)


def capped(value: int, terms: dict[str, Any]) -> int:
    """``value`` capped at the template's ``max_amount``."""
    cap = terms_.money(terms, "max_amount")
    return value if cap is None else min(value, cap)


async def basis(
    conn: AsyncConnection, realm: Realm, *, kind: str, terms: dict[str, Any],
    player: dict[str, Any], currency: str, deposit_amount: int | None,
    opted_in_at: datetime | None, at: datetime,
) -> int:
    """What the percentage of a percentage bonus applies to.

    deposit_match / reload: the deposit. cashback: net real loss over the last
    ``period_hours``. lossback: net real loss from ``opted_in_at`` for ``period_hours``.
    rakeback: theoretical loss, real turnover × the category's house edge.
    """
    hours = timedelta(hours=int(terms.get("period_hours") or terms_.DEFAULT_PERIOD_HOURS))
    if kind in ("deposit_match", "reload"):
        if deposit_amount is None:
            raise ValidationFailed(f"deposit_amount: required for a {kind} bonus",
                                   field="deposit_amount")
        return deposit_amount
    if kind == "cashback":
        return await activity.net_real_loss(conn, realm, player["id"], currency,
                                            since=at - hours, until=at)
    if kind == "lossback":
        if opted_in_at is None:
            raise ValidationFailed("opted_in_at: required for a lossback bonus",
                                   field="opted_in_at")
        if opted_in_at > at:
            raise ValidationFailed("opted_in_at: must not be in the future", field="opted_in_at")
        return await activity.net_real_loss(conn, realm, player["id"], currency,
                                            since=opted_in_at, until=min(at, opted_in_at + hours))
    turnover = await activity.real_turnover_by_category(conn, realm, player["id"], currency,
                                                        since=at - hours, until=at)
    edges = {**terms_.DEFAULT_HOUSE_EDGE_PCT,
             **{k: Decimal(str(v)) for k, v in (terms.get("house_edge_pct") or {}).items()}}
    return int(sum(Decimal(t) * edges.get(c, Decimal(0)) / 100 for c, t in turnover.items()))


def require_positive(kind: str, value: int, basis_value: int | None = None) -> None:
    if basis_value is not None and basis_value <= 0:
        raise Conflict(f"nothing to grant: the {kind} basis is not positive", code="NO_BASIS",
                       basis=basis_value)
    if value <= 0:
        raise Conflict(f"nothing to grant: the {kind} amount rounds to zero", code="NO_BASIS")
