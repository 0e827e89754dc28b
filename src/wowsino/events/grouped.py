"""Single wager events through group commit: concurrent ``POST /v1/events/wager``
requests of one brand are written together, through the spine's batch path, in one
transaction, each answered as if it had been sent alone (``kernel.grouping``).

Should the group fail as a whole (a refusal a consumer raises instead of returning
per wager, a lock wait on a key another request holds), each request is sent again
alone, so a request never gets a group's error instead of its own answer.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.events import service
from wowsino.events.schemas import WagerIn
from wowsino.kernel.db import database_unavailable
from wowsino.kernel.grouping import Coalescer
from wowsino.kernel.idempotency import KeyedRequest, Outcome, WriteResult
from wowsino.kernel.platform import Platform

Waiting = tuple[str, KeyedRequest, WagerIn]  # endpoint, keyed request, event
MAX_GROUP = 256


def coalescer(platform: Platform) -> Coalescer[Waiting, WriteResult]:
    async def process(group: Hashable, items: list[Waiting]
                      ) -> list[WriteResult | BaseException]:
        assert isinstance(group, tuple)
        realm, brand_id, service_mode, endpoint = group

        async def effect(conn: AsyncConnection, indexes: list[int]) -> list[Outcome]:
            results = await service.record_wagers(
                conn, realm=realm, brand_id=brand_id, service_mode=service_mode,
                events=[items[i][2] for i in indexes], at=platform.clock.now())
            return [service.outcome(result) for result in results]

        try:
            answers = await platform.writes.run_group(
                realm=realm, endpoint=endpoint, requests=[item[1] for item in items],
                effect=effect)
        except Exception as error:
            if database_unavailable(error):
                raise
            return [await _alone(platform, group, item) for item in items]
        return list(answers)

    return Coalescer(process, max_group=MAX_GROUP)


async def _alone(platform: Platform, group: tuple[Any, ...], item: Waiting
                 ) -> WriteResult | BaseException:
    realm, brand_id, service_mode, endpoint = group
    _, keyed, event = item

    async def effect(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
        return await service.record_wager(conn, realm=realm, brand_id=brand_id,
                                          service_mode=service_mode, event=event,
                                          at=platform.clock.now())

    try:
        return await platform.writes.run(realm=realm, endpoint=endpoint, key=keyed.key,
                                         request=keyed.content, effect=effect)
    except Exception as error:  # this request's own answer (a refusal, a failure)
        return error
