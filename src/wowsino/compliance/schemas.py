"""Jurisdiction request bodies: every failure is a 400 naming the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from wowsino.kernel.countries import ISO_ALPHA2
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import ASSETS, from_minor, to_minor


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Overrides(Body):
    bonuses_allowed: StrictBool | None = None
    max_wagering_multiple: int | None = Field(default=None, ge=0, le=200)
    min_age: int | None = Field(default=None, ge=16, le=25)
    blocked_countries: list[str] | None = Field(default=None, max_length=250)
    vip_allowed: StrictBool | None = None
    withdrawal_kyc_level: StrictInt | None = Field(default=None, ge=1, le=3)
    deposit_kyc_level: StrictInt | None = Field(default=None, ge=0, le=3)
    play_kyc_level: StrictInt | None = Field(default=None, ge=0, le=3)
    deposit_cap_monthly: dict[str, Decimal] | None = Field(default=None, max_length=32)
    bonus_on_bet_allowed: StrictBool | None = None
    jackpots_allowed: StrictBool | None = None
    parallel_sessions: StrictBool | None = None
    slot_stake_cap: dict[str, Decimal] | None = Field(default=None, max_length=32)
    slot_stake_cap_young_adult: dict[str, Decimal] | None = Field(default=None, max_length=32)
    young_adult_max_age: StrictInt | None = Field(default=None, ge=18, le=30)
    min_spin_interval_seconds: StrictInt | None = Field(default=None, ge=0, le=60)

    @field_validator("deposit_cap_monthly", "slot_stake_cap", "slot_stake_cap_young_adult")
    @classmethod
    def _caps(cls, v: dict[str, Decimal] | None) -> dict[str, Decimal] | None:
        """``{currency: amount}``, each amount positive in the currency's unit."""
        if v is None:
            return v
        out = {}
        for code, amount in v.items():
            found = ASSETS.get(code.upper())
            if found is None or not found.is_currency:
                raise ValueError(f"{code!r} is not a currency")
            try:
                minor = to_minor(amount, found, field=code)
            except ValidationFailed as exc:
                raise ValueError(exc.message) from None
            out[found.code] = from_minor(minor, found)
        return out

    @field_validator("blocked_countries")
    @classmethod
    def _countries(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        upper = [c.upper() for c in v]
        for code in upper:
            if code not in ISO_ALPHA2:
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
        return sorted(set(upper))


class JurisdictionIn(Body):
    profile: Literal["default", "GB", "DE"]
    overrides: Overrides = Field(default_factory=Overrides)
    idempotency_key: str | None = Field(default=None, max_length=255)


class KycIn(Body):
    """A manual KYC decision. ``approved`` needs ``level`` 1-3; any other status sets the
    level given, 0 by default."""

    status: Literal["none", "pending", "approved", "rejected"]
    level: int | None = Field(default=None, ge=0, le=3, strict=True)
    reason: str = Field(min_length=1, max_length=500)
    idempotency_key: str | None = Field(default=None, max_length=255)
