"""``/v1/lootbox`` (singular, as the public API names it): the prize-table routes for boxes."""

from __future__ import annotations

from wowsino.engines.draws.routes import PrizeGameApi, prize_game_router
from wowsino.engines.lootbox import service
from wowsino.engines.lootbox.schemas import LootboxIn, LootboxPatch, OpenIn

router = prize_game_router(PrizeGameApi(
    game=service.LOOTBOX, prefix="/lootbox", tag="lootbox", plural="lootboxes",
    changeable="name, prize table or cost", cost_holder="box", use="open", uses="opens",
    use_conflicts="NOT_ACTIVE (paused) or IDEMPOTENCY_IN_PROGRESS",
    create_body=LootboxIn, change_body=LootboxPatch, use_body=OpenIn,
    draw=service.open_lootbox, view=service.open_view,
))
