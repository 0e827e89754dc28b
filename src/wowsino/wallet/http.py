"""What the wallet's routes share: a write followed, after its commit, by a call to the
PSP, and the address PSPs call back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.auth import Caller
from wowsino.kernel.idempotency import WriteResult
from wowsino.kernel.jsonio import MoneyJSONResponse
from wowsino.kernel.writes import keyed, platform_of

Body = dict[str, Any]
Call = Callable[[AsyncConnection, datetime], Awaitable[tuple[int, Body]]]
Then = Callable[[WriteResult], Awaitable[Body]]


def callback_base(request: Request) -> str:
    """This API's public address: ``WOWSINO_PUBLIC_URL``, else the request's own."""
    configured: str | None = platform_of(request).settings.public_url
    return configured or str(request.base_url).rstrip("/")


async def write_then(request: Request, caller: Caller, *, payload: dict[str, Any], call: Call,
                     then: Then) -> MoneyJSONResponse:
    """An idempotent write (``kernel.writes``), then ``then(result)`` outside its
    transaction, on the first call and on every replay alike (a replay finishes what a
    crash interrupted): the answer is what ``then`` returns, with the write's status."""
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
