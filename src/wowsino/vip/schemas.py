"""VIP request bodies: every failure is a 400 naming the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_LEVELS = 100
MAX_XP = 10**15  # the XP asset's bound (kernel.money.MAX_MINOR)
MAX_DAILY_CAP = 10**9  # a player's XP stays far inside the bound for millennia
MAX_REWARD_WINZ = 10**12


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RewardIn(Body):
    """What reaching a level gives, once per player, ever: any of the three parts."""

    winz: int = Field(default=0, ge=0, le=MAX_REWARD_WINZ)
    bonus_template: str | None = Field(default=None, min_length=1, max_length=64,
                                       description="a bonus template id or promo code")
    lootbox_id: str | None = Field(default=None, min_length=1, max_length=64,
                                   description="a lootbox opened for free")

    @model_validator(mode="after")
    def _something(self) -> RewardIn:
        if not self.winz and self.bonus_template is None and self.lootbox_id is None:
            raise ValueError("give winz, a bonus_template or a lootbox_id")
        return self


class LevelIn(Body):
    level: int = Field(ge=0, le=1_000_000)
    name: str = Field(min_length=1, max_length=64)
    xp_required: int = Field(ge=0, le=MAX_XP)
    cashback_pct: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)
    level_up_reward: RewardIn | None = None


class VipIn(Body):
    """``PUT /v1/vip``: the whole programme (a PUT replaces it)."""

    xp_per_unit: Decimal = Field(gt=0, le=1_000_000, decimal_places=6,
                                 description="XP per whole unit of the wager's currency")
    xp_daily_cap: int = Field(ge=1, le=MAX_DAILY_CAP,
                              description="XP a player may earn per local calendar day")
    timezone: str = Field(min_length=1, max_length=64, description="an IANA time zone")
    cashback_period: Literal["daily", "weekly", "monthly"]
    cashback_as: Literal["bonus", "real"] = "bonus"
    cashback_template: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="a cashback bonus template (id or promo code); required for "
                    "cashback_as: bonus when a level pays cashback")
    levels: list[LevelIn] = Field(min_length=1, max_length=MAX_LEVELS)
    idempotency_key: str | None = Field(default=None, max_length=255)
