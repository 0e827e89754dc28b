"""Scopes for every ``/v1`` route: a key holding every scope except the route's own is
refused with ``403 SCOPE_DENIED``, and a key holding only that scope is not.

The scope each route needs is written down below, by hand, from the API contract — it
is deliberately not read from the code, so that a route whose scope is weakened (say
``players:write`` downgraded to ``players:read``) or dropped (plain authentication in
place of ``webhooks:manage``) fails here. The routes are enumerated from the app: a new
``/v1`` route with no entry in ``REQUIRED_SCOPE`` or ``OPEN`` fails
``test_every_v1_route_declares_its_scope`` until it gets one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Tenant
from tests.integration.support import assert_error, bearer, create_key, create_player
from tests.integration.test_isolation import v1_routes
from tests.integration.wl_support import WhiteLabel, make_white_label, player_session
from tests.support.live_server import serving
from wowsino.api import create_app
from wowsino.kernel.auth import SCOPES
from wowsino.kernel.config import DEVELOPMENT_SANDBOX_KYC_SECRET, Settings
from wowsino.sandbox.kyc import Options, SandboxKyc

READ, USE, CONFIG = "engagement:read", "engagement:write", "config:write"
HOOKS = "webhooks:manage"
CRM_READ, CRM_WRITE = "crm:read", "crm:write"

REQUIRED_SCOPE: dict[tuple[str, str], str] = {
    ("GET", "/v1/usage"): "usage:read",
    ("GET", "/v1/audit"): "audit:read",
    # players
    ("POST", "/v1/players"): "players:write",
    ("GET", "/v1/players"): "players:read",
    ("GET", "/v1/players/{key}"): "players:read",
    ("PATCH", "/v1/players/{key}/status"): "players:write",
    ("POST", "/v1/players/{key}/rg"): "players:write",
    ("POST", "/v1/players/{key}/adjustments"): CONFIG,
    ("GET", "/v1/players/{key}/timeline"): "players:read",
    ("GET", "/v1/players/{key}/ledger"): "players:read",
    ("GET", "/v1/players/{key}/balances/{rail}/{asset}/explain"): "players:read",
    ("GET", "/v1/players/{key}/fairness"): READ,
    ("PUT", "/v1/players/{key}/fairness"): USE,
    # lootboxes
    ("GET", "/v1/lootbox"): READ,
    ("POST", "/v1/lootbox"): CONFIG,
    ("GET", "/v1/lootbox/{lootbox_id}"): READ,
    ("PATCH", "/v1/lootbox/{lootbox_id}"): CONFIG,
    ("POST", "/v1/lootbox/{lootbox_id}/pause"): CONFIG,
    ("POST", "/v1/lootbox/{lootbox_id}/resume"): CONFIG,
    ("POST", "/v1/lootbox/{lootbox_id}/open"): USE,
    ("GET", "/v1/lootbox/{lootbox_id}/opens"): READ,
    # raffles
    ("GET", "/v1/raffles"): READ,
    ("POST", "/v1/raffles"): CONFIG,
    ("GET", "/v1/raffles/{raffle_id}"): READ,
    ("PATCH", "/v1/raffles/{raffle_id}"): CONFIG,
    ("POST", "/v1/raffles/{raffle_id}/pause"): CONFIG,
    ("POST", "/v1/raffles/{raffle_id}/resume"): CONFIG,
    ("POST", "/v1/raffles/{raffle_id}/enter"): USE,
    ("GET", "/v1/raffles/{raffle_id}/tickets"): READ,
    ("GET", "/v1/raffles/{raffle_id}/entries/{key}"): READ,
    ("POST", "/v1/raffles/{raffle_id}/draw"): CONFIG,
    # jackpots
    ("GET", "/v1/jackpots"): READ,
    ("POST", "/v1/jackpots"): CONFIG,
    ("GET", "/v1/jackpots/{jackpot_id}"): READ,
    ("PATCH", "/v1/jackpots/{jackpot_id}"): CONFIG,
    ("POST", "/v1/jackpots/{jackpot_id}/pause"): CONFIG,
    ("POST", "/v1/jackpots/{jackpot_id}/resume"): CONFIG,
    ("POST", "/v1/jackpots/{jackpot_id}/contribute"): USE,
    ("POST", "/v1/jackpots/{jackpot_id}/drop"): CONFIG,
    ("GET", "/v1/jackpots/{jackpot_id}/drops"): READ,
    # mini-games
    ("GET", "/v1/mini-games"): READ,
    ("POST", "/v1/mini-games"): CONFIG,
    ("GET", "/v1/mini-games/{mini_game_id}"): READ,
    ("PATCH", "/v1/mini-games/{mini_game_id}"): CONFIG,
    ("POST", "/v1/mini-games/{mini_game_id}/pause"): CONFIG,
    ("POST", "/v1/mini-games/{mini_game_id}/resume"): CONFIG,
    ("POST", "/v1/mini-games/{mini_game_id}/play"): USE,
    ("GET", "/v1/mini-games/{mini_game_id}/plays"): READ,
    # tournaments
    ("GET", "/v1/tournaments"): READ,
    ("POST", "/v1/tournaments"): CONFIG,
    ("GET", "/v1/tournaments/{tournament_id}"): READ,
    ("PATCH", "/v1/tournaments/{tournament_id}"): CONFIG,
    ("POST", "/v1/tournaments/{tournament_id}/pause"): CONFIG,
    ("POST", "/v1/tournaments/{tournament_id}/resume"): CONFIG,
    ("POST", "/v1/tournaments/{tournament_id}/join"): USE,
    ("POST", "/v1/tournaments/{tournament_id}/score"): USE,
    ("GET", "/v1/tournaments/{tournament_id}/leaderboard"): READ,
    ("POST", "/v1/tournaments/{tournament_id}/close"): USE,
    # webhooks
    ("POST", "/v1/webhooks"): HOOKS,
    ("GET", "/v1/webhooks"): HOOKS,
    ("GET", "/v1/webhooks/{webhook_id}"): HOOKS,
    ("PATCH", "/v1/webhooks/{webhook_id}"): HOOKS,
    ("DELETE", "/v1/webhooks/{webhook_id}"): HOOKS,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): HOOKS,
    ("POST", "/v1/webhooks/{webhook_id}/ping"): HOOKS,
    ("POST", "/v1/webhook-deliveries/{delivery_id}/redeliver"): HOOKS,
    # bonuses
    ("GET", "/v1/bonus-templates"): READ,
    ("POST", "/v1/bonus-templates"): CONFIG,
    ("GET", "/v1/bonus-templates/{template_id}"): READ,
    ("GET", "/v1/bonus-templates/{promotion_id}/drops/wins"): READ,
    ("PATCH", "/v1/bonus-templates/{template_id}"): CONFIG,
    ("POST", "/v1/bonus-templates/{template_id}/pause"): CONFIG,
    ("POST", "/v1/bonus-templates/{template_id}/resume"): CONFIG,
    ("POST", "/v1/bonus-templates/{template_id}/simulate"): CONFIG,
    ("POST", "/v1/bonuses/grant"): "bonuses:grant",
    ("POST", "/v1/bonuses/{bonus_id}/forfeit"): "bonuses:grant",
    ("POST", "/v1/bonuses/{bonus_id}/cancel"): "bonuses:grant",
    ("POST", "/v1/bonuses/{bonus_id}/free-spins/settle"): "bonuses:grant",
    ("GET", "/v1/players/{key}/bonuses"): "players:read",
    # events from the operator's platform
    ("POST", "/v1/events/wager"): "events:write",
    ("POST", "/v1/events/wager:batch"): "events:write",
    ("POST", "/v1/events/wager-rollback"): "events:write",
    ("POST", "/v1/events/deposit"): "events:write",
    # jurisdiction profiles
    ("GET", "/v1/brands/{slug}/jurisdiction"): CONFIG,
    ("PUT", "/v1/brands/{slug}/jurisdiction"): CONFIG,
    # CRM
    ("POST", "/v1/segments"): CRM_WRITE,
    ("GET", "/v1/segments"): CRM_READ,
    ("GET", "/v1/segments/{segment_id}"): CRM_READ,
    ("PATCH", "/v1/segments/{segment_id}"): CRM_WRITE,
    ("DELETE", "/v1/segments/{segment_id}"): CRM_WRITE,
    ("GET", "/v1/segments/{segment_id}/preview"): CRM_READ,
    ("POST", "/v1/campaigns"): CRM_WRITE,
    ("GET", "/v1/campaigns"): CRM_READ,
    ("GET", "/v1/campaigns/{campaign_id}"): CRM_READ,
    ("PATCH", "/v1/campaigns/{campaign_id}"): CRM_WRITE,
    ("POST", "/v1/campaigns/{campaign_id}/pause"): CRM_WRITE,
    ("POST", "/v1/campaigns/{campaign_id}/resume"): CRM_WRITE,
    ("POST", "/v1/campaigns/{campaign_id}/dry-run"): CRM_WRITE,
    ("POST", "/v1/campaigns/{campaign_id}/run"): CRM_WRITE,
    ("GET", "/v1/campaigns/{campaign_id}/runs"): CRM_READ,
    ("POST", "/v1/campaigns/{campaign_id}/backtest"): CRM_READ,
    ("PUT", "/v1/crm/budget"): CRM_WRITE,
    ("GET", "/v1/crm/budget"): CRM_READ,
    # VIP
    ("GET", "/v1/vip"): READ,
    ("PUT", "/v1/vip"): CONFIG,
    ("GET", "/v1/players/{key}/vip"): READ,
    # journeys
    ("GET", "/v1/journeys"): READ,
    ("POST", "/v1/journeys"): CONFIG,
    ("GET", "/v1/journeys/{journey_id}"): READ,
    ("PATCH", "/v1/journeys/{journey_id}"): CONFIG,
    ("POST", "/v1/journeys/{journey_id}/pause"): CONFIG,
    ("POST", "/v1/journeys/{journey_id}/resume"): CONFIG,
    ("POST", "/v1/journeys/event"): USE,
    ("GET", "/v1/players/{key}/journeys"): READ,
}

# Routes any valid key may call: the key's own description and the API document.
OPEN: set[tuple[str, str]] = {
    ("GET", "/v1/me"),
    ("GET", "/v1/openapi.json"),
}

# White-label routes: a plug-in tenant's key is refused whatever its scopes, so these are
# checked with a white-label tenant's keys.
WHITE_LABEL_SCOPE: dict[tuple[str, str], str] = {
    ("POST", "/v1/auth/register"): "players:write",
    ("POST", "/v1/auth/login"): "players:write",
    # the wallet's back office
    ("GET", "/v1/brands/{slug}/psp"): CONFIG,
    ("PUT", "/v1/brands/{slug}/psp"): CONFIG,
    ("PATCH", "/v1/players/{key}/kyc"): "compliance:write",
    # KYC vendors
    ("GET", "/v1/brands/{slug}/kyc"): CONFIG,
    ("PUT", "/v1/brands/{slug}/kyc"): CONFIG,
    ("GET", "/v1/players/{key}/kyc"): "players:read",
    ("POST", "/v1/players/{key}/kyc/start"): "compliance:write",
    ("GET", "/v1/players/{key}/transactions"): "players:read",
    ("GET", "/v1/deposits"): "players:read",
    ("GET", "/v1/deposits/{deposit_id}"): "players:read",
    ("GET", "/v1/withdrawals"): "players:read",
    ("GET", "/v1/withdrawals/{withdrawal_id}"): "players:read",
    ("POST", "/v1/withdrawals/{withdrawal_id}/approve"): "wallet:approve",
    ("POST", "/v1/players/{key}/withdrawals"): "wallet:approve",
    ("POST", "/v1/withdrawals/{withdrawal_id}/reject"): "wallet:approve",
    # games
    ("GET", "/v1/games"): READ,
    ("GET", "/v1/brands/{slug}/aggregators/{adapter}"): CONFIG,
    ("PUT", "/v1/brands/{slug}/aggregators/{adapter}"): CONFIG,
}

# Routes that take a player session (wps_…) and never an API key.
SESSION: set[tuple[str, str]] = {
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/player/sessions"),
    ("POST", "/v1/player/sessions/{session_id}/revoke"),
    ("GET", "/v1/player/bonuses"),
    ("POST", "/v1/player/bonuses/claim"),
    ("POST", "/v1/player/bonuses/{bonus_id}/cancel"),
    ("GET", "/v1/player/vip"),
    ("GET", "/v1/player/journeys"),
    ("GET", "/v1/player/lootboxes"),
    ("POST", "/v1/player/lootboxes/{lootbox_id}/open"),
    ("GET", "/v1/player/mini-games"),
    ("POST", "/v1/player/mini-games/{mini_game_id}/play"),
    ("GET", "/v1/player/raffles"),
    ("POST", "/v1/player/raffles/{raffle_id}/enter"),
    ("GET", "/v1/player/raffles/{raffle_id}/entries"),
    ("GET", "/v1/player/tournaments"),
    ("POST", "/v1/player/tournaments/{tournament_id}/join"),
    ("GET", "/v1/player/tournaments/{tournament_id}/leaderboard"),
    ("GET", "/v1/player/jackpots"),
    ("GET", "/v1/player/profile"),
    ("PATCH", "/v1/player/profile"),
    ("POST", "/v1/player/password"),
    ("GET", "/v1/player/balances"),
    ("GET", "/v1/player/limits"),
    ("POST", "/v1/player/limits"),
    ("POST", "/v1/player/timeout"),
    ("POST", "/v1/player/self-exclude"),
    ("POST", "/v1/player/deposits"),
    ("GET", "/v1/player/deposits/{deposit_id}"),
    ("POST", "/v1/player/withdrawals"),
    ("GET", "/v1/player/withdrawals"),
    ("GET", "/v1/player/transactions"),
    ("POST", "/v1/games/{game_id}/launch"),
    ("POST", "/v1/player/kyc/start"),
}

# Every route a brand's publishable key (wpk_…, in a browser) reaches, written down by
# hand: registration and login, and the engines' public catalogue. The walk in
# ``test_a_publishable_key_reaches_exactly_the_public_routes`` fails when any other route
# lets the key through, so no route becomes public by accident.
PUBLIC: set[tuple[str, str]] = {
    ("GET", "/v1/openapi.json"),  # takes no credential at all
    ("POST", "/v1/auth/register"),
    ("POST", "/v1/auth/login"),
    ("GET", "/v1/lootbox"),
    ("GET", "/v1/lootbox/{lootbox_id}"),
    ("GET", "/v1/mini-games"),
    ("GET", "/v1/mini-games/{mini_game_id}"),
    ("GET", "/v1/raffles"),
    ("GET", "/v1/raffles/{raffle_id}"),
    ("GET", "/v1/raffles/{raffle_id}/tickets"),
    ("GET", "/v1/jackpots"),
    ("GET", "/v1/jackpots/{jackpot_id}"),
    ("GET", "/v1/jackpots/{jackpot_id}/drops"),
    ("GET", "/v1/tournaments"),
    ("GET", "/v1/tournaments/{tournament_id}"),
    ("GET", "/v1/tournaments/{tournament_id}/leaderboard"),
    ("GET", "/v1/games"),
}

# Routes that take neither a key nor a session: a PSP's callback and a KYC vendor's
# webhook, verified by their signature with the secret of the brand their reference names
# (isolation: tests/integration/wallet/test_callbacks.py, tests/integration/kyc/
# test_callbacks.py); a game aggregator's calls, verified by their
# signature, then by the game session token they name (isolation: the signed probes of
# tests/integration/test_white_label_isolation.py).
SIGNED: set[tuple[str, str]] = {
    ("POST", "/v1/psp/{adapter}/callback"),
    ("POST", "/v1/kyc/{adapter}/callback"),
    ("POST", "/v1/aggregator/sandbox/balance"),
    ("POST", "/v1/aggregator/sandbox/bet"),
    ("POST", "/v1/aggregator/sandbox/win"),
    ("POST", "/v1/aggregator/sandbox/rollback"),
    ("POST", "/v1/aggregator/hub88/user/balance"),
    ("POST", "/v1/aggregator/hub88/transaction/bet"),
    ("POST", "/v1/aggregator/hub88/transaction/win"),
    ("POST", "/v1/aggregator/hub88/transaction/rollback"),
}

# Path parameters: real-looking values; a scope is checked before anything is looked up.
PATH_VALUES = {"key": "alice", "lootbox_id": "00000000-0000-4000-8000-000000000001",
               "raffle_id": "00000000-0000-4000-8000-000000000002",
               "jackpot_id": "00000000-0000-4000-8000-000000000003",
               "mini_game_id": "00000000-0000-4000-8000-000000000004",
               "webhook_id": "00000000-0000-4000-8000-000000000005",
               "delivery_id": "00000000-0000-4000-8000-000000000006",
               "template_id": "00000000-0000-4000-8000-000000000007",
               "promotion_id": "00000000-0000-4000-8000-00000000000b",
               "bonus_id": "00000000-0000-4000-8000-000000000008", "slug": "main",
               "segment_id": "00000000-0000-4000-8000-000000000009",
               "campaign_id": "00000000-0000-4000-8000-00000000000a",
               "journey_id": "00000000-0000-4000-8000-00000000000c",
               "tournament_id": "00000000-0000-4000-8000-00000000000d",
               "session_id": "00000000-0000-4000-8000-00000000000e",
               "deposit_id": "00000000-0000-4000-8000-00000000000f",
               "withdrawal_id": "00000000-0000-4000-8000-000000000010",
               "adapter": "sandbox", "game_id": "sandbox-slot", "rail": "winz",
               "asset": "WINZ"}


@pytest.fixture
async def kyc_vendor() -> AsyncIterator[str]:
    """The sandbox KYC vendor, served in this process: a player's own verification
    (``POST /v1/player/kyc/start``) reaches a vendor that answers."""
    async with serving(SandboxKyc(Options(secret=DEVELOPMENT_SANDBOX_KYC_SECRET)).app()) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def settings(kyc_vendor: str) -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=10, sandbox_kyc_url=kyc_vendor)


def concrete(template: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: PATH_VALUES[m.group(1)], template)


async def call(client: httpx.AsyncClient, key: str, method: str, template: str) -> httpx.Response:
    """One request to ``template``; writes carry an empty JSON object."""
    path = concrete(template)
    if method in ("GET", "DELETE"):
        return await client.request(method, path, headers=bearer(key))
    return await client.request(method, path, headers=bearer(key), json={})


def every_scope_but(scope: str) -> list[str]:
    return sorted(SCOPES - {"*", scope})


def test_every_v1_route_declares_its_scope() -> None:
    app = create_app(Settings(admin_token=ADMIN_TOKEN),
                     database_url="postgresql://nobody@127.0.0.1:1/none")
    routes = v1_routes(app)
    assert ("POST", "/v1/players/{key}/rg") in routes
    declared = [set(REQUIRED_SCOPE), OPEN, set(WHITE_LABEL_SCOPE), SESSION, SIGNED]
    every = set().union(*declared)
    assert sum(len(d) for d in declared) == len(every), "a route is declared twice"
    missing = sorted(routes - every)
    stale = sorted(every - routes)
    assert not missing, f"/v1 routes with no declared scope (nor listed as open): {missing}"
    assert not stale, f"scopes declared for routes that no longer exist: {stale}"
    assert every - SESSION - SIGNED >= PUBLIC
    unknown = sorted(set(REQUIRED_SCOPE.values()) - SCOPES)
    assert not unknown, f"scopes the platform does not know: {unknown}"


async def test_a_key_without_the_routes_scope_is_refused_on_every_route(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    keys = {scope: (await create_key(client, tenant, every_scope_but(scope),
                                     name=f"all but {scope}"))["key"]
            for scope in sorted(set(REQUIRED_SCOPE.values()))}
    problems = []
    for (method, template), scope in sorted(REQUIRED_SCOPE.items()):
        r = await call(client, keys[scope], method, template)
        if r.status_code != 403 or r.json().get("code") != "SCOPE_DENIED":
            problems.append(f"{method} {template} without {scope}: {r.status_code} {r.text[:200]}")
            continue
        payload = assert_error(r, 403, "SCOPE_DENIED")
        assert scope in payload["error"], payload
    assert not problems, "\n".join(problems)


async def test_a_key_with_only_the_routes_scope_is_not_refused_for_scope(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    keys = {scope: (await create_key(client, tenant, [scope], name=f"only {scope}"))["key"]
            for scope in sorted(set(REQUIRED_SCOPE.values()))}
    problems = []
    for (method, template), scope in sorted(REQUIRED_SCOPE.items()):
        r = await call(client, keys[scope], method, template)
        if r.status_code in (401, 403) or r.status_code >= 500:
            problems.append(f"{method} {template} with only {scope}: "
                            f"{r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)


async def test_open_routes_answer_a_key_with_an_unrelated_scope(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    key = (await create_key(client, tenant, ["audit:read"], name="audit only"))["key"]
    for method, template in sorted(OPEN):
        r = await call(client, key, method, template)
        assert r.status_code == 200, f"{method} {template}: {r.status_code} {r.text[:200]}"
    me: dict[str, Any] = (await client.get("/v1/me", headers=bearer(key))).json()
    assert me["tenant"]["scopes"] == ["audit:read"]


async def test_the_wildcard_scope_allows_every_route(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    problems = []
    for (method, template) in sorted(REQUIRED_SCOPE):
        r = await call(client, tenant.test_key, method, template)
        if r.status_code in (401, 403) or r.status_code >= 500:
            problems.append(f"{method} {template} with *: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)


# --- white-label keys, player sessions, publishable keys ---------------------------------

async def test_white_label_routes_need_their_scope(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    problems = []
    for (method, template), scope in sorted(WHITE_LABEL_SCOPE.items()):
        without = (await create_key(client, wl, every_scope_but(scope)))["key"]
        only = (await create_key(client, wl, [scope]))["key"]
        r = await call(client, without, method, template)
        if r.status_code != 403 or r.json().get("code") != "SCOPE_DENIED":
            problems.append(f"{method} {template} without {scope}: {r.status_code} {r.text}")
        # a publishable key reaches the public ones only (the walk below checks the rest
        # refuse it)
        public = [wl.publishable["test"]] if (method, template) in PUBLIC else []
        for key in (only, *public):
            r = await call(client, key, method, template)
            if r.status_code in (401, 403) or r.status_code >= 500:
                problems.append(f"{method} {template}: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)


async def test_player_session_routes_take_a_session_and_no_key(
    client: httpx.AsyncClient,
) -> None:
    wl = await make_white_label(client)
    session = await player_session(wl, "alice")
    keys = [wl.test_key, wl.publishable["test"],
            (await create_key(client, wl, ["*"], mode="live"))["key"]]
    problems = []
    # the logout ends the session the others use: it goes last
    for method, template in sorted(SESSION, key=lambda r: (r[1] == "/v1/auth/logout",
                                                                  r)):
        path = concrete(template)
        for key in keys:
            r = await call(client, key, method, template)
            if r.status_code != 401 or r.json().get("code") != "AUTH_INVALID":
                problems.append(f"{method} {template} with a key: {r.status_code} {r.text}")
        r = await client.request(method, path, **({} if method == "GET" else {"json": {}}))
        if r.status_code != 401 or r.json().get("code") != "AUTH_REQUIRED":
            problems.append(f"{method} {template} with nothing: {r.status_code} {r.text}")
        r = await client.request(method, path, headers=session,
                                 **({} if method == "GET" else {"json": {}}))
        if r.status_code in (401, 403) or r.status_code >= 500:
            problems.append(f"{method} {template} with a session: {r.status_code} {r.text}")
    assert not problems, "\n".join(problems)


async def publishable_walk(wl: WhiteLabel) -> tuple[set[tuple[str, str]], list[str]]:
    """Every ``/v1`` route called with ``wl``'s publishable key: the routes that let it
    through, and every refusal that is not the one expected."""
    app = create_app(Settings(admin_token=ADMIN_TOKEN),
                     database_url="postgresql://nobody@127.0.0.1:1/none")
    reached, problems = set(), []
    for method, template in sorted(v1_routes(app) - SIGNED):
        r = await call(wl.client, wl.publishable["test"], method, template)
        if r.status_code >= 500:
            problems.append(f"{method} {template}: {r.status_code} {r.text[:200]}")
        elif (method, template) in SESSION:
            if r.status_code != 401 or r.json().get("code") != "AUTH_INVALID":
                problems.append(f"{method} {template}: {r.status_code} {r.text[:200]}")
        elif r.status_code == 403 and r.json().get("code") == "SCOPE_DENIED":
            continue
        elif r.status_code in (401, 403):
            problems.append(f"{method} {template}: {r.status_code} {r.text[:200]}")
        else:
            reached.add((method, template))
    return reached, problems


async def test_a_publishable_key_reaches_exactly_the_public_routes(
    client: httpx.AsyncClient,
) -> None:
    """Walks the app: every write and every player read refuses a publishable key with
    403 ``SCOPE_DENIED`` (401 on the session routes); what it reaches is ``PUBLIC``."""
    wl = await make_white_label(client)
    await player_session(wl, "alice")
    reached, problems = await publishable_walk(wl)
    assert not problems, "\n".join(problems)
    assert reached == PUBLIC, (f"reached but not public: {sorted(reached - PUBLIC)}; "
                               f"public but refused: {sorted(PUBLIC - reached)}")


async def test_white_label_routes_refuse_every_plug_in_key(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    """A plug-in tenant's ``*`` key gets 403 ``SCOPE_DENIED`` on all of the white-label
    back office (api.md §10)."""
    problems = []
    for (method, template) in sorted(WHITE_LABEL_SCOPE):
        r = await call(client, tenant.test_key, method, template)
        if r.status_code != 403 or r.json().get("code") != "SCOPE_DENIED":
            problems.append(f"{method} {template} for plug_in: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)


async def test_signed_routes_take_no_key_and_refuse_what_is_not_signed(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    wl = await make_white_label(client, "signedwl")
    problems = []
    for (method, template) in sorted(SIGNED):
        for headers in ({}, bearer(wl.test_key), bearer(tenant.test_key)):
            # a body naming no reference of ours: refused before anything, whatever the key
            r = await client.request(method, concrete(template), headers=headers,
                                     json={"reference": "dep_test_nothing"})
            if r.status_code not in (400, 401, 404):
                problems.append(f"{method} {template}: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)


async def test_aggregator_routes_take_no_key_and_refuse_what_is_not_signed(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    wl = await make_white_label(client, "aggregatorwl")
    problems = []
    for (method, template) in sorted(r for r in SIGNED if r[1].startswith("/v1/aggregator/")):
        for headers in ({}, bearer(wl.test_key), bearer(wl.publishable["test"]),
                        bearer(tenant.test_key)):
            # a key is no signature: refused before the body is read
            r = await client.request(method, concrete(template), headers=headers,
                                     json={"token": "wgs_test_" + "0" * 48})
            code = r.json().get("code") if r.status_code != 200 else None
            if r.status_code != 401 or code not in ("INVALID_SIGNATURE",
                                                    "RS_ERROR_INVALID_SIGNATURE"):
                problems.append(f"{method} {template}: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)
