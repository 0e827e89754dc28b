from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictInt, field_validator
from pydantic.config import JsonDict

from wowsino.kernel.auth import SCOPES
from wowsino.kernel.openapi import never_null

# The documented shape of what the service checks (tenants.service.check_slug and
# create_key), so generated clients send what the server takes.
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
SLUG_SCHEMA: JsonDict = {"pattern": SLUG_PATTERN}
SCOPE_NAMES: list[JsonValue] = [*sorted(SCOPES)]
SCOPES_SCHEMA: JsonDict = {"items": {"type": "string", "enum": SCOPE_NAMES}, "minItems": 1}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrandIn(Strict):
    slug: str = Field(min_length=1, max_length=64, json_schema_extra=SLUG_SCHEMA)
    name: str = Field(min_length=1, max_length=200)


class TenantIn(Strict):
    slug: str = Field(min_length=1, max_length=64, json_schema_extra=SLUG_SCHEMA)
    name: str = Field(min_length=1, max_length=200)
    service_mode: Literal["plug_in", "white_label"]
    brand: BrandIn


class TenantPatch(Strict):
    model_config = ConfigDict(json_schema_extra=never_null("status"))

    status: Literal["active", "suspended"] | None = None
    # strict: true and false are not numbers, whatever Python says
    rate_limit_burst: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    rate_limit_per_second: StrictInt | None = Field(default=None, ge=1, le=1_000_000)

    @field_validator("status")
    @classmethod
    def _status_not_null(cls, v: str | None) -> str:
        # absent means "unchanged"; an explicit null is not a status
        if v is None:
            raise ValueError("must be active or suspended")
        return v


class KeyIn(Strict):
    brand: str = Field(min_length=1)
    mode: Literal["live", "test"]
    scopes: list[str] = Field(default_factory=lambda: ["*"], json_schema_extra=SCOPES_SCHEMA)
    name: str = Field(default="api key", min_length=1, max_length=200)
