"""The aggregators' calls: ``POST /v1/aggregator/<adapter>/<method path>``, one route per
adapter and operation, built from the registry (``games/adapters``).

No API key and no player session: a call is authenticated by its signature, checked on
the raw body before the body is parsed, and then by the game session token it names.
The secret is the one of the brand whose game session the token names (its own, else
the platform's: ``games/aggregator_config.py``), so that token is the one field read
from a body before it verifies, only to find that brand; a call that does not verify
is refused and nothing of it is recorded or acted on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.games import sessions, wallet
from wowsino.games.adapters import ADAPTERS
from wowsino.games.adapters.base import Adapter, Answer, Code, Operation, Refused
from wowsino.games.sessions import GameSession
from wowsino.kernel.config import Settings
from wowsino.kernel.db import database_unavailable
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.writes import platform_of

router = APIRouter(prefix="/aggregator", tags=["game aggregators"], route_class=DecimalRoute)

SUMMARIES = {
    Operation.BALANCE: "The player's playable balance (cash + bonus)",
    Operation.BET: "A bet: cash first, then bonus money",
    Operation.WIN: "A win, in the split of its round's bets; settles the round's bets",
    Operation.ROLLBACK: "A rollback of a bet: its split returned, its wagering taken back",
}


def answer(adapter: Adapter, result: Answer, echo: dict[str, Any]) -> MoneyJSONResponse:
    status, body = adapter.render(result, echo)
    return MoneyJSONResponse(body, status_code=status)


async def named_session(engine: AsyncEngine, adapter: Adapter,
                        token: str | None) -> GameSession | None:
    """The game session of this aggregator that an unverified body's token names, if any:
    only its brand's secret is used before the signature verifies."""
    if token is None:
        return None
    async with engine.connect() as conn:
        # one statement: autocommit, so no BEGIN before it nor ROLLBACK after it
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        found = await sessions.find(conn, token)
    return found if found is not None and found.adapter == adapter.name else None


def signing_secret(adapter: Adapter, settings: Settings,
                   session: GameSession | None) -> str | None:
    """The brand's own secret when the session's brand set one, else the platform's."""
    if session is not None and session.brand_secret:
        return session.brand_secret
    return adapter.secret(settings)


def endpoint(adapter: Adapter, operation: Operation
             ) -> Callable[[Request], Awaitable[MoneyJSONResponse]]:
    async def call(request: Request) -> MoneyJSONResponse:
        platform = platform_of(request)
        raw = await request.body()
        token = adapter.token_of(raw)
        try:
            session = await named_session(platform.engine, adapter, token)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            return answer(adapter, Answer(Code.UNAVAILABLE, "the wallet is unavailable; retry"),
                          adapter.echo(raw))
        secret = signing_secret(adapter, platform.settings, session)
        if secret is None or not adapter.verify(request.headers, raw, secret):
            return answer(adapter, Answer(Code.INVALID_SIGNATURE,
                                          "the signature does not verify"), adapter.echo(raw))
        try:
            parsed = adapter.parse(operation, raw)
        except Refused as exc:
            return answer(adapter, exc.answer(), adapter.echo(raw))
        result = await wallet.handle(platform.engine, platform.clock, platform.settings,
                                     adapter, parsed,
                                     session if parsed.token == token else None)
        return answer(adapter, result, parsed.echo)

    return call


def _document(adapter: Adapter, operation: Operation) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": adapter.request_schema(operation)}}}}


def _responses(adapter: Adapter) -> dict[int | str, dict[str, Any]]:
    """Every status the protocol answers, with its codes; 422 never (a transaction id used
    again with other content is the protocol's duplicate)."""
    out: dict[int | str, dict[str, Any]] = {
        status: {"description": codes} for status, codes in adapter.statuses().items()}
    out[200]["content"] = {"application/json": {"schema": adapter.answer_schema()}}
    out[200]["description"] = f"the wallet's answer in {adapter.name}'s protocol: {out[200]['description']}"
    out.setdefault(404, {"description": "no such aggregator route"})
    out.setdefault(422, {"description": "never: a transaction id used again with other "
                                        "content is answered in the protocol"})
    return out


for _adapter in ADAPTERS.values():
    for _operation, _path in _adapter.paths.items():
        router.add_api_route(
            f"/{_adapter.name}/{_path}", endpoint(_adapter, _operation), methods=["POST"],
            summary=f"{_adapter.name}: {SUMMARIES[_operation]} (signed)",
            openapi_extra=_document(_adapter, _operation), responses=_responses(_adapter),
            name=f"aggregator_{_adapter.name}_{_operation.value}")
