"""Mini-game request bodies: the shared prize-table bodies plus kind and daily plays."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wowsino.engines.draws.schemas import DrawIn, PrizeGameIn, PrizeGamePatch, StatusChangeIn

Kind = Literal["wheel", "scratch", "pick"]
MAX_PLAYS_PER_DAY = 10_000


class MiniGameIn(PrizeGameIn):
    """``{name, kind, prize_table, cost_winz?, plays_per_day?}``."""

    kind: Kind
    plays_per_day: int | None = Field(default=None, ge=1, le=MAX_PLAYS_PER_DAY,
                                      description="plays per player per UTC day; null: no limit")


class MiniGamePatch(PrizeGamePatch):
    """Any of the creation fields; ``plays_per_day: null`` removes the limit."""

    kind: Kind | None = None
    plays_per_day: int | None = Field(default=None, ge=1, le=MAX_PLAYS_PER_DAY)


class PlayIn(DrawIn):
    """``{user_id, idempotency_key?, client_seed?}``."""


__all__ = ["MiniGameIn", "MiniGamePatch", "PlayIn", "StatusChangeIn"]
