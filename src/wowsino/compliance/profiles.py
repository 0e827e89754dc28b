"""Jurisdiction profiles: versioned data, never ``if country == ...`` in engine code.

A brand names a base profile and may override any rule. docs/compliance.md gives the
source of every value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

PROFILE_VERSION = 2  # of the base profiles below; a brand's row counts its own changes

# Every rule, with its meaning (docs/compliance.md gives each value's source):
# ``bonuses_allowed``, ``max_wagering_multiple``: bonus terms; ``bonus_on_bet_allowed``:
#   bonuses given for placing bets (drops, rakeback).
# ``min_age``, ``blocked_countries``: who may register and take part.
# ``vip_allowed``, ``jackpots_allowed``: whether the brand's players take part in them.
# ``withdrawal_kyc_level``, ``deposit_kyc_level``, ``play_kyc_level``: the approved KYC
#   level (0: none) a withdrawal, a deposit, a bet or game launch needs.
# ``deposit_cap_monthly``: ``{currency: amount}`` a player may deposit per calendar month
#   (UTC), in the currency's unit; None (or a currency left out): no cap.
# ``slot_stake_cap``: ``{currency: amount}``, the largest stake of one slot spin;
#   ``slot_stake_cap_young_adult`` the same for players aged up to ``young_adult_max_age``.
# ``min_spin_interval_seconds``: the least time between the starts of two slot rounds.
# ``parallel_sessions``: false: one game at a time (a bet in any but the player's newest
#   game session is refused).
_BASELINE: dict[str, Any] = {
    "bonuses_allowed": True, "max_wagering_multiple": None, "bonus_on_bet_allowed": True,
    "min_age": 18, "blocked_countries": [], "vip_allowed": True, "jackpots_allowed": True,
    "withdrawal_kyc_level": 1, "deposit_kyc_level": 0, "play_kyc_level": 0,
    "deposit_cap_monthly": None, "slot_stake_cap": None, "slot_stake_cap_young_adult": None,
    "young_adult_max_age": None, "min_spin_interval_seconds": 0, "parallel_sessions": True,
}
BASE: dict[str, dict[str, Any]] = {
    "default": dict(_BASELINE),
    # UK Gambling Commission: wagering requirements capped at 10x and mixed-product and
    # bet-triggered promotions restricted from 19 January 2026; online slot stake limits
    # of GBP 5 per spin (GBP 2 for ages 18-24) from April/May 2025 (SI 2025/215); identity
    # verified before gambling (LCCP social responsibility code 3.5.2 / licence condition
    # 17, since May 2019): level 1 before any bet and any withdrawal.
    "GB": {**_BASELINE, "max_wagering_multiple": 10, "bonus_on_bet_allowed": False,
           "play_kyc_level": 1,
           "slot_stake_cap": {"GBP": Decimal("5.00")},
           "slot_stake_cap_young_adult": {"GBP": Decimal("2.00")},
           "young_adult_max_age": 24},
    # GlüStV 2021: players must be 18; identity verified before play (§ 6a); EUR 1 stake
    # per virtual slot spin and at least 5 s per game (§ 22a (7)); no parallel play
    # (§ 6h); jackpots not offered for virtual slot machines (§ 22a (8)); EUR 1,000
    # deposited a month (§ 6c: across all providers; the platform caps its own); no VIP
    # programme rewarding play volume (a conservative reading: see docs/compliance.md).
    "DE": {**_BASELINE, "vip_allowed": False, "jackpots_allowed": False,
           "play_kyc_level": 1,
           "deposit_cap_monthly": {"EUR": Decimal("1000.00")},
           "slot_stake_cap": {"EUR": Decimal("1.00")},
           "min_spin_interval_seconds": 5, "parallel_sessions": False},
}
RULES = tuple(BASE["default"])


def effective(profile: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The rules in force: the base profile with the brand's overrides on top."""
    return {**BASE[profile], **overrides}


def allowing(rule: str) -> list[str]:
    """The base profiles under which the yes/no ``rule`` holds."""
    return sorted(name for name, rules in BASE.items() if rules[rule])
