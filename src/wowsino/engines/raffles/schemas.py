"""Raffle request bodies: every failure is a 400 naming the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

MAX_TICKETS_PER_ENTRY = 100_000

RaffleStatus = Literal["active", "paused", "completed", "cancelled"]
WinzIn = Decimal | int


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RaffleIn(Body):
    """``POST /v1/raffles``: WINZ amounts are whole numbers; a ticket may be free (0)."""

    name: str = Field(min_length=1, max_length=200)
    ticket_cost_winz: WinzIn
    prize_winz: WinzIn
    max_tickets_per_player: StrictInt | None = Field(default=None, ge=1, le=2**31)
    draw_at: AwareDatetime | None = None
    idempotency_key: str | None = None


class RafflePatch(Body):
    """``PATCH /v1/raffles/<id>``: a partial update; ``null`` removes the cap or ``draw_at``."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    ticket_cost_winz: WinzIn | None = None
    prize_winz: WinzIn | None = None
    max_tickets_per_player: StrictInt | None = Field(default=None, ge=1, le=2**31)
    draw_at: AwareDatetime | None = None
    idempotency_key: str | None = None


class EnterIn(Body):
    user_id: str = Field(min_length=1, max_length=255)
    tickets: StrictInt = Field(ge=1, le=MAX_TICKETS_PER_ENTRY)
    idempotency_key: str | None = None


class DrawIn(Body):
    idempotency_key: str | None = None


class StatusChangeIn(Body):
    idempotency_key: str | None = None
