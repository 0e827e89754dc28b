"""The HTTP side of idempotent writes: one call per write endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.auth import Caller
from wowsino.kernel.db import database_unavailable
from wowsino.kernel.grouping import Coalescer
from wowsino.kernel.http import route_template
from wowsino.kernel.idempotency import Effect, KeyedRequest, Outcome, WriteResult, choose_key
from wowsino.kernel.jsonio import Encoded, MoneyJSONResponse
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Realm
from wowsino.kernel.wire import Lookup

Body = dict[str, Any]
Call = Callable[[AsyncConnection, datetime], Awaitable[Body]]
AnsweringCall = Callable[[AsyncConnection, datetime], Awaitable[tuple[int, Body]]]
Then = Callable[[WriteResult], Awaitable[Body]]


def platform_of(request: Request) -> Platform:
    """The platform ``create_app`` built for the app serving ``request``."""
    platform: Platform = request.app.state.platform
    return platform


def keyed(request: Request, principal: Caller, payload: dict[str, Any]
          ) -> tuple[str, KeyedRequest]:
    """The endpoint of a write request, and its idempotency key (body ``idempotency_key``
    or the ``Idempotency-Key`` header; generated when absent) with its fingerprinted
    content. Raises 400 for a key that cannot be one."""
    endpoint = f"{request.method} {route_template(request.scope)}"
    if principal.idempotency_owner is not None:
        endpoint = f"{endpoint} {principal.idempotency_owner}"
    key = choose_key(payload.pop("idempotency_key", None), request.headers.get("idempotency-key"))
    return endpoint, KeyedRequest(key, {"path": dict(request.path_params), "body": payload,
                                        "brand": str(principal.brand_id)})


def _answer(result: WriteResult) -> MoneyJSONResponse:
    # the stored response's JSON when there is one: the body is not encoded twice
    content = result.body if result.encoded is None else Encoded(result.encoded)
    return MoneyJSONResponse(content, status_code=result.status,
                             headers={"Idempotency-Key": result.key})


async def idempotent(
    request: Request, principal: Caller, *, payload: dict[str, Any], effect: Effect,
    lookups: Sequence[Lookup] = (),
) -> MoneyJSONResponse:
    """Run ``effect`` once per idempotency key and answer its response: the effect's
    status the first time, 200 with ``"deduped": true`` afterwards.
    ``lookups``: the reads the effect starts with, sent with the key's claim."""
    endpoint, keyed_request = keyed(request, principal, payload)
    result = await platform_of(request).writes.run(
        realm=principal.realm, endpoint=endpoint, key=keyed_request.key,
        request=keyed_request.content, effect=effect, lookups=lookups,
    )
    return _answer(result)


async def grouped(
    request: Request, principal: Caller, *, payload: dict[str, Any], item: Any,
    coalescer: Coalescer[Any, WriteResult],
) -> MoneyJSONResponse:
    """``idempotent`` through group commit (``kernel.grouping``): ``item`` waits for the
    next group of its tenant, mode, brand and endpoint; the answer is the one it would
    get alone. The coalescer's process receives ``(endpoint, KeyedRequest, item)``."""
    endpoint, keyed_request = keyed(request, principal, payload)
    group = (principal.realm, principal.brand_id, principal.service_mode, endpoint)
    return _answer(await coalescer.submit(group, keyed_request.key,
                                          (endpoint, keyed_request, item)))


GroupKey = tuple[Realm, UUID, str, str]  # realm, brand, service mode, endpoint
Waiting = tuple[str, KeyedRequest, Any]  # endpoint, keyed request, item (``grouped``)
# the fresh items of a group, in one transaction at ``at``: each one's (status, body), or
# the refusal it raises when sent alone; raising fails the group as a whole
GroupEffect = Callable[[GroupKey, list[Any], AsyncConnection, datetime],
                       Awaitable[list[Outcome]]]
# one item alone, as the endpoint without group commit would write it
AloneEffect = Callable[[GroupKey, Any, AsyncConnection, datetime],
                       Awaitable[tuple[int, Body]]]


