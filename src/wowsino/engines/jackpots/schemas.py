"""Jackpot request bodies: every failure is a 400 naming the field.

Amounts arrive as exact decimals and are checked against the pool's currency
(decimal places, zero, sign) by the service, which knows the currency.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from wowsino.kernel.openapi import never_null

MoneyIn = Decimal | int
PCT_PLACES = 4  # contribution_pct: percent with up to 4 decimals (0.0001 % … 100 %)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_pct(value: Decimal | int | None) -> Decimal | int | None:
    if value is None:
        return value
    dec = Decimal(value)
    if not dec.is_finite() or not 0 < dec <= 100:
        raise ValueError("a percentage above 0 and at most 100")
    if dec != dec.quantize(Decimal(1).scaleb(-PCT_PLACES)):
        raise ValueError(f"at most {PCT_PLACES} decimal places")
    return value


class JackpotIn(Body):
    """``seed_usd`` and ``must_drop_at`` are amounts in the pool's ``currency``."""

    name: str = Field(min_length=1, max_length=128)
    currency: str = Field(min_length=1, max_length=16)
    seed_usd: MoneyIn
    contribution_pct: MoneyIn | None = None
    must_drop_at: MoneyIn | None = None
    mystery: StrictBool = False
    idempotency_key: str | None = None

    @field_validator("contribution_pct")
    @classmethod
    def _pct(cls, v: Decimal | int | None) -> Decimal | int | None:
        return _check_pct(v)


class JackpotPatch(Body):
    """A partial update. ``seed_usd`` applies from the next reset; ``must_drop_at`` at once
    (``null`` removes it), except on a mystery pool, whose committed drop point stays
    until the next reset."""

    model_config = ConfigDict(json_schema_extra=never_null("name", "seed_usd"))

    name: str | None = Field(default=None, min_length=1, max_length=128)
    seed_usd: MoneyIn | None = None
    contribution_pct: MoneyIn | None = None
    must_drop_at: MoneyIn | None = None
    idempotency_key: str | None = None

    @field_validator("contribution_pct")
    @classmethod
    def _pct(cls, v: Decimal | int | None) -> Decimal | int | None:
        return _check_pct(v)


class ContributionIn(Body):
    user_id: str = Field(min_length=1, max_length=128)
    source_wager_id: str = Field(min_length=1, max_length=128)
    amount: MoneyIn
    idempotency_key: str | None = None


class DropIn(Body):
    winner_user_id: str | None = Field(default=None, min_length=1, max_length=128)
    idempotency_key: str | None = None
