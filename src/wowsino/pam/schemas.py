"""Player account request bodies: every failure is a 400 naming the field."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from wowsino.players.schemas import Body, PlayerIdentity


class RegisterIn(PlayerIdentity):
    """A player registering on a white-label brand's site: country and date of birth are
    required (the jurisdiction profile checks them)."""

    password: str = Field(min_length=1, max_length=256)
    country_code: str  # type: ignore[assignment]  # required here
    date_of_birth: date  # type: ignore[assignment]


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)
