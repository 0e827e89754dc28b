"""KYC request bodies: every failure is a 400 naming the field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from wowsino.kernel.vendors import ConfigIn


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StartIn(Body):
    """Start a verification. ``level``: the KYC level to verify (1-3); by default the
    level the brand's vendor verifies to, and never above it."""

    level: int | None = Field(default=None, ge=1, le=3, strict=True)
    idempotency_key: str | None = Field(default=None, max_length=255)


class KycConfigIn(ConfigIn):
    """``credentials`` replace the stored ones (omit them to keep them while the adapter
    stays the same); ``level``: the KYC level a verification with this vendor reaches
    (1 by default)."""

    level: int | None = Field(default=None, ge=1, le=3, strict=True)
    idempotency_key: str | None = Field(default=None, max_length=255)
