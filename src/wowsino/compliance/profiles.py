"""Jurisdiction profiles: versioned data, never ``if country == ...`` in engine code.

A brand names a base profile and may override any rule. docs/compliance.md gives the
source of every value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

PROFILE_VERSION = 1

# ``withdrawal_kyc_level``: the KYC level (1-3, approved) a withdrawal needs.
# ``deposit_cap_monthly``: ``{currency: amount}`` a player may deposit per calendar month
# (UTC), amounts in the currency's unit; None (or a currency left out): no cap.
BASE: dict[str, dict[str, Any]] = {
    "default": {"bonuses_allowed": True, "max_wagering_multiple": None, "min_age": 18,
                "blocked_countries": [], "vip_allowed": True, "withdrawal_kyc_level": 1,
                "deposit_cap_monthly": None},
    # UK Gambling Commission: wagering requirements capped at 10x from 19 January 2026.
    # VIP schemes are allowed, under the Commission's 2020 rules on high-value customers.
    # Licence condition 17 (since May 2019): identity verified before play, hence before
    # any withdrawal (level 1); no statutory deposit cap (affordability is the operator's).
    "GB": {"bonuses_allowed": True, "max_wagering_multiple": 10, "min_age": 18,
           "blocked_countries": [], "vip_allowed": True, "withdrawal_kyc_level": 1,
           "deposit_cap_monthly": None},
    # GlüStV 2021: players must be 18; no wagering cap is encoded (set one by override);
    # no VIP programme rewarding play volume (a conservative reading: see docs/compliance.md).
    # GlüStV 2021 § 6c: at most EUR 1,000 deposited a month across all providers; the
    # platform sees its own deposits only and caps those.
    "DE": {"bonuses_allowed": True, "max_wagering_multiple": None, "min_age": 18,
           "blocked_countries": [], "vip_allowed": False, "withdrawal_kyc_level": 1,
           "deposit_cap_monthly": {"EUR": Decimal("1000.00")}},
}
RULES = tuple(BASE["default"])


def effective(profile: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The rules in force: the base profile with the brand's overrides on top."""
    return {**BASE[profile], **overrides}


def allowing(rule: str) -> list[str]:
    """The base profiles under which the yes/no ``rule`` holds."""
    return sorted(name for name, rules in BASE.items() if rules[rule])
