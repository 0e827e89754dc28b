"""The compliance gate for the wallet: may this player deposit this amount, may they
withdraw? Every refusal is a 403 with its rule and the brand's profile, recorded in the
audit log (``compliance.refused``) in the caller's transaction.

Holds, for both: a ``self_excluded`` player or one in a time-out (``timeout_until`` in the
future) gets ``SELF_EXCLUDED``; any other status than ``active`` gets ``PLAYER_BLOCKED``.

Deposits (``DEPOSIT_LIMIT``), in this order: the player's responsible-gaming limits over
rolling windows — ``deposit_daily_limit`` the last 24 hours, ``deposit_weekly_limit`` the
last 7 days, ``deposit_monthly_limit`` the last 30 days — then the jurisdiction's
``deposit_cap_monthly`` over the calendar month (UTC). Pending and completed deposits
count (a pending one may still complete). The refusal names the limit, what is used and
left, and ``resets_at``: the first time a deposit of this amount fits (null when the amount
alone is over the limit).

Withdrawals (``KYC_REQUIRED``): an approved KYC at the profile's ``withdrawal_kyc_level``
or above. The caller supplies the deposits it knows of: the gate reads no engine's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance.service import BrandRules, Decision, brand_rules
from wowsino.kernel import audit
from wowsino.kernel.money import ASSETS, Asset, from_minor, to_minor
from wowsino.kernel.realm import Actor, Realm
from wowsino.players import rg

# (limit, rolling window, how the refusal names the window)
RG_WINDOWS = (("deposit_daily_limit", timedelta(hours=24), "the last 24 hours"),
              ("deposit_weekly_limit", timedelta(days=7), "the last 7 days"),
              ("deposit_monthly_limit", timedelta(days=30), "the last 30 days"))
HISTORY = timedelta(days=31)  # what the caller passes covers every window


@dataclass(frozen=True)
class Breach:
    limit: str
    limit_minor: int
    used: int
    window: str
    resets_at: datetime | None


def _hold(player: dict[str, Any], at: datetime) -> tuple[str, str, str] | None:
    """``(code, rule, detail)`` for a player held from money movements, or None."""
    if player["status"] == "self_excluded":
        return "SELF_EXCLUDED", "self_exclusion", "the player is self-excluded"
    timeout = rg.effective(player["rg"] or {}, at)["limits"].get("timeout_until")
    if timeout is not None and datetime.fromisoformat(timeout) > at:
        return "SELF_EXCLUDED", "timeout", f"the player is in a time-out until {timeout}"
    if player["status"] != "active":
        return "PLAYER_BLOCKED", "status", f"the player is {player['status']}"
    return None


def _rolling(history: list[tuple[datetime, int]], at: datetime, window: timedelta,
             limit: int, amount: int) -> tuple[int, datetime | None] | None:
    """``(used, resets_at)`` when ``amount`` does not fit under ``limit`` now."""
    inside = [(t, a) for t, a in history if t > at - window]
    used = sum(a for _, a in inside)
    if used + amount <= limit:
        return None
    if amount > limit:
        return used, None
    left = used
    for moment, value in inside:  # oldest first: the window frees them in this order
        left -= value
        if left + amount <= limit:
            return used, moment + window
    return used, None  # unreachable: with nothing left, amount <= limit fits


def _month_start(at: datetime) -> datetime:
    moment = at.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def _breach(player: dict[str, Any], rules: dict[str, Any], currency: Asset, amount: int,
            history: list[tuple[datetime, int]], at: datetime) -> Breach | None:
    limits = rg.effective(player["rg"] or {}, at)["limits"]
    for name, window, words in RG_WINDOWS:
        limit = limits.get(name)
        if limit is None:
            continue
        over = _rolling(history, at, window, int(limit), amount)
        if over is not None:
            return Breach(name, int(limit), over[0], words, over[1])
    caps = rules.get("deposit_cap_monthly") or {}
    cap = caps.get(currency.code)
    if cap is not None:
        limit = to_minor(Decimal(str(cap)), currency, field="deposit_cap_monthly")
        start = _month_start(at)
        used = sum(a for t, a in history if t >= start)
        if used + amount > limit:
            return Breach("deposit_cap_monthly", limit, used, "this calendar month (UTC)",
                          None if amount > limit else _next_month(start))
    return None


@dataclass(frozen=True)
class _Asking:
    """Who asks for what, under which rules: what a refusal records."""

    realm: Realm
    found: BrandRules
    player: dict[str, Any]
    action: str
    target_id: str
    actor: Actor
    at: datetime

    async def refuse(self, conn: AsyncConnection, *, code: str, rule: str, detail: str,
                     facts: dict[str, Any] | None = None) -> Decision:
        found = self.found
        await audit.record(conn, realm=self.realm, actor=self.actor, action="compliance.refused",
                           target_type=self.action, target_id=self.target_id, at=self.at,
                           after={"rule": rule, "profile": found.profile,
                                  "profile_version": found.version, "detail": detail,
                                  "player_id": str(self.player["id"]), "action": self.action})
        return Decision(False, code=code, rule=rule, profile=found.profile,
                        version=found.version, detail=detail, facts=facts or {})


async def decide_deposit(
    conn: AsyncConnection, *, realm: Realm, player: dict[str, Any], currency: str, amount: int,
    history: list[tuple[datetime, int]], actor: Actor, at: datetime, target_id: str,
) -> Decision:
    """May ``player`` deposit ``amount`` (minor units of ``currency``)? ``history``: their
    pending and completed deposits in that currency over the last ``HISTORY``,
    ``(created_at, amount)`` oldest first."""
    found = await brand_rules(conn, realm, UUID(str(player["brand_id"])))
    asking = _Asking(realm, found, player, "deposit", target_id, actor, at)
    held = _hold(player, at)
    if held is not None:
        return await asking.refuse(conn, code=held[0], rule=held[1], detail=held[2])
    unit = ASSETS[currency]
    breach = _breach(player, found.rules, unit, amount, history, at)
    if breach is None:
        return Decision(True, profile=found.profile, version=found.version)
    left = max(breach.limit_minor - breach.used, 0)
    detail = (f"{breach.limit} is {from_minor(breach.limit_minor, unit)} {unit.code}; "
              f"{from_minor(breach.used, unit)} deposited in {breach.window}, "
              f"{from_minor(left, unit)} left")
    facts = {"limit": breach.limit, "limit_amount": from_minor(breach.limit_minor, unit),
             "currency": unit.code, "used": from_minor(breach.used, unit),
             "available": from_minor(left, unit), "resets_at": breach.resets_at}
    return await asking.refuse(conn, code="DEPOSIT_LIMIT", rule=breach.limit, detail=detail,
                               facts=facts)


async def decide_withdrawal(
    conn: AsyncConnection, *, realm: Realm, player: dict[str, Any], actor: Actor,
    at: datetime, target_id: str,
) -> Decision:
    """May ``player`` withdraw: no hold, and an approved KYC at the profile's level?"""
    found = await brand_rules(conn, realm, UUID(str(player["brand_id"])))
    asking = _Asking(realm, found, player, "withdrawal", target_id, actor, at)
    held = _hold(player, at)
    if held is not None:
        return await asking.refuse(conn, code=held[0], rule=held[1], detail=held[2])
    required = int(found.rules["withdrawal_kyc_level"])
    if player["kyc_status"] != "approved" or int(player["kyc_level"]) < required:
        detail = (f"a withdrawal needs an approved KYC at level {required}; the player's KYC "
                  f"is {player['kyc_status']} at level {player['kyc_level']}")
        return await asking.refuse(
            conn, code="KYC_REQUIRED", rule="withdrawal_kyc_level", detail=detail,
            facts={"required_level": required, "kyc_status": player["kyc_status"],
                   "kyc_level": int(player["kyc_level"])})
    return Decision(True, profile=found.profile, version=found.version)
