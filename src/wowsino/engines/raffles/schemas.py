"""Raffle request bodies (every failure is a 400 naming the field) and how the API
shows a raffle and its draw."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from wowsino.fairness import links
from wowsino.kernel.bodies import Instant
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.openapi import never_null

MAX_TICKETS_PER_ENTRY = 100_000

WINZ = ASSETS["WINZ"]
REVEALED = ("completed", "cancelled")  # states in which the server seed is shown
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
    draw_at: Instant | None = None
    idempotency_key: str | None = None


class RafflePatch(Body):
    """``PATCH /v1/raffles/<id>``: a partial update; ``null`` removes the cap or ``draw_at``."""

    model_config = ConfigDict(
        json_schema_extra=never_null("name", "ticket_cost_winz", "prize_winz"))

    name: str | None = Field(default=None, min_length=1, max_length=200)
    ticket_cost_winz: WinzIn | None = None
    prize_winz: WinzIn | None = None
    max_tickets_per_player: StrictInt | None = Field(default=None, ge=1, le=2**31)
    draw_at: Instant | None = None
    idempotency_key: str | None = None


class EnterIn(Body):
    user_id: str = Field(min_length=1, max_length=255)
    tickets: StrictInt = Field(ge=1, le=MAX_TICKETS_PER_ENTRY)
    idempotency_key: str | None = None


class DrawIn(Body):
    idempotency_key: str | None = None


class StatusChangeIn(Body):
    idempotency_key: str | None = None


def public(raffle: dict[str, Any], draw: dict[str, Any] | None = None,
           viewer_brand: UUID | None = None) -> dict[str, Any]:
    """The raffle as the API shows it: the seed only once nothing depends on it any more;
    the winner by name only to a key of the winner's brand."""
    return {
        "id": str(raffle["id"]), "name": raffle["name"], "status": raffle["status"],
        "ticket_cost_winz": from_minor(raffle["ticket_cost_winz"], WINZ),
        "prize_winz": from_minor(raffle["prize_winz"], WINZ),
        "max_tickets_per_player": raffle["max_tickets_per_player"],
        "draw_at": raffle["draw_at"], "total_tickets": int(raffle["total_tickets"]),
        "server_seed_hash": raffle["server_seed_hash"],
        "server_seed": raffle["server_seed"] if raffle["status"] in REVEALED else None,
        "draw": None if draw is None else draw_view(
            draw, show_winner=draw["winner_brand_id"] == viewer_brand),
        "created_at": raffle["created_at"], "updated_at": raffle["updated_at"],
    }


def draw_view(draw: dict[str, Any], *, show_winner: bool) -> dict[str, Any]:
    """A draw's result with every input needed to recompute it. The winner is named by
    holder id; ``show_winner`` adds the player (for a key of the winner's brand)."""
    username = draw["winner_username"] if show_winner else None
    return {
        "draw_id": str(draw["id"]), "raffle_id": str(draw["raffle_id"]),
        "winner": {"holder_id": draw["winner_holder_id"],
                   "user_id": str(draw["winner_player_id"]) if show_winner else None,
                   "username": username},
        "winner_username": username,
        "prize_winz": from_minor(draw["prize_winz"], WINZ),
        "winning_ticket_idx": int(draw["winning_ticket_idx"]),
        "skipped_ticket_idxs": [int(i) for i in draw["skipped_ticket_idxs"]],
        "total_tickets": int(draw["total_tickets"]),
        "server_seed": draw["server_seed"], "server_seed_hash": draw["server_seed_hash"],
        "client_seed": draw["client_seed"], "trigger": draw["trigger"],
        "drawn_at": draw["drawn_at"],
        "verify_url": links.raffle_url(
            server_seed=draw["server_seed"], server_seed_hash=draw["server_seed_hash"],
            client_seed=draw["client_seed"], tickets=int(draw["total_tickets"]),
            index=int(draw["winning_ticket_idx"]), skipped=draw["skipped_ticket_idxs"]),
    }
