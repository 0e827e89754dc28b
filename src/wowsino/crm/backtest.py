"""Backtesting a campaign before it goes live: at each of its scheduled times in the past
``days``, who would have matched its segment and what the run would have cost.

The history comes from the per-player daily activity stats (``player_stats_daily``),
so what they keep per day is rebuilt as it was on the run's UTC day: ``net_loss_7d``,
``net_loss_30d``, ``total_wagered`` (today's total less what was wagered after that
day), and ``registered_at`` (a player registered later did not exist). Everything else
is not kept per day and is read as it is now: VIP level and XP, status, country, KYC
level, tags, the WINZ balance, the deposit fields and ``last_wager_at``. The answer
names both lists. Counts are before the compliance gate (RG holds and statuses are not
kept per day), and a cost is given for actions whose cost per player is fixed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.crm import actions, repository, schedules, service, views
from wowsino.crm.compiler import AS_OF_FIELDS, compile_condition
from wowsino.crm.grammar import fields_used
from wowsino.kernel.errors import Conflict, ValidationFailed
from wowsino.kernel.realm import Realm

MAX_RUNS = 200


async def backtest(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, days: int,
                   at: datetime) -> dict[str, Any]:
    """409 ``NOT_SCHEDULED`` for a ``once`` campaign; 400 for more than ``MAX_RUNS`` times."""
    campaign = await service.own_campaign(conn, realm, brand_id, ref)
    if schedules.cron_of(campaign["schedule"]) is None:
        raise Conflict("a once campaign has no scheduled times to replay", code="NOT_SCHEDULED")
    start = at - timedelta(days=days)
    times = schedules.between(campaign["schedule"], start, at, MAX_RUNS)
    if len(times) > MAX_RUNS:
        raise ValidationFailed(f"days: the schedule runs more than {MAX_RUNS} times in {days} "
                               "days; ask for fewer", field="days")
    segment = await service.own_segment(conn, realm, brand_id, str(campaign["segment_id"]))
    node = service.checked(segment["expression"], at)
    unit = actions.fixed_cost(await actions.plan(conn, realm, campaign["action"]))
    runs, total = [], 0
    for moment in times:
        count = await repository.count_as_of(conn, realm, brand_id,
                                             compile_condition(node, moment, as_of=True), moment)
        total += count
        runs.append({"at": moment, "count": count,
                     "cost": None if unit is None else views.costs(count * unit,
                                                                   campaign["asset"])})
    used = fields_used(node)
    return {"campaign_id": str(campaign["id"]), "from": start, "to": at, "runs": runs,
            "count": total,
            "total_cost": None if unit is None else views.costs(total * unit, campaign["asset"]),
            "rebuilt_fields": sorted(used & AS_OF_FIELDS),
            "current_fields": sorted(used - AS_OF_FIELDS)}
