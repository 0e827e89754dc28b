"""Event request bodies: every failure is a 400 naming the field.

Amounts arrive as exact decimals; the service checks them against the currency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wowsino.kernel.bodies import Instant

MoneyIn = Decimal
GameCategory = Literal["slots", "table", "live", "sports", "other"]
MAX_BATCH = 1000
SourceId = str


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WagerIn(Body):
    """One settled wager. ``amount`` is the stake, ``win_amount`` what it paid back."""

    user_id: str = Field(min_length=1, max_length=128)
    source_wager_id: SourceId = Field(min_length=1, max_length=128)
    amount: MoneyIn
    currency: str = Field(min_length=1, max_length=16)
    win_amount: MoneyIn | None = None
    game_id: str | None = Field(default=None, max_length=128)
    game_category: GameCategory = "other"
    funding: Literal["real", "bonus"] = "real"
    settled_at: Instant | None = None
    idempotency_key: str | None = Field(default=None, max_length=255)


class WagerBatchIn(Body):
    """Up to 1,000 wager events; each is validated on its own (a bad one does not
    refuse the batch)."""

    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH)
    idempotency_key: str | None = Field(default=None, max_length=255)


class RollbackIn(Body):
    source_wager_id: SourceId = Field(min_length=1, max_length=128)
    idempotency_key: str | None = Field(default=None, max_length=255)


class DepositIn(Body):
    user_id: str = Field(min_length=1, max_length=128)
    source_deposit_id: SourceId = Field(min_length=1, max_length=128)
    amount: MoneyIn
    currency: str = Field(min_length=1, max_length=16)
    promo_code: str | None = Field(default=None, min_length=1, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=255)