def group_commit(effect: GroupEffect, alone: AloneEffect, *, max_group: int = 256,
                 in_flight: int = 4, lone: Callable[[GroupKey, Any], Sequence[Lookup]] | None = None,
                 ) -> Callable[[Platform], Coalescer[Waiting, WriteResult]]:
    """The coalescer ``grouped`` takes, made per process (``Platform.coalescer``): each group
    goes through ``IdempotentWrites.run_group`` with ``effect``. Should the group fail as a
    whole (a refusal raised rather than answered per item, a lost race, a deadlock), each
    request is written again alone with ``alone``, so a request never gets a group's error
    instead of its own answer; a database that is down fails them all. ``max_group`` and
    ``in_flight``: as ``Coalescer`` takes them.

    ``lone``: a group of one request is written alone at once, with the reads ``lone``
    names for it sent with its key's claim (``IdempotentWrites.run``): a request that finds
    no others waiting costs what it costs without group commit."""

    def make(platform: Platform) -> Coalescer[Waiting, WriteResult]:
        async def process(group: Hashable, waiting: list[Waiting]
                          ) -> list[WriteResult | BaseException]:
            assert isinstance(group, tuple)
            realm, _, _, endpoint = group
            if lone is not None and len(waiting) == 1:
                return [await _alone(platform, group, waiting[0], alone,
                                     lone(group, waiting[0][2]))]

            async def run(conn: AsyncConnection, indexes: list[int]) -> list[Outcome]:
                return await effect(group, [waiting[i][2] for i in indexes], conn,
                                    platform.clock.now())

            try:
                answers = await platform.writes.run_group(
                    realm=realm, endpoint=endpoint, requests=[w[1] for w in waiting],
                    effect=run)
            except Exception as error:
                if database_unavailable(error):
                    raise
                coalescer.alone += len(waiting)
                return [await _alone(platform, group, w, alone) for w in waiting]
            return list(answers)

        coalescer: Coalescer[Waiting, WriteResult] = Coalescer(process, max_group=max_group,
                                                               in_flight=in_flight)
        return coalescer

    return make


async def _alone(platform: Platform, group: GroupKey, waiting: Waiting, alone: AloneEffect,
                 lookups: Sequence[Lookup] = ()) -> WriteResult | BaseException:
    realm, _, _, endpoint = group
    _, keyed_request, item = waiting

    async def effect(conn: AsyncConnection) -> tuple[int, Body]:
        return await alone(group, item, conn, platform.clock.now())

    try:
        return await platform.writes.run(realm=realm, endpoint=endpoint, key=keyed_request.key,
                                         request=keyed_request.content, effect=effect,
                                         lookups=lookups)
    except Exception as error:  # this request's own answer (a refusal, a failure)
        return error


async def write(
    request: Request, principal: Caller, *, payload: dict[str, Any], status: int, call: Call,
    lookups: Sequence[Lookup] = (),
) -> MoneyJSONResponse:
    """``idempotent`` for a service call that answers ``status`` with the body it returns.

    ``call(conn, at)`` runs inside the write's transaction; ``at`` is the platform
    clock's time when it runs. Raises what ``idempotent`` and the call raise.
    """

    async def answer(conn: AsyncConnection, at: datetime) -> tuple[int, Body]:
        return status, await call(conn, at)

    return await write_answer(request, principal, payload=payload, call=answer, lookups=lookups)


async def write_answer(
    request: Request, principal: Caller, *, payload: dict[str, Any], call: AnsweringCall,
    lookups: Sequence[Lookup] = (),
) -> MoneyJSONResponse:
    """``write`` for a service call that chooses its own status (created or updated, a
    replay found by a natural key): ``call(conn, at)`` returns ``(status, body)``."""
    clock = platform_of(request).clock

    async def effect(conn: AsyncConnection) -> tuple[int, Body]:
        return await call(conn, clock.now())

    return await idempotent(request, principal, payload=payload, effect=effect, lookups=lookups)


async def write_then(request: Request, caller: Caller, *, payload: dict[str, Any],
                     call: AnsweringCall, then: Then) -> MoneyJSONResponse:
    """An idempotent write, then ``then(result)`` outside its transaction (a call to an
    outside vendor once the write is committed), on the first call and on every replay
    alike (a replay finishes what a crash interrupted): the answer is what ``then``
    returns, with the write's status."""
    platform = platform_of(request)
    endpoint, keyed_request = keyed(request, caller, payload)

    async def effect(conn: AsyncConnection) -> tuple[int, Body]:
        return await call(conn, platform.clock.now())

    result = await platform.writes.run(realm=caller.realm, endpoint=endpoint,
                                       key=keyed_request.key, request=keyed_request.content,
                                       effect=effect)
    body = await then(result) if 200 <= result.status < 300 else result.body
    return MoneyJSONResponse(body, status_code=result.status,
                             headers={"Idempotency-Key": result.key})


def callback_base(request: Request) -> str:
    """This API's public address, where outside vendors call back: ``WOWSINO_PUBLIC_URL``,
    else the request's own."""
    configured: str | None = platform_of(request).settings.public_url
    return configured or str(request.base_url).rstrip("/")
