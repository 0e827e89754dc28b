"""Player account request bodies: every failure is a 400 naming the field."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field, StrictInt, field_validator

from wowsino.engines.raffles.schemas import MAX_TICKETS_PER_ENTRY
from wowsino.fairness.service import MAX_CLIENT_SEED
from wowsino.kernel.bodies import refuse_null
from wowsino.kernel.openapi import never_null
from wowsino.players.schemas import Body, PlayerIdentity, normalised_email


class RegisterIn(PlayerIdentity):
    """A player registering on a white-label brand's site: country and date of birth are
    required (the jurisdiction profile checks them)."""

    password: str = Field(min_length=1, max_length=256)
    country_code: str  # type: ignore[assignment]  # required here
    date_of_birth: date  # type: ignore[assignment]


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class ProfileIn(Body):
    """A partial update of the profile (a field left out is unchanged): for now the email
    address. The current password proves it is the player asking."""

    model_config = ConfigDict(json_schema_extra=never_null("email"))

    email: str | None = None
    current_password: str = Field(min_length=1, max_length=256)
    idempotency_key: str | None = None

    _present = refuse_null("email")

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return None if v is None else normalised_email(v)


class PasswordIn(Body):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)
    idempotency_key: str | None = None


class TimeoutIn(Body):
    """A time-out: no play, deposits or engagement for the period, from now."""

    period: Literal["24h", "7d", "30d"]
    idempotency_key: str | None = None


class SelfExcludeIn(Body):
    """A self-exclusion: no login, play or engagement for the period, from now."""

    period: Literal["6m", "1y", "5y", "permanent"]
    idempotency_key: str | None = None


class KeyOnly(Body):
    """An optional body: only the idempotency key (the header works as well)."""

    idempotency_key: str | None = None


# --- the player's engagement (``/v1/player/...``): the operator routes' bodies without
# the player reference, which is the session's


class ClaimIn(Body):
    """``POST /v1/player/bonuses/claim``."""

    promo_code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    idempotency_key: str | None = None


class PlayIn(Body):
    """A lootbox open or a mini-game play: ``{client_seed?, idempotency_key?}``."""

    # no whitespace stripping: the client seed is hashed exactly as the player sent it
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    client_seed: str | None = Field(default=None, min_length=1, max_length=MAX_CLIENT_SEED)
    idempotency_key: str | None = None


class EnterIn(Body):
    """``POST /v1/player/raffles/<id>/enter``."""

    tickets: StrictInt = Field(ge=1, le=MAX_TICKETS_PER_ENTRY)
    idempotency_key: str | None = None
