"""Journey request bodies (every failure is a 400 naming the field) and how the API shows
a journey and a player's run."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from wowsino.kernel.openapi import never_null

TRIGGER = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
MAX_STEPS = 20
MAX_HOURS = 24 * 366
MAX_WINZ = 10**12
JourneyStatus = Literal["active", "paused"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Trigger = str


def _trigger(**kw: Any) -> Any:
    return Field(min_length=1, max_length=64, pattern=TRIGGER, **kw)


class StepIn(Body):
    trigger: Trigger = _trigger(description="matched exactly: wager, deposit, rg.limit_set, …")
    count: int = Field(default=1, ge=1, le=10_000, description="triggers needed")
    min_amount: Decimal | None = Field(
        default=None, ge=0, le=10**12, decimal_places=8,
        description="only triggers whose amount (in its currency's unit) reaches it count")
    within_hours: int | None = Field(default=None, ge=1, le=MAX_HOURS,
                                     description="hours from the step's start to finish it")


class JourneyIn(Body):
    name: str = Field(min_length=1, max_length=128)
    entry_trigger: Trigger = _trigger()
    steps: list[StepIn] = Field(min_length=1, max_length=MAX_STEPS)
    reward_winz: int = Field(default=0, ge=0, le=MAX_WINZ)
    reward_bonus_template: str | None = Field(default=None, min_length=1, max_length=64,
                                              description="a template id or promo code")
    reward_lootbox_id: str | None = Field(default=None, min_length=1, max_length=64)
    time_limit_hours: int | None = Field(default=None, ge=1, le=MAX_HOURS)
    repeatable: StrictBool = False
    idempotency_key: str | None = None


class JourneyPatch(Body):
    """A partial update; the entry trigger and the steps only until a player has entered.
    A new time limit applies to runs that start after it; ``null`` removes a reward part
    or the limit."""

    model_config = ConfigDict(json_schema_extra=never_null(
        "name", "entry_trigger", "steps", "reward_winz", "repeatable"))

    name: str | None = Field(default=None, min_length=1, max_length=128)
    entry_trigger: Trigger | None = _trigger(default=None)
    steps: list[StepIn] | None = Field(default=None, min_length=1, max_length=MAX_STEPS)
    reward_winz: int | None = Field(default=None, ge=0, le=MAX_WINZ)
    reward_bonus_template: str | None = Field(default=None, min_length=1, max_length=64)
    reward_lootbox_id: str | None = Field(default=None, min_length=1, max_length=64)
    time_limit_hours: int | None = Field(default=None, ge=1, le=MAX_HOURS)
    repeatable: StrictBool | None = None
    idempotency_key: str | None = None


class JourneyEventIn(Body):
    """``POST /v1/journeys/event`` (public): a named trigger for a player."""

    user_id: str = Field(min_length=1, max_length=128)
    trigger: Trigger = _trigger()
    properties: dict[str, Any] | None = Field(
        default=None, max_length=50,
        description="free-form; ``amount`` (a number) is what ``min_amount`` compares")
    idempotency_key: str | None = Field(default=None, max_length=255)


class StatusChangeIn(Body):
    idempotency_key: str | None = None


def journey_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]), "name": row["name"], "status": row["status"],
        "entry_trigger": row["entry_trigger"],
        "steps": [{"trigger": s["trigger"], "count": int(s.get("count") or 1),
                   "min_amount": None if s.get("min_amount") is None
                   else Decimal(str(s["min_amount"])),
                   "within_hours": s.get("within_hours")} for s in row["steps"]],
        "reward_winz": int(row["reward_winz"]),
        "reward_bonus_template": None if row["reward_bonus_template_id"] is None
        else str(row["reward_bonus_template_id"]),
        "reward_lootbox_id": None if row["reward_lootbox_id"] is None
        else str(row["reward_lootbox_id"]),
        "time_limit_hours": row["time_limit_hours"], "repeatable": row["repeatable"],
        "created_at": row["created_at"], "updated_at": row["updated_at"]}


def run_view(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A player's run as ``GET /v1/players/<key>/journeys`` shows it: a run whose time is
    up reads ``expired`` even before the worker records it."""
    status = row["status"]
    if status == "active" and row["expires_at"] is not None and now >= row["expires_at"]:
        status = "expired"
    return {"journey_id": str(row["journey_id"]), "journey_name": row["name"],
            "status": status, "step": int(row["step"]), "steps_total": len(row["steps"]),
            "step_count": int(row["step_count"]), "run": int(row["run"]),
            "started_at": row["started_at"], "expires_at": row["expires_at"],
            "ended_at": row["ended_at"] if status == row["status"] else row["expires_at"]}
