"""A brand's game catalogue: the games of the aggregators available to it.

Every white-label brand has the sandbox aggregator (test mode everywhere; live mode only
outside production, where the sandbox would otherwise move real money) and every
aggregator some secret can sign for it (its own or the platform's), unless the brand
turned it off (``games/aggregator_config.py``).
"""

from __future__ import annotations

from typing import Any

from wowsino.games.adapters.base import Adapter, Game
from wowsino.games.aggregator_config import BrandAggregator
from wowsino.kernel.config import Settings
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.pagination import decode_cursor, page
from wowsino.kernel.realm import Realm

CATEGORIES = ("slots", "table", "live", "sports", "other")


def category(adapter: Adapter, settings: Settings, game_id: str | None) -> str:
    """The category of one of the aggregator's games ("other" for a game it no longer
    lists): what bonus wagering weighs a settled bet by."""
    for game in adapter.games(settings):
        if game.game_id == game_id:
            return game.category
    return "other"


def games(settings: Settings, realm: Realm, brand: dict[str, BrandAggregator]) -> list[Game]:
    """Every game the brand (its aggregators, ``aggregator_config.for_brand``) may launch,
    by game id."""
    found = [game for used in brand.values() if used.available(settings, realm)
             for game in used.adapter.games(settings)]
    return sorted(found, key=lambda g: g.game_id)


def game(settings: Settings, realm: Realm, brand: dict[str, BrandAggregator],
         game_id: str) -> Game:
    """One game of the brand's catalogue, or 404 ``NO_GAME``."""
    for found in games(settings, realm, brand):
        if found.game_id == game_id:
            return found
    raise NotFound(f"no game {game_id!r} in this brand's catalogue", code="NO_GAME")


def listing(settings: Settings, realm: Realm, brand: dict[str, BrandAggregator], *,
            category: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """A page of the catalogue, by game id, after the cursor's game."""
    position = decode_cursor(cursor, 1)
    after = None
    if position is not None:
        if not isinstance(position[0], str) or len(position[0]) > 128:
            raise ValidationFailed("cursor: not a cursor this API issued", field="cursor")
        after = position[0]
    rows = [g.view() for g in games(settings, realm, brand)
            if (category is None or g.category == category)
            and (after is None or g.game_id > after)]
    return page(rows[:limit + 1], limit, lambda row: [row["game_id"]])
