"""Responsible-gaming limits: a stricter limit applies at once; a looser one (an
increase, a shorter time-out, a removal) only after a 24 h cooling-off.

State (the ``players.rg`` column): ``{"limits": {name: value}, "pending":
{name: {"value": value | None, "applies_at": iso}}}``. Money limits are minor
units of the player's currency; ``session_minutes_limit`` is minutes;
``timeout_until`` is an ISO time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from wowsino.kernel.clock import iso
from wowsino.kernel.money import Asset, from_minor

COOLING_OFF = timedelta(hours=24)
MONEY_LIMITS = (
    "deposit_daily_limit", "deposit_weekly_limit", "deposit_monthly_limit",
    "loss_daily_limit", "loss_weekly_limit", "loss_monthly_limit", "wager_daily_limit",
)
LIMITS = (*MONEY_LIMITS, "session_minutes_limit", "timeout_until")


@dataclass(frozen=True)
class Change:
    limit: str
    before: Any
    after: Any
    applies_at: datetime
    immediate: bool


def _stricter(limit: str, old: Any, new: Any) -> bool:
    """Whether ``new`` restricts the player at least as much as ``old``."""
    if limit == "timeout_until":  # a later time-out is stricter; removal is looser
        if new is None:
            return old is None
        return old is None or datetime.fromisoformat(new) >= datetime.fromisoformat(old)
    if new is None:  # removing a limit loosens it
        return old is None
    return old is None or new <= old


def effective(state: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The state with every pending change whose cooling-off has passed applied."""
    limits = dict(state.get("limits", {}))
    pending = {}
    for name, item in state.get("pending", {}).items():
        if datetime.fromisoformat(item["applies_at"]) <= now:
            if item["value"] is None:
                limits.pop(name, None)
            else:
                limits[name] = item["value"]
        else:
            pending[name] = item
    out: dict[str, Any] = {"limits": limits}
    if pending:
        out["pending"] = pending
    return out


def apply_request(
    state: dict[str, Any], requested: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], list[Change]]:
    """New state and the changes made by ``requested`` ({limit: value | None})."""
    current = effective(state, now)
    limits, pending = dict(current["limits"]), dict(current.get("pending", {}))
    changes = []
    for name, new in requested.items():
        old = limits.get(name)
        if new == old:
            if name in pending:  # asking for the current value cancels a pending loosening
                del pending[name]
                changes.append(Change(name, old, new, now, True))
            continue
        if _stricter(name, old, new):
            if new is None:
                limits.pop(name, None)
            else:
                limits[name] = new
            pending.pop(name, None)
            changes.append(Change(name, old, new, now, True))
        else:
            applies_at = now + COOLING_OFF
            pending[name] = {"value": new, "applies_at": iso(applies_at)}
            changes.append(Change(name, old, new, applies_at, False))
    out: dict[str, Any] = {"limits": limits}
    if pending:
        out["pending"] = pending
    return out, changes


def present(state: dict[str, Any], currency: Asset, now: datetime) -> dict[str, Any]:
    """The API view: every limit (null when unset) and the pending ones."""
    current = effective(state, now)

    def show(name: str, value: Any) -> Any:
        if value is None:
            return None
        if name in MONEY_LIMITS:
            return from_minor(int(value), currency)
        return value

    view: dict[str, Any] = {name: show(name, current["limits"].get(name)) for name in LIMITS}
    view["pending"] = {
        name: {"value": show(name, item["value"]), "applies_at": item["applies_at"]}
        for name, item in current.get("pending", {}).items()
    }
    return view


def display(name: str, value: Any, currency: Asset) -> Any:
    if value is None or name not in MONEY_LIMITS:
        return value
    return Decimal(from_minor(int(value), currency))
