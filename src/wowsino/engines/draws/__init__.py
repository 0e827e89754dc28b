"""Engines that draw from a prize table (lootboxes, mini-games): their shared
configuration (``games``), request bodies (``schemas``) and the one draw flow
(``flow``). Engines name their tables in a ``PrizeGame`` and call these."""

from wowsino.engines.draws.flow import Drawn, PlayLimitReached, draw, results, utc_day
from wowsino.engines.draws.games import (
    PrizeGame,
    config_view,
    create,
    listing,
    load,
    normalise,
    public_table,
    set_status,
    update,
)
from wowsino.engines.draws.schemas import DrawIn, PrizeGameIn, PrizeGamePatch, StatusChangeIn

__all__ = [
    "DrawIn", "Drawn", "PlayLimitReached", "PrizeGame", "PrizeGameIn", "PrizeGamePatch",
    "StatusChangeIn", "config_view", "create", "draw", "listing", "load", "normalise",
    "public_table", "results", "set_status", "update", "utc_day",
]
