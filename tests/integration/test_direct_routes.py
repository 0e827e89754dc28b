"""Direct routes (``kernel/direct.py``) answer exactly as the framework would.

Two apps on one database: the usual one, whose marked routes are served directly, and
one whose direct layer is empty, so the framework serves everything. Every request is
sent to both (each with its own idempotency keys where the request makes an effect);
status, body (ids and times aside) and headers must match, for good requests and for
every kind of refusal the edge knows."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts

from tests.conftest import Tenant
from tests.integration.support import bearer, count_rows, create_key, create_player
from wowsino.api import create_app
from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.config import Settings
from wowsino.kernel.direct import DirectRoutes, Unsupported, direct, plan_direct_routes

ADJUST = "/v1/players/{player}/adjustments"
CREDIT = {"rail": "real", "asset": "USD", "amount": "1.00", "reason": "goodwill"}
# what differs between two writes of the same request: generated ids, times, balances
VOLATILE = re.compile(r"^(id|.*_id|.*_at|at|balance.*)$")


def _stable(value: Any) -> Any:
    """``value`` with what differs between two writes blanked."""
    if isinstance(value, dict):
        return {k: "…" if VOLATILE.match(k) and not isinstance(v, dict | list) else _stable(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _headers(response: httpx.Response) -> dict[str, str]:
    """The answer's headers; for those that differ between two answers (ids, lengths,
    what is left of a rate limit that refills with time) only their presence."""
    varying = {"x-request-id", "idempotency-key", "content-length", "date",
               "ratelimit-remaining", "ratelimit-reset", "retry-after"}
    return {k: "…" if k in varying else v for k, v in response.headers.items()}


def _direct_layer(app: Any) -> DirectRoutes:
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, DirectRoutes):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, DirectRoutes), "the direct layer is not in the app's stack"
    return layer


@pytest.fixture
async def framework(db_url: str, clock: ManualClock, settings: Settings
                    ) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second app on the same database, its direct layer emptied."""
    application = create_app(settings, database_url=db_url, clock=clock)
    application.state.direct_routes.clear()
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://wowsino.test") as c:
        yield c
    await application.state.platform.engine.dispose()


async def test_the_hot_writes_are_planned_as_direct_routes(app: Any) -> None:
    planned = {(r.method, r.pattern.pattern) for r in app.state.direct_routes}
    assert ("POST", "^/v1/players/(?P<key>[^/]+)/adjustments$") in planned
    assert ("POST", "^/v1/events/wager$") in planned
    assert ("POST", "^/v1/lootbox/(?P<lootbox_id>[^/]+)/open$") in planned


async def test_no_earlier_route_would_take_a_direct_routes_requests(app: Any) -> None:
    """The framework tries routes in order; a direct route answers first, so no route
    before it in the table may match the same requests."""
    contexts = list(iter_route_contexts(app.routes))
    for planned in app.state.direct_routes:
        sample = re.sub(r"\{[^}]+\}", "x1", route_template_of(contexts, planned.route))
        assert planned.pattern.match(sample), sample
        first = next(c for c in contexts if isinstance(c.original_route, APIRoute)
                     and planned.method in (c.original_route.methods or ())
                     and c.path_regex.match(sample))
        assert first.original_route is planned.route, (sample, first.path_format)


def route_template_of(contexts: list[Any], route: Any) -> str:
    return str(next(c.path_format for c in contexts if c.original_route is route))


