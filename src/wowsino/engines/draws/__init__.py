"""Engines that draw from a prize table (lootboxes, mini-games): their shared
configuration (``games``), request bodies (``schemas``), the one draw flow
(``flow``) and HTTP routes (``routes``). Engines name their tables in a
``PrizeGame`` and their routes in a ``routes.PrizeGameApi``."""

from wowsino.engines.draws.flow import Drawn, PlayLimitReached, draw, results, utc_day
from wowsino.engines.draws.games import (
    PrizeGame,
    answer,
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
    "StatusChangeIn", "answer", "config_view", "create", "draw", "listing", "load", "normalise",
    "public_table", "results", "set_status", "update", "utc_day",
]
