"""Lootbox request bodies: the shared prize-table bodies under the box's names."""

from __future__ import annotations

from wowsino.engines.draws.schemas import DrawIn, PrizeGameIn, PrizeGamePatch, StatusChangeIn


class LootboxIn(PrizeGameIn):
    """``{name, prize_table: [{segment_label, weight, asset, amount}], cost_winz?}``."""


class LootboxPatch(PrizeGamePatch):
    """Any of the creation fields; a new prize table gets a new ``prize_table_hash``."""


class OpenIn(DrawIn):
    """``{user_id, idempotency_key?, client_seed?}``."""


__all__ = ["LootboxIn", "LootboxPatch", "OpenIn", "StatusChangeIn"]
