"""A brand's game catalogue: the games of the aggregators it may use.

Every white-label brand has the sandbox aggregator (test mode everywhere; live mode only
outside production, where the sandbox would otherwise move real money) and every
aggregator whose secret the platform holds.
"""

from __future__ import annotations

from typing import Any

from wowsino.games.adapters import ADAPTERS
from wowsino.games.adapters.base import Adapter, Game
from wowsino.kernel.config import Settings
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.pagination import decode_cursor, page
from wowsino.kernel.realm import Mode, Realm

CATEGORIES = ("slots", "table", "live", "sports", "other")


def available(adapter: Adapter, settings: Settings, realm: Realm) -> bool:
    """Whether a brand in ``realm`` may play the aggregator's games."""
    if adapter.secret(settings) is None:
        return False
    return not (adapter.name == "sandbox" and settings.production and realm.mode == Mode.LIVE)


def games(settings: Settings, realm: Realm) -> list[Game]:
    """Every game the realm's brands may launch, by game id."""
    found = [game for adapter in ADAPTERS.values() if available(adapter, settings, realm)
             for game in adapter.games(settings)]
    return sorted(found, key=lambda g: g.game_id)


def game(settings: Settings, realm: Realm, game_id: str) -> Game:
    """One game of the catalogue, or 404 ``NO_GAME``."""
    for found in games(settings, realm):
        if found.game_id == game_id:
            return found
    raise NotFound(f"no game {game_id!r} in this brand's catalogue", code="NO_GAME")


def listing(settings: Settings, realm: Realm, *, category: str | None, cursor: str | None,
            limit: int) -> dict[str, Any]:
    """A page of the catalogue, by game id, after the cursor's game."""
    position = decode_cursor(cursor, 1)
    after = None
    if position is not None:
        if not isinstance(position[0], str) or len(position[0]) > 128:
            raise ValidationFailed("cursor: not a cursor this API issued", field="cursor")
        after = position[0]
    rows = [g.view() for g in games(settings, realm)
            if (category is None or g.category == category)
            and (after is None or g.game_id > after)]
    return page(rows[:limit + 1], limit, lambda row: [row["game_id"]])
