"""Wallet request bodies: every failure is a 400 naming the field.

Amounts arrive as exact decimals; the services check them against the currency.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from wowsino.kernel.vendors import ConfigIn

MoneyIn = Decimal
Method = str


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DepositIn(Body):
    """A deposit of ``amount`` in the player's ``currency`` by ``method`` (the brand's
    adapter lists its methods; the sandbox takes ``card``, ``card_declined``,
    ``card_slow`` and ``card_twice``). ``promo_code``: a bonus template to claim with it."""

    amount: MoneyIn
    currency: str = Field(min_length=1, max_length=16)
    method: Method = Field(min_length=1, max_length=64)
    promo_code: str | None = Field(default=None, min_length=1, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=255)


class WithdrawalIn(Body):
    """A withdrawal of ``amount`` of the player's real money; ``method``: how the PSP pays
    it out (``card`` by default)."""

    amount: MoneyIn
    currency: str = Field(min_length=1, max_length=16)
    method: Method | None = Field(default=None, min_length=1, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=255)


class OperatorWithdrawalIn(WithdrawalIn):
    """A payout an operator asks for on the player's behalf (e.g. the balance of a
    self-excluded player, who can no longer sign in): approved at once, ``reason``
    recorded."""

    reason: str = Field(min_length=1, max_length=500)


class ApproveIn(Body):
    reason: str | None = Field(default=None, min_length=1, max_length=500)
    idempotency_key: str | None = Field(default=None, max_length=255)


class RejectIn(Body):
    reason: str = Field(min_length=1, max_length=500)
    idempotency_key: str | None = Field(default=None, max_length=255)


class PspConfigIn(ConfigIn):
    """``credentials`` replace the stored ones (omit them to keep them while the adapter
    stays the same); ``auto_approve_below``: ``{currency: amount}``, a withdrawal below it
    is approved without an operator."""

    auto_approve_below: dict[str, MoneyIn] | None = Field(default=None, max_length=32)
    idempotency_key: str | None = Field(default=None, max_length=255)
