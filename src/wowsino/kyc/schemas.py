"""KYC request bodies: every failure is a 400 naming the field."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

CREDENTIAL_NAME = r"^[a-z][a-z0-9_]{0,63}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StartIn(Body):
    """Start a verification. ``level``: the KYC level to verify (1-3); by default the
    level the brand's vendor verifies to, and never above it."""

    level: int | None = Field(default=None, ge=1, le=3, strict=True)
    idempotency_key: str | None = Field(default=None, max_length=255)


class KycConfigIn(Body):
    """``credentials`` replace the stored ones (omit them to keep them while the adapter
    stays the same); ``level``: the KYC level a verification with this vendor reaches
    (1 by default)."""

    adapter: str = Field(min_length=1, max_length=64)
    credentials: dict[str, str] | None = Field(default=None, max_length=16)
    level: int | None = Field(default=None, ge=1, le=3, strict=True)
    idempotency_key: str | None = Field(default=None, max_length=255)

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for name, value in (v or {}).items():
            if not re.match(CREDENTIAL_NAME, name):
                raise ValueError(f"{name[:64]!r} is not a credential name (a-z, 0-9, _)")
            if not 1 <= len(value) <= 4096:
                raise ValueError(f"{name}: 1 to 4096 characters")
        return v
