"""``/v1/mini-games``: the prize-table routes for mini-games."""

from __future__ import annotations

from wowsino.engines.draws.routes import PrizeGameApi, prize_game_router
from wowsino.engines.minigames import service
from wowsino.engines.minigames.schemas import MiniGameIn, MiniGamePatch, PlayIn

router = prize_game_router(PrizeGameApi(
    game=service.MINI_GAME, prefix="/mini-games", tag="mini-games", plural="mini_games",
    changeable="configuration", cost_holder="game", use="play", uses="plays",
    use_conflicts="NOT_ACTIVE (paused), PLAY_LIMIT_REACHED (plays_per_day used up this UTC day) "
                  "or IDEMPOTENCY_IN_PROGRESS",
    create_body=MiniGameIn, change_body=MiniGamePatch, use_body=PlayIn,
    draw=service.play_mini_game, view=service.play_view,
))
