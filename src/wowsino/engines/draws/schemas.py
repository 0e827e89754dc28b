"""Request bodies shared by the engines that draw from a prize table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wowsino.fairness.service import MAX_CLIENT_SEED
from wowsino.kernel.openapi import never_null

MoneyIn = Decimal  # ints and exact decimals; one type so a 400 names the bare field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PrizeGameIn(Body):
    name: str = Field(min_length=1, max_length=128)
    prize_table: list[dict[str, Any]] = Field(
        description="[{segment_label, weight, asset: WINZ|XP, amount}]; weights are integers")
    cost_winz: MoneyIn | None = Field(default=None, description="WINZ debited per draw")
    idempotency_key: str | None = None


class PrizeGamePatch(Body):
    model_config = ConfigDict(json_schema_extra=never_null("name", "prize_table", "kind"))

    name: str | None = Field(default=None, min_length=1, max_length=128)
    prize_table: list[dict[str, Any]] | None = None
    cost_winz: MoneyIn | None = None
    idempotency_key: str | None = None


class DrawIn(Body):
    # no whitespace stripping: the client seed is hashed exactly as the player sent it
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    user_id: str = Field(min_length=1, max_length=128, description="username or UUID")
    client_seed: str | None = Field(default=None, min_length=1,
                                    max_length=MAX_CLIENT_SEED)
    idempotency_key: str | None = None


class StatusChangeIn(Body):
    idempotency_key: str | None = None
