"""The compliance gate: may this player take this action now?

Every money and play action asks here — deposit, withdrawal, bet, bonus grant, reward
grant, campaign grant, tournament and journey entry, draws (lootbox, mini-game, raffle),
jackpots, a game launch — and gets one ``Decision {allowed, code, rule, profile, detail}``.
``evaluate`` is the decision itself, a pure function of what the caller gathered
(``Facts``); ``decide`` gathers the brand's rules, evaluates and records a refusal in
the audit log (``compliance.refused``, naming the rule and the profile's version).

The checks, in this order (the first that refuses decides):

1. **status and holds**: a suspended tenant (``TENANT_SUSPENDED``); a status that does
   not allow the action (``PLAYER_BLOCKED``: only ``active`` and ``withdrawal_hold``
   players play and deposit, only ``active`` ones withdraw or receive grants);
2. **self-exclusion and time-outs**: ``SELF_EXCLUDED``, ``TIMED_OUT``. A self-excluded
   or timed-out player may still withdraw their own money: the way out stays open;
3. **responsible-gambling limits** the player set: deposits over rolling windows
   (``DEPOSIT_LIMIT``), the day's real stakes (``WAGER_LIMIT``) and real net loss
   (``LOSS_LIMIT``) at bet time, the login's length (``SESSION_LIMIT``);
4. **age and country**: the profile's ``min_age`` and ``blocked_countries``
   (``JURISDICTION_BLOCKED``; ``PROMO_RULE_VIOLATION`` for a bonus grant); never for a
   withdrawal;
5. **the brand's jurisdiction profile**: slot stake caps (``STAKE_LIMIT``, a lower cap
   for young adults), the interval between slot spins (``SPIN_TOO_FAST``), one game at a
   time (``PARALLEL_SESSION``), the monthly deposit cap (``DEPOSIT_LIMIT``), jackpots and
   VIP allowed (``JURISDICTION_BLOCKED``), bonus terms (``PROMO_RULE_VIOLATION``);
6. **KYC level per action**: ``KYC_REQUIRED`` below the profile's level for the action.

docs/compliance.md gives every rule's source. Engines ask the gate; the gate never asks
engines: what an action's check needs to know of the player's activity (the day's
stakes, the last spin) the caller gathers into ``Facts``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.compliance import profiles
from wowsino.compliance.service import (
    BrandRules,
    Decision,
    age,
    brand_rules,
    rules_of,
    terms_violation,
)
from wowsino.kernel import audit
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import PlayerBlocked
from wowsino.kernel.money import ASSETS, Asset, from_minor, to_minor
from wowsino.kernel.realm import Actor, Realm
from wowsino.players import rg


class Action(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    BET = "bet"
    LAUNCH = "game_launch"
    BONUS_GRANT = "bonus_grant"
    BONUS_CLAIM = "bonus_claim"
    REWARD_GRANT = "reward_grant"
    CAMPAIGN_GRANT = "campaign_grant"
    TOURNAMENT_ENTRY = "tournament_entry"
    JOURNEY_ENTRY = "journey_entry"
    DRAW = "draw"  # a lootbox open, a mini-game play, a raffle entry
    # a wager an operator reports to a pool: the player's state is the operator's, only
    # the jurisdiction's yes or no to jackpots applies
    JACKPOT_CONTRIBUTION = "jackpot_contribution"


PLAY = frozenset({Action.BET, Action.LAUNCH, Action.BONUS_CLAIM, Action.TOURNAMENT_ENTRY,
                  Action.JOURNEY_ENTRY, Action.DRAW})
GRANTS = frozenset({Action.BONUS_GRANT, Action.REWARD_GRANT, Action.CAMPAIGN_GRANT})

# how a refusal names what the player may not do
WORDS: dict[Action, str] = {**{action: "play" for action in PLAY},
                            Action.DEPOSIT: "deposit", Action.WITHDRAWAL: "withdrawal",
                            **{action: "bonus or reward" for action in GRANTS},
                            Action.JACKPOT_CONTRIBUTION: "jackpot contribution"}

# The statuses each action allows: a withdrawal hold keeps the player's money in, not
# the player out; a self-exclusion keeps the player out, not their money in.
STATUSES: dict[Action, frozenset[str]] = {
    **{action: frozenset({"active", "withdrawal_hold"}) for action in PLAY},
    Action.DEPOSIT: frozenset({"active", "withdrawal_hold"}),
    Action.WITHDRAWAL: frozenset({"active", "self_excluded"}),
    **{action: frozenset({"active"}) for action in GRANTS},
    Action.JACKPOT_CONTRIBUTION: frozenset(),
}
# The profile's KYC level each action needs (a rule of the profile; 0: none).
KYC_RULES: dict[Action, str] = {
    Action.WITHDRAWAL: "withdrawal_kyc_level", Action.DEPOSIT: "deposit_kyc_level",
    **{action: "play_kyc_level" for action in (Action.BET, Action.LAUNCH)},
}
SLOTS = "slots"
# the rules that are the player's own state or choice, not the jurisdiction's
PLAYERS_OWN = frozenset({"tenant_status", "status", "self_exclusion", "timeout",
                         "deposit_daily_limit", "deposit_weekly_limit", "deposit_monthly_limit",
                         "wager_daily_limit", "loss_daily_limit", "session_minutes_limit"})

# (limit, rolling window, how the refusal names the window)
DEPOSIT_WINDOWS = (("deposit_daily_limit", timedelta(hours=24), "the last 24 hours"),
                   ("deposit_weekly_limit", timedelta(days=7), "the last 7 days"),
                   ("deposit_monthly_limit", timedelta(days=30), "the last 30 days"))
DEPOSIT_HISTORY = timedelta(days=31)  # what the caller passes covers every window


@dataclass(frozen=True)
class Play:
    """What a bet's checks need of the player's play, gathered by the caller: the UTC
    day's real stakes (settled and open) and real wins, when the player's previous slot
    round started, whether a newer game session of the player exists, and when the
    player's login began (None: the call comes with no login, e.g. an operator's)."""

    day_wagered: int = 0
    day_won: int = 0
    last_spin_at: datetime | None = None
    newer_session: bool = False
    login_at: datetime | None = None


@dataclass(frozen=True)
class Facts:
    """Everything ``evaluate`` reads. ``player``: the player's row (``status``, ``rg``,
    ``self_excluded_until``, ``date_of_birth``, ``country_code``, ``kyc_status``,
    ``kyc_level``); ``amount``: minor units of ``currency`` (a bet's stake, a deposit);
    ``category``: a bet's game category; ``terms``: a bonus's terms; ``deposits``: the
    player's pending and completed deposits in ``currency`` over ``DEPOSIT_HISTORY``,
    ``(created_at, amount)`` oldest first."""

    action: Action
    player: Any
    rules: BrandRules
    at: datetime
    tenant_status: str = "active"
    amount: int = 0
    currency: str | None = None
    category: str | None = None
    cash: int | None = None  # a bet's cash part (the RG limits count real money only)
    terms: dict[str, Any] | None = None
    deposits: list[tuple[datetime, int]] = field(default_factory=list)
    play: Play = field(default_factory=Play)


DEFAULT_RULES = BrandRules("default", 0, profiles.effective("default", {}))


class Refused(PlayerBlocked):
    """A refusal of the gate raised where the caller cannot answer it itself: 403 with
    the decision's code; the refusal's audit row is written once the caller's
    transaction has rolled back (``record_after``)."""

    status = 403

    def __init__(self, decision: Decision, record: Callable[[AsyncConnection], Awaitable[None]]
                 | None = None) -> None:
        body = decision.refusal()
        super().__init__(body["error"], code=decision.code, **body["details"])
        self.decision = decision
        self.record = record

    async def record_after(self, engine: AsyncEngine) -> None:
        """The refusal's audit row, in a transaction of its own."""
        if self.record is not None:
            await unit_of_work(engine, self.record)


def allows_status(status: str, action: Action) -> bool:
    """Whether a player in ``status`` may take ``action`` (the gate's first checks, for an
    engine that has the player's row and nothing more)."""
    return status in STATUSES[action] and (status != "self_excluded"
                                           or action == Action.WITHDRAWAL)


# --- the decision -------------------------------------------------------------------------


def _refuse(facts: Facts, code: str, rule: str, detail: str, **more: Any) -> Decision:
    return Decision(False, code=code, rule=rule, profile=facts.rules.profile,
                    version=facts.rules.version, detail=detail, facts=more,
                    by_profile=rule not in PLAYERS_OWN)


def _status(facts: Facts) -> Decision | None:
    player, action = facts.player, facts.action
    if facts.tenant_status == "suspended":
        return _refuse(facts, "TENANT_SUSPENDED", "tenant_status", "this tenant is suspended")
    status = player["status"]
    if status != "self_excluded" and status not in STATUSES[action]:
        return _refuse(facts, "PLAYER_BLOCKED", "status",
                       f"the player's account is {status}: no {WORDS[action]}", status=status)
    return None


def _exclusion(facts: Facts) -> Decision | None:
    player, action = facts.player, facts.action
    if player["status"] == "self_excluded" and "self_excluded" not in STATUSES[action]:
        return _refuse(facts, "SELF_EXCLUDED", "self_exclusion", "the player is self-excluded",
                       until=player.get("self_excluded_until"))
    until = timeout_until(player["rg"], facts.at)
    if until is not None and action != Action.WITHDRAWAL:
        return _refuse(facts, "TIMED_OUT", "timeout",
                       f"the player took a time-out: no {WORDS[action]} until it ends",
                       until=until)
    return None


def timeout_until(state: dict[str, Any] | None, at: datetime) -> datetime | None:
    """The end of the time-out running at ``at`` in an RG state, or None."""
    value = rg.effective(state or {}, at)["limits"].get("timeout_until")
    if value is None:
        return None
    until = datetime.fromisoformat(value)
    return until if until > at else None


def _unit(facts: Facts) -> Asset:
    assert facts.currency is not None, f"a {facts.action} names its currency"
    return ASSETS[facts.currency]


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


def _deposit_refusal(facts: Facts, limit: str, limit_minor: int, used: int, window: str,
                     resets_at: datetime | None) -> Decision:
    unit = _unit(facts)
    left = max(limit_minor - used, 0)
    detail = (f"{limit} is {from_minor(limit_minor, unit)} {unit.code}; "
              f"{from_minor(used, unit)} deposited in {window}, {from_minor(left, unit)} left")
    return _refuse(facts, "DEPOSIT_LIMIT", limit, detail, limit=limit,
                   limit_amount=from_minor(limit_minor, unit), currency=unit.code,
                   used=from_minor(used, unit), available=from_minor(left, unit),
                   resets_at=resets_at)


def _limits(facts: Facts) -> Decision | None:
    limits = rg.effective(facts.player["rg"] or {}, facts.at)["limits"]
    if facts.action == Action.DEPOSIT:
        for name, window, words in DEPOSIT_WINDOWS:
            limit = limits.get(name)
            if limit is None:
                continue
            over = _rolling(facts.deposits, facts.at, window, int(limit), facts.amount)
            if over is not None:
                return _deposit_refusal(facts, name, int(limit), over[0], words, over[1])
        return None
    if facts.action != Action.BET:
        return None
    play = facts.play
    minutes = limits.get("session_minutes_limit")
    if minutes is not None and play.login_at is not None and (
            facts.at - play.login_at >= timedelta(minutes=int(minutes))):
        return _refuse(facts, "SESSION_LIMIT", "session_minutes_limit",
                       f"the player's session limit of {minutes} minutes is reached: log in "
                       "again to play on", limit_minutes=int(minutes))
    cash = facts.amount if facts.cash is None else facts.cash
    if cash <= 0:
        return None
    unit = _unit(facts)
    wager_limit, loss_limit = limits.get("wager_daily_limit"), limits.get("loss_daily_limit")
    if wager_limit is not None and play.day_wagered + cash > int(wager_limit):
        return _refuse(facts, "WAGER_LIMIT", "wager_daily_limit",
                       "the stake would take today's wagers past the daily limit of "
                       f"{from_minor(int(wager_limit), unit)} {unit.code}")
    if loss_limit is not None and play.day_wagered - play.day_won + cash > int(loss_limit):
        return _refuse(facts, "LOSS_LIMIT", "loss_daily_limit",
                       "the stake could take today's net loss past the daily limit of "
                       f"{from_minor(int(loss_limit), unit)} {unit.code}")
    return None


def _person(facts: Facts) -> Decision | None:
    if facts.action == Action.WITHDRAWAL:
        return None
    rules, player = facts.rules.rules, facts.player
    code = "PROMO_RULE_VIOLATION" if facts.action == Action.BONUS_GRANT else "JURISDICTION_BLOCKED"
    country = player.get("country_code")
    if country and country in rules["blocked_countries"]:
        return _refuse(facts, code, "blocked_countries",
                       f"players from {country} may not take part ({facts.action.value})")
    born = player.get("date_of_birth")
    if born is not None and age(born, facts.at.date()) < rules["min_age"]:
        return _refuse(facts, code, "min_age", f"the player is under {rules['min_age']}")
    return None


def _cap(caps: dict[str, Any] | None, unit: Asset, rule: str) -> int | None:
    cap = (caps or {}).get(unit.code)
    return None if cap is None else to_minor(Decimal(str(cap)), unit, field=rule)


def _stake_cap(facts: Facts) -> tuple[str, int] | None:
    """The slot stake cap in force for the player: ``(rule, minor units)``, or None."""
    rules, unit = facts.rules.rules, _unit(facts)
    born = facts.player.get("date_of_birth")
    young = rules.get("young_adult_max_age")
    if born is not None and young is not None and age(born, facts.at.date()) <= int(young):
        cap = _cap(rules.get("slot_stake_cap_young_adult"), unit, "slot_stake_cap_young_adult")
        if cap is not None:
            return "slot_stake_cap_young_adult", cap
    cap = _cap(rules.get("slot_stake_cap"), unit, "slot_stake_cap")
    return None if cap is None else ("slot_stake_cap", cap)


def _bet_profile(facts: Facts) -> Decision | None:
    rules, play = facts.rules.rules, facts.play
    if not rules["parallel_sessions"] and play.newer_session:
        return _refuse(facts, "PARALLEL_SESSION", "parallel_sessions",
                       "the player opened another game since: one game at a time")
    if facts.category != SLOTS:
        return None
    unit = _unit(facts)
    capped = _stake_cap(facts)
    if capped is not None and facts.amount > capped[1]:
        rule, cap = capped
        return _refuse(facts, "STAKE_LIMIT", rule,
                       f"a slot stake is at most {from_minor(cap, unit)} {unit.code}",
                       max_stake=from_minor(cap, unit), currency=unit.code)
    interval = rules.get("min_spin_interval_seconds")
    if interval and play.last_spin_at is not None:
        wait = play.last_spin_at + timedelta(seconds=int(interval)) - facts.at
        if wait > timedelta(0):
            return _refuse(facts, "SPIN_TOO_FAST", "min_spin_interval_seconds",
                           f"at least {interval} s between slot spins",
                           retry_after_ms=int(wait.total_seconds() * 1000) + 1)
    return None


def _month_start(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _profile(facts: Facts) -> Decision | None:
    rules, action = facts.rules.rules, facts.action
    if action == Action.BET:
        return _bet_profile(facts)
    if action == Action.DEPOSIT:
        unit = _unit(facts)
        limit = _cap(rules.get("deposit_cap_monthly"), unit, "deposit_cap_monthly")
        if limit is None:
            return None
        start = _month_start(facts.at)
        used = sum(a for t, a in facts.deposits if t >= start)
        if used + facts.amount <= limit:
            return None
        following = (start + timedelta(days=32)).replace(day=1)
        return _deposit_refusal(facts, "deposit_cap_monthly", limit, used,
                                "this calendar month (UTC)",
                                None if facts.amount > limit else following)
    if action == Action.JACKPOT_CONTRIBUTION and not rules["jackpots_allowed"]:
        return _refuse(facts, "JURISDICTION_BLOCKED", "jackpots_allowed",
                       "jackpots are not offered under this brand's profile")
    if action == Action.BONUS_GRANT and facts.terms is not None:
        broken = terms_violation(rules, facts.terms, facts.terms.get("type"))
        if broken is not None:
            return _refuse(facts, "PROMO_RULE_VIOLATION", broken[0], broken[1])
    return None


def _kyc(facts: Facts) -> Decision | None:
    rule = KYC_RULES.get(facts.action)
    required = int(facts.rules.rules.get(rule) or 0) if rule else 0
    if required <= 0:
        return None
    player = facts.player
    if player["kyc_status"] == "approved" and int(player["kyc_level"]) >= required:
        return None
    assert rule is not None
    return _refuse(facts, "KYC_REQUIRED", rule,
                   f"a {facts.action.value} needs an approved KYC at level {required}; the "
                   f"player's KYC is {player['kyc_status']} at level {player['kyc_level']}",
                   required_level=required, kyc_status=player["kyc_status"],
                   kyc_level=int(player["kyc_level"]))


CHECKS = (("status", _status), ("exclusion", _exclusion), ("limits", _limits),
          ("person", _person), ("profile", _profile), ("kyc", _kyc))
# the actions that pass only some of the checks (every other passes them all)
ONLY: dict[Action, frozenset[str]] = {Action.JACKPOT_CONTRIBUTION: frozenset({"profile"})}


def evaluate(facts: Facts) -> Decision:
    """The gate's decision on ``facts``: the first check that refuses, in ``CHECKS``'s
    order, or allowed."""
    only = ONLY.get(facts.action)
    for name, check in CHECKS:
        if only is not None and name not in only:
            continue
        refused = check(facts)
        if refused is not None:
            return refused
    return Decision(True, profile=facts.rules.profile, version=facts.rules.version)


# --- asking the gate ----------------------------------------------------------------------


def _audit(realm: Realm, actor: Actor, facts: Facts, decision: Decision, target_type: str,
           target_id: str, context: dict[str, Any] | None = None,
           ) -> Callable[[AsyncConnection], Awaitable[None]]:
    async def record(conn: AsyncConnection) -> None:
        await audit.record(conn, realm=realm, actor=actor, action="compliance.refused",
                           target_type=target_type, target_id=target_id, at=facts.at,
                           after={"rule": decision.rule, "code": decision.code,
                                  "profile": decision.profile,
                                  "profile_version": decision.version,
                                  "detail": decision.detail,
                                  "player_id": str(facts.player["id"]),
                                  "action": facts.action.value, **(context or {})})
    return record


async def rules_for(conn: AsyncConnection, realm: Realm, player: Any) -> BrandRules:
    """The rules of the player's brand (a row that carries its brand's profile, as
    ``pam.guard``'s does, needs no read)."""
    if "jp_profile" in player:
        return rules_of(player)
    return await brand_rules(conn, realm, UUID(str(player["brand_id"])))


async def decide(conn: AsyncConnection, facts: Facts, *, realm: Realm, actor: Actor,
                 target_type: str | None = None, target_id: str | None = None,
                 context: dict[str, Any] | None = None) -> Decision:
    """``evaluate(facts)``; a refusal's audit row (with ``context`` added) goes in the
    caller's transaction, which must then commit: the caller answers the refusal, e.g. as
    a stored 403."""
    decision = evaluate(facts)
    if not decision.allowed:
        await _audit(realm, actor, facts, decision, target_type or facts.action.value,
                     target_id or str(facts.player["id"]), context)(conn)
    return decision


def require(facts: Facts, *, realm: Realm, actor: Actor, target_type: str | None = None,
            target_id: str | None = None) -> None:
    """``evaluate(facts)``, raising ``Refused`` (whose audit row is written after the
    caller's transaction rolls back) for a refusal."""
    decision = evaluate(facts)
    if not decision.allowed:
        raise Refused(decision, _audit(realm, actor, facts, decision,
                                       target_type or facts.action.value,
                                       target_id or str(facts.player["id"])))