async def test_direct_routes_answer_as_the_framework_does(
    client: httpx.AsyncClient, framework: httpx.AsyncClient, tenant: Tenant, app: Any,
    engine: Any,
) -> None:
    await create_player(tenant, "alice")
    reader = (await create_key(client, tenant, ["players:read"], name="reader"))["key"]
    key = tenant.headers()
    wrong_scope = bearer(reader)
    path = ADJUST.format(player="alice")
    # (name, path, headers, body: JSON, or bytes sent as they are)
    cases: list[tuple[str, str, dict[str, Any], Any]] = [
        ("credit", path, key, CREDIT),
        ("debit", path, key, {**CREDIT, "amount": "-0.50"}),
        ("too much debit", path, key, {**CREDIT, "amount": "-1000000.00"}),
        ("unknown player", ADJUST.format(player="nobody"), key, CREDIT),
        ("no key", path, {}, CREDIT),
        ("malformed key", path, {"Authorization": "Bearer nope"}, CREDIT),
        ("unknown key", path, bearer("wsk_test_" + "0" * 48), CREDIT),
        ("session token", path, bearer("wps_" + "a" * 40), CREDIT),
        ("scope denied", path, wrong_scope, CREDIT),
        ("missing field", path, key, {"rail": "real", "asset": "USD", "amount": "1"}),
        ("bad rail", path, key, {**CREDIT, "rail": "gold"}),
        ("huge number", path, key,
         b'{"rail":"real","asset":"USD","amount":1e400,"reason":"x"}'),
        ("float amount", path, key, {**CREDIT, "amount": 0.1}),
        ("too many decimals", path, key, {**CREDIT, "amount": "1.001"}),
        ("unknown field", path, key, {**CREDIT, "colour": "red"}),
        ("array body", path, key, [CREDIT]),
        ("null body", path, key, None),
        ("malformed JSON", path, key, b'{"rail": '),
        ("not UTF-8", path, key, b'{"reason": "\xff\xfe"}'),
        ("NaN", path, key, b'{"rail":"real","asset":"USD","amount":NaN,"reason":"x"}'),
        ("empty body", path, key, b""),
        ("bad header key", path, {**key, "Idempotency-Key": "kéy".encode()}, CREDIT),
        ("no key, bad body", path, {}, b"{"),
        ("wager, unknown player", "/v1/events/wager", key,
         {"user_id": "nobody", "source_wager_id": "w1", "amount": "1", "currency": "USD"}),
        ("wager, bad category", "/v1/events/wager", key,
         {"user_id": "alice", "source_wager_id": "w2", "amount": "1", "currency": "USD",
          "game_category": "darts"}),
        ("wager, no key", "/v1/events/wager", {}, {"user_id": "alice"}),
        ("wager batch, a bad event", "/v1/events/wager:batch", key,
         {"events": [{"user_id": "nobody", "source_wager_id": "b1", "amount": "1",
                      "currency": "USD"}, {"amount": "x"}]}),
        ("wager batch, empty", "/v1/events/wager:batch", key, {"events": []}),
        ("rollback, unknown wager", "/v1/events/wager-rollback", key,
         {"source_wager_id": "never"}),
        ("deposit, unknown player", "/v1/events/deposit", key,
         {"user_id": "nobody", "source_deposit_id": "d1", "amount": "10", "currency": "USD"}),
        ("player, bad email", "/v1/players", key, {"username": "dan", "email": "nope"}),
        ("player, scope denied", "/v1/players", wrong_scope, {"username": "dan"}),
        ("lootbox, unknown", "/v1/lootbox/lb_nope/open", key, {"user_id": "alice"}),
        ("lootbox, bad body", "/v1/lootbox/lb_nope/open", key, {"user": "alice"}),
        ("mini-game, unknown", "/v1/mini-games/mg_nope/play", key, {"user_id": "alice"}),
        ("jackpot, unknown", "/v1/jackpots/jp_nope/contribute", key,
         {"user_id": "alice", "source_wager_id": "c1", "amount": "1"}),
        ("tournament, unknown", "/v1/tournaments/t_nope/score", key,
         {"user_id": "alice", "source_wager_id": "s1", "points": 1}),
    ]
    created: list[str] = []
    for name, url, headers, body in cases:
        answers = []
        for target in (client, framework):
            if isinstance(body, bytes):
                sent = await target.post(url, content=body,
                                         headers={**headers, "Content-Type": "application/json"})
            else:
                sent = await target.post(url, json=body, headers=headers)
            answers.append(sent)
        direct, plain = answers
        assert direct.status_code == plain.status_code, (name, direct.text, plain.text)
        assert _stable(direct.json()) == _stable(plain.json()), name
        assert _headers(direct) == _headers(plain), name
        assert direct.headers["x-request-id"].startswith("req_"), name
        if url == path and direct.status_code == 201:
            created.append(name)
    assert created == ["credit", "debit", "float amount"]
    assert _direct_layer(app).served > len(created)  # its refusals too
    # each accepted adjustment once per app, nothing from any refusal
    entries = await count_rows(engine, "ledger_entries", tenant.id, "test",
                               "kind = 'adjustment'")
    assert entries == 2 * len(created)


async def test_a_replay_and_a_reused_key_answer_alike(
    client: httpx.AsyncClient, framework: httpx.AsyncClient, tenant: Tenant,
) -> None:
    await create_player(tenant, "bob")
    path = ADJUST.format(player="bob")
    for target, key in ((client, "direct-1"), (framework, "framework-1")):
        first = await target.post(path, json={**CREDIT, "idempotency_key": key},
                                  headers=tenant.headers())
        again = await target.post(path, json={**CREDIT, "idempotency_key": key},
                                  headers=tenant.headers())
        other = await target.post(path, json={**CREDIT, "amount": "2.00", "idempotency_key": key},
                                  headers=tenant.headers())
        assert (first.status_code, again.status_code, other.status_code) == (201, 200, 422)
        assert again.json()["deduped"] is True
        assert again.headers["idempotency-key"] == key
        assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_a_query_string_goes_to_the_framework(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    await create_player(tenant, "carol")
    r = await client.post(ADJUST.format(player="carol") + "?x=1", json=CREDIT,
                          headers=tenant.headers())
    assert r.status_code == 201, r.text
    served = _direct_layer(app).served
    r = await client.post(ADJUST.format(player="carol"), json=CREDIT, headers=tenant.headers())
    assert r.status_code == 201, r.text
    assert _direct_layer(app).served == served + 1


def test_an_endpoint_the_direct_layer_cannot_call_is_refused_when_the_app_is_built() -> None:
    principal: Any = scoped("players:write")

    def app_with(endpoint: Any) -> FastAPI:
        built = FastAPI()
        built.post("/x/{ref}")(direct(endpoint))
        return built

    async def with_query(ref: str, request: Request, page: int,
                         who: Principal = principal) -> None: ...

    async def without_request(ref: str, who: Principal = principal) -> None: ...

    async def without_principal(ref: str, request: Request) -> None: ...

    async def typed_path(ref: int, request: Request, who: Principal = principal) -> None: ...

    async def plain(ref: str, request: Request, who: Principal = principal) -> None: ...

    for endpoint, reason in ((with_query, "query"), (without_request, "Request"),
                             (without_principal, "dependency"), (typed_path, "plain str")):
        with pytest.raises(Unsupported, match=reason):
            plan_direct_routes(app_with(endpoint))
    [planned] = plan_direct_routes(app_with(plain))
    assert planned.path_names == (("ref", "ref"),)
