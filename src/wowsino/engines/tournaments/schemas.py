"""Tournament request bodies: every failure is a 400 naming the field.

Amounts (``min_bet``, a prize's ``amount``, a score's ``amount`` and ``win_amount``)
arrive as exact decimals; the service checks them against the asset they are in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from wowsino.kernel.bodies import Instant
from wowsino.kernel.openapi import never_null

MoneyIn = Decimal
Scoring = Literal["sum_wagered", "sum_won", "bet_count", "max_multiplier", "sum_multipliers",
                  "points"]
GameCategory = Literal["slots", "table", "live", "sports", "other"]
Status = Literal["active", "paused", "closed"]
MAX_RANK = 10_000  # the last rank a prize table may pay
MAX_PARTICIPANTS = 10_000_000
Key = str | None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PrizeIn(Body):
    """An amount of an asset (``WINZ``, ``XP`` or a currency), or a bonus template (its
    id or promo code) granted through the bonus engine."""

    asset: str | None = Field(default=None, min_length=1, max_length=16)
    amount: MoneyIn | None = None
    bonus_template: str | None = Field(default=None, min_length=1, max_length=64)


class PrizeRowIn(Body):
    rank_from: StrictInt = Field(ge=1, le=MAX_RANK)
    rank_to: StrictInt = Field(ge=1, le=MAX_RANK)
    prize: PrizeIn


class RecurrenceIn(Body):
    every: Literal["daily", "weekly"]
    timezone: str = Field(min_length=1, max_length=64)


PrizeTable = list[PrizeRowIn]


class TournamentIn(Body):
    """``POST /v1/tournaments``."""

    name: str = Field(min_length=1, max_length=128)
    scoring: Scoring
    starts_at: Instant
    ends_at: Instant
    prize_table: PrizeTable = Field(min_length=1, max_length=100)
    min_bet: MoneyIn | None = None
    game_categories: list[GameCategory] | None = Field(default=None, min_length=1, max_length=5)
    currency: str | None = Field(default=None, min_length=1, max_length=16)
    opt_in: StrictBool = False
    max_participants: StrictInt | None = Field(default=None, ge=1, le=MAX_PARTICIPANTS)
    recurrence: RecurrenceIn | None = None
    idempotency_key: Key = None


class TournamentPatch(Body):
    """``PATCH /v1/tournaments/<id>``: a partial update; ``null`` removes ``min_bet``,
    ``game_categories``, ``max_participants`` or ``recurrence``."""

    model_config = ConfigDict(json_schema_extra=never_null(
        "name", "scoring", "starts_at", "ends_at", "prize_table", "opt_in", "currency"))

    name: str | None = Field(default=None, min_length=1, max_length=128)
    scoring: Scoring | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    prize_table: PrizeTable | None = Field(default=None, min_length=1, max_length=100)
    min_bet: MoneyIn | None = None
    game_categories: list[GameCategory] | None = Field(default=None, min_length=1, max_length=5)
    currency: str | None = Field(default=None, min_length=1, max_length=16)
    opt_in: StrictBool | None = None
    max_participants: StrictInt | None = Field(default=None, ge=1, le=MAX_PARTICIPANTS)
    recurrence: RecurrenceIn | None = None
    idempotency_key: Key = None


class ScoreIn(Body):
    """``POST /v1/tournaments/<id>/score``: amounts in the tournament's currency."""

    user_id: str = Field(min_length=1, max_length=128)
    source_wager_id: str = Field(min_length=1, max_length=128)
    amount: MoneyIn | None = None
    win_amount: MoneyIn | None = None
    points: MoneyIn | None = None
    idempotency_key: Key = None


class JoinIn(Body):
    user_id: str = Field(min_length=1, max_length=128)
    idempotency_key: Key = None


class KeyOnly(Body):
    idempotency_key: Key = None
