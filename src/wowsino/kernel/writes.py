"""The HTTP side of idempotent writes: one call per write endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from wowsino.kernel.auth import Principal
from wowsino.kernel.http import route_template
from wowsino.kernel.idempotency import Effect, choose_key
from wowsino.kernel.jsonio import MoneyJSONResponse
from wowsino.kernel.platform import Platform


async def idempotent(
    request: Request, principal: Principal, *, payload: dict[str, Any], effect: Effect
) -> MoneyJSONResponse:
    """Run ``effect`` once per idempotency key (body ``idempotency_key`` or the
    ``Idempotency-Key`` header; generated when absent) and answer its response:
    the effect's status the first time, 200 with ``"deduped": true`` afterwards."""
    platform: Platform = request.app.state.platform
    endpoint = f"{request.method} {route_template(request.scope)}"
    key = choose_key(payload.pop("idempotency_key", None), request.headers.get("idempotency-key"))
    fingerprinted = {"path": dict(request.path_params), "body": payload,
                     "brand": str(principal.brand_id)}
    result = await platform.writes.run(
        realm=principal.realm, endpoint=endpoint, key=key, request=fingerprinted, effect=effect
    )
    return MoneyJSONResponse(result.body, status_code=result.status,
                             headers={"Idempotency-Key": result.key})
