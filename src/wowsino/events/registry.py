"""The one registry of spine consumers, in the order they run.

Adding an engine is adding one line here: the spine itself never changes. Activity
stats run first (other consumers may read them); bonus wagering before jackpots, so
a bonus forfeited for its stake is forfeited whatever a pool does next; drops after
wagering, so a prize won by a wager is not wagered by that same wager; VIP before
journeys, so a level reached by a wager (``vip.level_up``) counts before the wager's own
``wager`` trigger.
"""

from __future__ import annotations

from wowsino.bonuses import deposits as bonus_deposits
from wowsino.bonuses import drops as bonus_drops
from wowsino.bonuses import wagering as bonus_wagering
from wowsino.engines.jackpots import auto as jackpot_contributions
from wowsino.engines.journeys import spine as journeys
from wowsino.engines.tournaments import scores as tournament_scores
from wowsino.events import activity
from wowsino.events.triggers import TriggerConsumer
from wowsino.events.wagers import DepositConsumer, WagerConsumer
from wowsino.vip import xp as vip_xp

WAGER_CONSUMERS: tuple[WagerConsumer, ...] = (
    WagerConsumer("activity", activity.apply, activity.reverse),
    WagerConsumer("bonus_wagering", bonus_wagering.apply, bonus_wagering.reverse),
    WagerConsumer("drops", bonus_drops.apply, bonus_drops.reverse, bonus_drops.READS),
    WagerConsumer("jackpots", jackpot_contributions.apply, jackpot_contributions.reverse,
                  jackpot_contributions.READS),
    WagerConsumer("tournaments", tournament_scores.apply, tournament_scores.reverse,
                  tournament_scores.READS),
    WagerConsumer("vip", vip_xp.apply, vip_xp.reverse, vip_xp.READS),
    WagerConsumer("journeys", journeys.apply_wagers, journeys.reverse_wagers, journeys.READS),
)

DEPOSIT_CONSUMERS: tuple[DepositConsumer, ...] = (
    DepositConsumer("activity", activity.apply_deposit),
    DepositConsumer("bonuses", bonus_deposits.apply),
    DepositConsumer("journeys", journeys.apply_deposit),
)

# Engines reacting to named triggers (``events/triggers.py``), in this order.
TRIGGER_CONSUMERS: tuple[TriggerConsumer, ...] = (
    TriggerConsumer("journeys", journeys.apply_triggers),
)
