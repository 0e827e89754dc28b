"""Bonus request bodies: every failure is a 400 naming the field.

Money fields arrive as exact decimals; the service checks them against the
template's currency (decimal places, zero, sign, size)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from wowsino.kernel.bodies import Instant
from wowsino.kernel.openapi import never_null

MoneyIn = Decimal
BonusType = Literal["no_deposit", "deposit_match", "free_spins", "cashback", "reload",
                    "rakeback", "lossback", "referral", "vip_comp", "ticket", "drops", "manual"]
Category = Literal["slots", "table", "live", "sports", "other"]
Key = str | None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DropPrize(Body):
    amount: MoneyIn
    count: int = Field(ge=1, le=100_000)


class TemplateFields(Body):
    """Every template field of the API contract, plus what the promotion types need."""

    promo_code: str | None = Field(default=None, min_length=1, max_length=64,
                                   pattern=r"^[A-Za-z0-9_-]+$")
    amount: MoneyIn | None = None
    amount_pct: Decimal | None = Field(default=None, gt=0, le=1000, decimal_places=4)
    max_amount: MoneyIn | None = None
    wagering_multiple: Decimal | None = Field(default=None, ge=0, le=200, decimal_places=2)
    wagering_basis: Literal["bonus", "bonus_plus_deposit"] | None = None
    expires_in_hours: int | None = Field(default=None, ge=1, le=24 * 366)
    max_bet: MoneyIn | None = None
    game_weights: dict[Category, Decimal] | None = None
    max_conversion: MoneyIn | None = None
    max_grants_per_player: int | None = Field(default=None, ge=1, le=1_000_000)
    free_spin_count: int | None = Field(default=None, ge=1, le=10_000)
    free_spin_value: MoneyIn | None = None
    eligible_games: list[str] | None = Field(default=None, max_length=500)
    auto_grant: StrictBool | None = None
    min_deposit: MoneyIn | None = None
    period_hours: int | None = Field(default=None, ge=1, le=24 * 366)
    house_edge_pct: dict[Category, Decimal] | None = None
    raffle_id: str | None = Field(default=None, max_length=64)
    tickets: int | None = Field(default=None, ge=1, le=10_000)
    drop_rate: Decimal | None = Field(default=None, gt=0, le=1, decimal_places=8)
    prizes: list[DropPrize] | None = Field(default=None, min_length=1, max_length=100)


class TemplateIn(TemplateFields):
    name: str = Field(min_length=1, max_length=128)
    type: BonusType
    currency: str = Field(default="USD", min_length=1, max_length=16)
    idempotency_key: Key = None


class TemplatePatch(TemplateFields):
    model_config = ConfigDict(json_schema_extra=never_null("name"))

    name: str | None = Field(default=None, min_length=1, max_length=128)
    idempotency_key: Key = None


class GrantIn(Body):
    player_id: str = Field(min_length=1, max_length=128)
    template: str = Field(min_length=1, max_length=64)
    deposit_amount: MoneyIn | None = None
    amount: MoneyIn | None = None
    reason: str | None = Field(default=None, min_length=1, max_length=500)
    opted_in_at: Instant | None = None
    idempotency_key: Key = None


class ForfeitIn(Body):
    reason: str = Field(min_length=1, max_length=500)
    idempotency_key: Key = None


class KeyOnly(Body):
    idempotency_key: Key = None


class SettleIn(Body):
    win_amount: MoneyIn
    idempotency_key: Key = None


class SimulateIn(Body):
    players: int = Field(default=10_000, ge=1, le=20_000)
    game_category: Category = "slots"
    rtp: Decimal = Field(default=Decimal("0.96"), gt=0, le=Decimal("1.2"))
    volatility: Decimal = Field(default=Decimal(5), ge=0, le=1000)
    bet_size: MoneyIn
    deposit_amount: MoneyIn | None = None
    seed: int = Field(default=1, ge=0, le=2**32 - 1)
    max_spins: int = Field(default=20_000, ge=1, le=200_000)
    idempotency_key: Key = None
