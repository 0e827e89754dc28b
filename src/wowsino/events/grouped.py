"""Single wager events through group commit: concurrent ``POST /v1/events/wager``
requests of one brand are written together, through the spine's batch path, in one
transaction, each answered as if it had been sent alone (``kernel.grouping``,
``kernel.writes.group_commit``).

Should the group fail as a whole (a refusal a consumer raises instead of returning
per wager, a lock wait on a key another request holds), each request is sent again
alone, so a request never gets a group's error instead of its own answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.events import service
from wowsino.events.schemas import WagerIn
from wowsino.kernel.idempotency import Outcome
from wowsino.kernel.writes import GroupKey, group_commit

MAX_GROUP = 256


async def _group(group: GroupKey, events: list[WagerIn], conn: AsyncConnection, at: datetime
                 ) -> list[Outcome]:
    realm, brand_id, service_mode, _ = group
    results = await service.record_wagers(conn, realm=realm, brand_id=brand_id,
                                          service_mode=service_mode, events=list(events), at=at)
    return [service.outcome(result) for result in results]


async def _alone(group: GroupKey, event: WagerIn, conn: AsyncConnection, at: datetime
                 ) -> tuple[int, dict[str, Any]]:
    realm, brand_id, service_mode, _ = group
    return await service.record_wager(conn, realm=realm, brand_id=brand_id,
                                      service_mode=service_mode, event=event, at=at)


coalescer = group_commit(_group, _alone, max_group=MAX_GROUP)
