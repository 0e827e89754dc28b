"""Jurisdiction request bodies: every failure is a 400 naming the field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from wowsino.kernel.countries import ISO_ALPHA2


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Overrides(Body):
    bonuses_allowed: StrictBool | None = None
    max_wagering_multiple: int | None = Field(default=None, ge=0, le=200)
    min_age: int | None = Field(default=None, ge=16, le=25)
    blocked_countries: list[str] | None = Field(default=None, max_length=250)
    vip_allowed: StrictBool | None = None

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
