"""CRM request bodies: every failure is a 400 naming the field. The expression, the action
and the schedule are checked by the service (``crm.grammar``, ``crm.actions``,
``crm.schedules``), which name their own fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from wowsino.kernel.bodies import refuse_null
from wowsino.kernel.openapi import never_null

Key = str | None
Name = Annotated[str, Field(min_length=1, max_length=128)]
Expression = Annotated[str, Field(min_length=1, max_length=4000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GrantBonus(Body):
    type: Literal["grant_bonus"]
    template: str = Field(min_length=1, max_length=64, description="template id or promo code")


class GrantWinz(Body):
    type: Literal["grant_winz"]
    amount: Decimal = Field(description="whole WINZ per player")


class OpenLootbox(Body):
    type: Literal["open_lootbox"]
    lootbox_id: str = Field(min_length=1, max_length=64)


class Notify(Body):
    type: Literal["notify"]
    message: str = Field(min_length=1, max_length=2000)


Action = Annotated[GrantBonus | GrantWinz | OpenLootbox | Notify, Field(discriminator="type")]
# "once", {"weekly": {"day", "time", "tz"}} or {"cron", "tz"}; checked by crm.schedules,
# which names the part that is wrong
Schedule = Annotated[Any, WithJsonSchema({
    "anyOf": [{"type": "string", "enum": ["once"]},
              {"type": "object", "properties": {"weekly": {"type": "object", "properties": {
                  "day": {"type": "string"}, "time": {"type": "string"},
                  "tz": {"type": "string"}}, "required": ["day", "time"]}},
               "required": ["weekly"]},
              {"type": "object", "properties": {"cron": {"type": "string"},
                                                "tz": {"type": "string"}},
               "required": ["cron"]}],
    "description": '"once", {"weekly": {"day": "fri", "time": "10:00", "tz": "Europe/Malta"}} '
                   'or {"cron": "0 10 * * 5", "tz": "Europe/Malta"}'})]


class SegmentIn(Body):
    name: Name
    expression: Expression
    idempotency_key: Key = None


class SegmentPatch(Body):
    model_config = ConfigDict(json_schema_extra=never_null("name", "expression"))

    name: Name | None = None
    expression: Expression | None = None
    idempotency_key: Key = None

    _present = refuse_null("name", "expression")


class CampaignIn(Body):
    name: Name
    segment_id: str = Field(min_length=1, max_length=64)
    action: Action
    schedule: Schedule = "once"
    budget: Decimal | None = Field(default=None, description="a run's cost cap, in the action's "
                                                            "asset")
    max_per_player_per_month: int | None = Field(default=None, ge=1, le=1000)
    idempotency_key: Key = None


class CampaignPatch(Body):
    model_config = ConfigDict(json_schema_extra=never_null("name", "segment_id", "action",
                                                           "schedule"))

    name: Name | None = None
    segment_id: str | None = Field(default=None, min_length=1, max_length=64)
    action: Action | None = None
    schedule: Schedule | None = None
    budget: Decimal | None = None
    max_per_player_per_month: int | None = Field(default=None, ge=1, le=1000)
    idempotency_key: Key = None

    _present = refuse_null("name", "segment_id", "action", "schedule")


class KeyOnly(Body):
    idempotency_key: Key = None


class BacktestIn(Body):
    days: int = Field(default=30, ge=1, le=90)
    idempotency_key: Key = None  # accepted like on every POST; a backtest changes nothing


class BudgetIn(Body):
    monthly: dict[str, Decimal] = Field(description="the monthly limit per asset code; an asset "
                                                    "left out has no limit")
    idempotency_key: Key = None
