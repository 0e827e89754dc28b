"""Player request bodies: every failure is a 400 naming the field."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wowsino.kernel.bodies import Instant
from wowsino.kernel.countries import ISO_ALPHA2
from wowsino.kernel.ids import parse_uuid
from wowsino.kernel.money import ASSETS

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"^[^@\s]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")
TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

STATUSES = ("active", "suspended", "self_excluded", "fraud_hold", "aml_hold",
            "withdrawal_hold", "affordability_review", "closed")
PlayerStatus = Literal["active", "suspended", "self_excluded", "fraud_hold", "aml_hold",
                       "withdrawal_hold", "affordability_review", "closed"]
# One type (not a union) so a refusal names the field itself; ints arrive as Decimal.
MoneyIn = Decimal


def normalised_email(v: str) -> str:
    """An email address as stored (lower case); ValueError if it is not one."""
    if len(v) > 254 or not EMAIL.match(v):
        raise ValueError("not a valid email address")
    return v.lower()


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PlayerIdentity(Body):
    """The fields an operator's upsert and a player's own registration share."""

    username: str
    email: str
    country_code: str | None = None
    date_of_birth: date | None = None
    currency: str | None = None
    referred_by: str | None = Field(default=None, min_length=1, max_length=64)
    idempotency_key: str | None = None

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not USERNAME.match(v):
            raise ValueError("1–64 characters: letters, digits and _ . @ + -, "
                             "starting with a letter or digit")
        if parse_uuid(v) is not None:
            raise ValueError("must not be a UUID (UUIDs address players by id)")
        return v

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        return normalised_email(v)

    @field_validator("country_code")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is not None and v.upper() not in ISO_ALPHA2:
            raise ValueError("not an ISO 3166-1 alpha-2 country code")
        return v.upper() if v else v

    @field_validator("date_of_birth")
    @classmethod
    def _dob(cls, v: date | None) -> date | None:
        # the upper bound ("not after today") is the service's, on the platform clock
        if v is not None and v < date(1900, 1, 1):
            raise ValueError("must be a real date between 1900-01-01 and today")
        return v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        if v is None:
            return v
        found = ASSETS.get(v.upper())
        if found is None or not found.is_currency:
            raise ValueError("not a supported currency")
        return found.code


class PlayerIn(PlayerIdentity):
    external_ref: str | None = Field(default=None, max_length=128)
    tags: list[str] | None = Field(default=None, max_length=50)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        for tag in v:
            if not TAG.match(tag):
                raise ValueError(f"tag {tag!r}: 1–64 of letters, digits and _ . : -")
        return sorted(set(v))


class StatusIn(Body):
    status: PlayerStatus
    reason: str = Field(min_length=1, max_length=2000)
    idempotency_key: str | None = None


class RgIn(Body):
    """Partial update: a field present with ``null`` removes that limit."""

    deposit_daily_limit: MoneyIn | None = None
    deposit_weekly_limit: MoneyIn | None = None
    deposit_monthly_limit: MoneyIn | None = None
    loss_daily_limit: MoneyIn | None = None
    loss_weekly_limit: MoneyIn | None = None
    loss_monthly_limit: MoneyIn | None = None
    wager_daily_limit: MoneyIn | None = None
    session_minutes_limit: int | None = Field(default=None, ge=1, le=1440)
    timeout_until: Instant | None = None
    idempotency_key: str | None = None


class AdjustmentIn(Body):
    rail: Literal["real", "bonus", "winz", "xp"]
    asset: str
    amount: MoneyIn
    reason: str = Field(min_length=1, max_length=2000)
    idempotency_key: str | None = None
