"""Realm isolation for every ``/v1`` route: another tenant, or the same tenant's other
mode, sees nothing of a realm's players and objects and changes nothing in it.

The case table below names one concrete request per route template. The routes are
enumerated from the app, so a new ``/v1`` endpoint without a case fails
``test_every_v1_route_has_an_isolation_case`` until it gets one.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import ADMIN, ADMIN_TOKEN, Tenant
from tests.integration.support import adjust, assert_error
from tests.integration.wl_support import PASSWORD, WhiteLabel, make_white_label, registration
from wowsino.api import create_app
from wowsino.kernel.config import Settings

PRIZES = [{"segment_label": "coins", "weight": 9, "asset": "WINZ", "amount": 10},
          {"segment_label": "xp", "weight": 1, "asset": "XP", "amount": 5}]
VICTIM_PLAYER = {"username": "alice", "email": "alice@victim.example", "country_code": "MT",
                 "tags": ["vip"]}
WAGER = {"user_id": "alice", "source_wager_id": "wager-1", "amount": 1, "currency": "USD"}
WELCOME = {"name": "Welcome", "type": "no_deposit", "amount": 5, "promo_code": "WELCOME",
           "wagering_multiple": 10}
VIP = {"xp_per_unit": 10, "xp_daily_cap": 1000, "timezone": "UTC", "cashback_period": "daily",
       "cashback_as": "real", "levels": [{"level": 1, "name": "Base", "xp_required": 0},
                                         {"level": 2, "name": "Up", "xp_required": 5}]}
JOURNEY = {"name": "Probe journey", "entry_trigger": "signup", "steps": [{"trigger": "wager"}],
           "reward_winz": 5}
TOURNAMENT = {"name": "Probe race", "scoring": "sum_wagered",
              "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-08T00:00:00Z",
              "prize_table": [{"rank_from": 1, "rank_to": 1,
                               "prize": {"asset": "WINZ", "amount": 100}}]}
NOT_FOUND_CODE = re.compile(r"^(NOT_FOUND|NO_[A-Z_]+)$")
# metering of API calls (flushed by /v1/usage) and, with the PostgreSQL store, rate-limit
# buckets: every request of any realm moves them
UNTRACKED_TABLES = {"usage_counters", "rate_limit_buckets"}


@dataclass
class Victim:
    """The first tenant's test realm: a player and one object of every kind."""

    tenant: Tenant
    ids: dict[str, str]

    def markers(self) -> set[str]:
        return set(self.ids.values())


@dataclass
class Caller:
    label: str
    tenant: Tenant
    mode: str
    own: dict[str, str] = field(default_factory=dict)  # the caller's objects bodies name

    async def send(self, method: str, path: str, body: Any, key: str) -> httpx.Response:
        headers = {**self.tenant.headers(self.mode), "Idempotency-Key": key}
        if method in ("GET", "DELETE"):
            return await self.tenant.client.request(method, path, headers=headers)
        return await self.tenant.client.request(method, path, headers=headers,
                                                json=self.fill(body))

    def fill(self, body: Any) -> Any:
        """``body`` with each ``"<own:name>"`` replaced by the caller's own object's id."""
        if isinstance(body, dict):
            return {k: self.fill(v) for k, v in body.items()}
        if isinstance(body, str) and body.startswith("<own:"):
            return self.own[body[5:-1]]
        return body


Check = Callable[[Caller, httpx.Response], Awaitable[list[str]]]


@dataclass
class Case:
    """One route's probe. ``body`` is valid, so only the realm can make it fail."""

    body: dict[str, Any] | None = None
    check: Check | None = None
    extra: list[str] = field(default_factory=list)
    # addressed by a tenant-level name (a brand): the same tenant's other mode may see
    # it, yet must still change nothing in the victim's realm
    tenant_level: bool = False
    # probed after every other case (a logout ends the session the others use)
    last: bool = False


async def check_me(caller: Caller, r: httpx.Response) -> list[str]:
    me = r.json()
    if me["tenant"]["slug"] != caller.tenant.slug or me["tenant"]["key_mode"] != caller.mode:
        return [f"/v1/me described another key: {me}"]
    return []


async def check_usage(caller: Caller, r: httpx.Response) -> list[str]:
    # the caller's own realm has exactly one active player (its own alice), and a key
    # reads its own mode only
    usage = r.json()
    if set(usage) != {"month", caller.mode}:
        return [f"/v1/usage showed another mode: {sorted(usage)}"]
    seen = usage[caller.mode]["monthly_active_players"]
    return [] if seen == 1 else [f"/v1/usage counted {seen} active players, not 1"]


async def check_budget(caller: Caller, r: httpx.Response) -> list[str]:
    # the caller's realm has the budget it set itself, never the victim's USD one
    monthly = r.json()["budget"]["monthly"]
    return [] if "USD" not in monthly else [f"/v1/crm/budget showed another realm's: {monthly}"]


CAMPAIGN_ACTION = {"type": "grant_winz", "amount": 5}
CASES: dict[tuple[str, str], Case] = {
    ("GET", "/v1/openapi.json"): Case(),
    ("GET", "/v1/me"): Case(check=check_me),
    ("GET", "/v1/usage"): Case(check=check_usage),
    ("GET", "/v1/audit"): Case(),
    # players
    ("POST", "/v1/players"): Case(body=VICTIM_PLAYER),
    ("GET", "/v1/players"): Case(),
    ("GET", "/v1/players/{key}"): Case(),
    ("PATCH", "/v1/players/{key}/status"): Case(body={"status": "closed", "reason": "probe"}),
    ("POST", "/v1/players/{key}/rg"): Case(body={"deposit_daily_limit": 5}),
    ("POST", "/v1/players/{key}/adjustments"): Case(
        body={"rail": "winz", "asset": "WINZ", "amount": 5, "reason": "probe"}),
    ("GET", "/v1/players/{key}/timeline"): Case(),
    ("GET", "/v1/players/{key}/ledger"): Case(),
    ("GET", "/v1/players/{key}/balances/{rail}/{asset}/explain"): Case(),
    ("GET", "/v1/players/{key}/fairness"): Case(),
    ("PUT", "/v1/players/{key}/fairness"): Case(body={"client_seed": "probe-seed"}),
    # lootboxes
    ("GET", "/v1/lootbox"): Case(),
    ("POST", "/v1/lootbox"): Case(body={"name": "Probe box", "prize_table": PRIZES}),
    ("GET", "/v1/lootbox/{lootbox_id}"): Case(),
    ("PATCH", "/v1/lootbox/{lootbox_id}"): Case(body={"name": "renamed"}),
    ("POST", "/v1/lootbox/{lootbox_id}/pause"): Case(body={}),
    ("POST", "/v1/lootbox/{lootbox_id}/resume"): Case(body={}),
    ("POST", "/v1/lootbox/{lootbox_id}/open"): Case(body={"user_id": "alice"}),
    ("GET", "/v1/lootbox/{lootbox_id}/opens"): Case(),
    # raffles
    ("GET", "/v1/raffles"): Case(),
    ("POST", "/v1/raffles"): Case(body={"name": "Probe raffle", "ticket_cost_winz": 10,
                                        "prize_winz": 100}),
    ("GET", "/v1/raffles/{raffle_id}"): Case(),
    ("PATCH", "/v1/raffles/{raffle_id}"): Case(body={"name": "renamed"}),
    ("POST", "/v1/raffles/{raffle_id}/pause"): Case(body={}),
    ("POST", "/v1/raffles/{raffle_id}/resume"): Case(body={}),
    ("POST", "/v1/raffles/{raffle_id}/enter"): Case(body={"user_id": "alice", "tickets": 1}),
    ("GET", "/v1/raffles/{raffle_id}/tickets"): Case(),
    ("GET", "/v1/raffles/{raffle_id}/entries/{key}"): Case(),
    ("POST", "/v1/raffles/{raffle_id}/draw"): Case(body={}),
    # jackpots
    ("GET", "/v1/jackpots"): Case(),
    ("POST", "/v1/jackpots"): Case(body={"name": "Probe pot", "currency": "USD",
                                         "seed_usd": 50, "contribution_pct": 1}),
    ("GET", "/v1/jackpots/{jackpot_id}"): Case(),
    ("PATCH", "/v1/jackpots/{jackpot_id}"): Case(body={"name": "renamed"}),
    ("POST", "/v1/jackpots/{jackpot_id}/pause"): Case(body={}),
    ("POST", "/v1/jackpots/{jackpot_id}/resume"): Case(body={}),
    ("POST", "/v1/jackpots/{jackpot_id}/contribute"): Case(
        body={"user_id": "alice", "source_wager_id": "wager-1", "amount": 10}),
    ("POST", "/v1/jackpots/{jackpot_id}/drop"): Case(body={}),
    ("GET", "/v1/jackpots/{jackpot_id}/drops"): Case(),
    # mini-games
    ("GET", "/v1/mini-games"): Case(),
    ("POST", "/v1/mini-games"): Case(body={"name": "Probe wheel", "kind": "wheel",
                                           "prize_table": PRIZES}),
    ("GET", "/v1/mini-games/{mini_game_id}"): Case(),
    ("PATCH", "/v1/mini-games/{mini_game_id}"): Case(body={"name": "renamed"}),
    ("POST", "/v1/mini-games/{mini_game_id}/pause"): Case(body={}),
    ("POST", "/v1/mini-games/{mini_game_id}/resume"): Case(body={}),
    ("POST", "/v1/mini-games/{mini_game_id}/play"): Case(body={"user_id": "alice"}),
    ("GET", "/v1/mini-games/{mini_game_id}/plays"): Case(),
    # tournaments
    ("GET", "/v1/tournaments"): Case(),
    ("POST", "/v1/tournaments"): Case(body=TOURNAMENT),
    ("GET", "/v1/tournaments/{tournament_id}"): Case(),
    ("PATCH", "/v1/tournaments/{tournament_id}"): Case(body={"name": "renamed"}),
    ("POST", "/v1/tournaments/{tournament_id}/pause"): Case(body={}),
    ("POST", "/v1/tournaments/{tournament_id}/resume"): Case(body={}),
    ("POST", "/v1/tournaments/{tournament_id}/join"): Case(body={"user_id": "alice"}),
    ("POST", "/v1/tournaments/{tournament_id}/score"): Case(
        body={"user_id": "alice", "source_wager_id": "wager-9", "amount": 1}),
    ("GET", "/v1/tournaments/{tournament_id}/leaderboard"): Case(),
    ("POST", "/v1/tournaments/{tournament_id}/close"): Case(body={}),
    # webhooks
    ("POST", "/v1/webhooks"): Case(body={"url": "https://hooks.example.com/probe",
                                         "events": ["*"]}),
    ("GET", "/v1/webhooks"): Case(),
    ("GET", "/v1/webhooks/{webhook_id}"): Case(),
    ("PATCH", "/v1/webhooks/{webhook_id}"): Case(body={"description": "renamed"}),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Case(),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): Case(),
    ("POST", "/v1/webhooks/{webhook_id}/ping"): Case(body={}),
    ("POST", "/v1/webhook-deliveries/{delivery_id}/redeliver"): Case(body={}),
    # the wager spine
    ("POST", "/v1/events/wager"): Case(body=WAGER),
    ("POST", "/v1/events/wager:batch"): Case(body={"events": [
        {**WAGER, "source_wager_id": "wager-2"}]}),
    ("POST", "/v1/events/wager-rollback"): Case(body={"source_wager_id": "wager-1"}),
    ("POST", "/v1/events/deposit"): Case(body={"user_id": "alice", "source_deposit_id": "dep-1",
                                               "amount": 10, "currency": "USD"}),
    # bonuses
    ("GET", "/v1/bonus-templates"): Case(),
    ("POST", "/v1/bonus-templates"): Case(body={"name": "Probe", "type": "no_deposit",
                                                "amount": 1}),
    ("GET", "/v1/bonus-templates/{template_id}"): Case(),
    ("GET", "/v1/bonus-templates/{promotion_id}/drops/wins"): Case(),
    ("PATCH", "/v1/bonus-templates/{template_id}"): Case(body={"name": "renamed"}),
    ("POST", "/v1/bonus-templates/{template_id}/pause"): Case(body={}),
    ("POST", "/v1/bonus-templates/{template_id}/resume"): Case(body={}),
    ("POST", "/v1/bonus-templates/{template_id}/simulate"): Case(
        body={"bet_size": 1, "players": 100}),
    ("POST", "/v1/bonuses/grant"): Case(body={"player_id": "alice", "template": "WELCOME"}),
    ("POST", "/v1/bonuses/{bonus_id}/forfeit"): Case(body={"reason": "probe"}),
    ("POST", "/v1/bonuses/{bonus_id}/cancel"): Case(body={}),
    ("POST", "/v1/bonuses/{bonus_id}/free-spins/settle"): Case(body={"win_amount": 1}),
    ("GET", "/v1/players/{key}/bonuses"): Case(),
    # compliance
    ("GET", "/v1/brands/{slug}/jurisdiction"): Case(tenant_level=True),
    ("PUT", "/v1/brands/{slug}/jurisdiction"): Case(body={"profile": "GB"}, tenant_level=True),
    # CRM
    ("POST", "/v1/segments"): Case(body={"name": "Probe", "expression": "has_tag('vip')"}),
    ("GET", "/v1/segments"): Case(),
    ("GET", "/v1/segments/{segment_id}"): Case(),
    ("PATCH", "/v1/segments/{segment_id}"): Case(body={"name": "renamed"}),
    ("DELETE", "/v1/segments/{segment_id}"): Case(),
    ("GET", "/v1/segments/{segment_id}/preview"): Case(),
    ("POST", "/v1/campaigns"): Case(body={"name": "Probe", "segment_id": "<own:segment_id>",
                                          "action": CAMPAIGN_ACTION}),
    ("GET", "/v1/campaigns"): Case(),
    ("GET", "/v1/campaigns/{campaign_id}"): Case(),
    ("PATCH", "/v1/campaigns/{campaign_id}"): Case(body={"name": "renamed"}),
    ("POST", "/v1/campaigns/{campaign_id}/pause"): Case(body={}),
    ("POST", "/v1/campaigns/{campaign_id}/resume"): Case(body={}),
    ("POST", "/v1/campaigns/{campaign_id}/dry-run"): Case(body={}),
    ("POST", "/v1/campaigns/{campaign_id}/run"): Case(body={}),
    ("GET", "/v1/campaigns/{campaign_id}/runs"): Case(),
    ("POST", "/v1/campaigns/{campaign_id}/backtest"): Case(body={"days": 7}),
    ("PUT", "/v1/crm/budget"): Case(body={"monthly": {"WINZ": 1000}}),
    ("GET", "/v1/crm/budget"): Case(check=check_budget),
    # VIP
    ("GET", "/v1/vip"): Case(),
    ("PUT", "/v1/vip"): Case(body=VIP),
    ("GET", "/v1/players/{key}/vip"): Case(),
    # journeys
    ("GET", "/v1/journeys"): Case(),
    ("POST", "/v1/journeys"): Case(body=JOURNEY),
    ("GET", "/v1/journeys/{journey_id}"): Case(),
    ("PATCH", "/v1/journeys/{journey_id}"): Case(body={"name": "renamed"}),
    ("POST", "/v1/journeys/{journey_id}/pause"): Case(body={}),
    ("POST", "/v1/journeys/{journey_id}/resume"): Case(body={}),
    ("POST", "/v1/journeys/event"): Case(body={"user_id": "alice", "trigger": "signup"}),
    ("GET", "/v1/players/{key}/journeys"): Case(),
}


# Routes a white-label player calls: with the player's session (``/v1/player/*``, the
# logout), or, for registration and login, with the brand's publishable key. They are
# probed by white-label callers (``SessionCaller``) against a white-label victim.
SESSION_CASES: dict[tuple[str, str], Case] = {
    ("POST", "/v1/auth/register"): Case(body={
        "username": "carol", "email": "carol@caller.example", "password": PASSWORD,
        "country_code": "MT", "date_of_birth": "1990-01-01"}),
    ("POST", "/v1/auth/login"): Case(body={"username": "alice", "password": PASSWORD}),
    ("POST", "/v1/auth/logout"): Case(body={}, last=True),
    ("GET", "/v1/player/sessions"): Case(),
    ("POST", "/v1/player/sessions/{session_id}/revoke"): Case(body={}),
    ("GET", "/v1/player/bonuses"): Case(),
    ("POST", "/v1/player/bonuses/claim"): Case(body={"promo_code": "WELCOME"}),
    ("POST", "/v1/player/bonuses/{bonus_id}/cancel"): Case(body={}),
    ("GET", "/v1/player/vip"): Case(),
    ("GET", "/v1/player/journeys"): Case(),
    ("GET", "/v1/player/lootboxes"): Case(),
    ("POST", "/v1/player/lootboxes/{lootbox_id}/open"): Case(body={}),
    ("GET", "/v1/player/mini-games"): Case(),
    ("POST", "/v1/player/mini-games/{mini_game_id}/play"): Case(body={}),
    ("GET", "/v1/player/raffles"): Case(),
    ("POST", "/v1/player/raffles/{raffle_id}/enter"): Case(body={"tickets": 1}),
    ("GET", "/v1/player/raffles/{raffle_id}/entries"): Case(),
    ("GET", "/v1/player/tournaments"): Case(),
    ("POST", "/v1/player/tournaments/{tournament_id}/join"): Case(body={}),
    ("GET", "/v1/player/tournaments/{tournament_id}/leaderboard"): Case(),
    ("GET", "/v1/player/jackpots"): Case(),
}


# --- routes of white-label players ------------------------------------------------------
# Taken with a player session (``/v1/player/*``, logout) or the brand's site key (register,
# login): never with an API key, so the key probes above do not call them. A player of
# another brand, mode or tenant, and another player of the same brand, call each below:
# each acts on its own account only, and none ever sees or changes the victim's.

VICTIM_PASSWORD = "the victim's own passphrase"
CALLER_PASSWORD = "a caller's own passphrase"


@dataclass
class PlayerCase:
    """One route's probe by another player. ``elsewhere``: the status expected from a
    player of another brand, mode or tenant (None: any success); ``here``: from another
    player of the same brand (None: any success; ``0``: not probed from there)."""

    body: dict[str, Any] | None = None
    site: bool = False  # called with the brand's publishable key, not a session
    elsewhere: int | None = None
    here: int | None = None


PLAYER_CASES: dict[tuple[str, str], PlayerCase] = {
    # a newcomer with the victim's email address: free in any other brand or realm
    ("POST", "/v1/auth/register"): PlayerCase(site=True, body={
        "username": "newcomer", "email": VICTIM_PLAYER["email"], "password": CALLER_PASSWORD,
        "country_code": "MT", "date_of_birth": "1990-01-01"}, elsewhere=201, here=409),
    # the victim's own credentials open nothing but the victim's brand and realm
    ("POST", "/v1/auth/login"): PlayerCase(site=True, body={
        "username": "alice", "password": VICTIM_PASSWORD}, elsewhere=401, here=0),
    ("POST", "/v1/auth/logout"): PlayerCase(body={}),
    ("GET", "/v1/player/sessions"): PlayerCase(),
    ("POST", "/v1/player/sessions/{session_id}/revoke"): PlayerCase(body={}),
    ("GET", "/v1/player/profile"): PlayerCase(),
    # the address of another player of the victim's brand: taken there only
    ("PATCH", "/v1/player/profile"): PlayerCase(body={
        "email": "carol@victim.example", "current_password": CALLER_PASSWORD}, here=409),
    ("POST", "/v1/player/password"): PlayerCase(body={
        "current_password": CALLER_PASSWORD, "new_password": CALLER_PASSWORD}),
    ("GET", "/v1/player/balances"): PlayerCase(),
    ("GET", "/v1/player/limits"): PlayerCase(),
    ("POST", "/v1/player/limits"): PlayerCase(body={"deposit_daily_limit": 5}),
    ("POST", "/v1/player/timeout"): PlayerCase(body={"period": "24h"}),
    ("POST", "/v1/player/self-exclude"): PlayerCase(body={"period": "6m"}),
}
# these end the caller's session: run last, logging in again after a logout
SESSION_ENDING = [("POST", "/v1/auth/logout"), ("POST", "/v1/player/self-exclude")]


def tenant_level_ids(victim: Victim) -> set[str]:
    """Ids of tenant-level objects (brand slugs), shared by both modes of a tenant."""
    return {victim.ids["slug"]} if "slug" in victim.ids else set()


def v1_routes(app: Any) -> set[tuple[str, str]]:
    """Every ``(method, path template)`` the app serves under ``/v1``."""
    try:  # FastAPI versions that keep included routers nested
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - flat route lists
        routes = app.routes
    found = set()
    for route in routes:
        # the template as documented: without convertors ({journey_id}, not {journey_id:…})
        path = getattr(route, "path_format", None) or getattr(route, "path", None) or ""
        if path == "/v1" or path.startswith("/v1/"):
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    found.add((method, path))
    return found


def test_every_v1_route_has_an_isolation_case() -> None:
    app = create_app(Settings(admin_token=ADMIN_TOKEN),
                     database_url="postgresql://nobody@127.0.0.1:1/none")
    from tests.integration.test_scopes import SESSION, SIGNED, WHITE_LABEL_SCOPE

    # the white-label routes have their own cases (test_white_label_isolation.py), the
    # signed PSP callbacks theirs (wallet/test_callbacks.py), the game aggregators' calls
    # theirs (test_white_label_isolation.py)
    routes = v1_routes(app) - WHITE_LABEL_SCOPE.keys() - SESSION - SIGNED
    assert ("GET", "/v1/players/{key}") in routes
    assert SESSION_CASES.keys() | PLAYER_CASES.keys() <= SESSION | WHITE_LABEL_SCOPE.keys()
    missing = sorted(routes - CASES.keys())
    stale = sorted(CASES.keys() - routes)
    assert not missing, f"/v1 routes without an isolation case: {missing}"
    assert not stale, f"isolation cases for routes that no longer exist: {stale}"


def victim_key(method: str, template: str) -> str:
    """The idempotency key the victim used on a route; callers reuse it."""
    return f"victim:{method}:{template}"  # visible ASCII: a key has no spaces


VICTIM_DROPS = {"name": "Victim drops", "type": "drops", "drop_rate": "0.5", "currency": "USD",
                "prizes": [{"amount": "1.00", "count": 1}]}


async def victim_write(tenant: Tenant, method: str, template: str, path: str,
                       payload: Any) -> dict[str, Any]:
    headers = {**tenant.headers(), "Idempotency-Key": victim_key(method, template)}
    r = await tenant.client.request(method, path, json=payload, headers=headers)
    assert r.status_code in (200, 201), f"{method} {path}: {r.text}"
    result: dict[str, Any] = r.json()
    return result


async def build_victim(tenant: Tenant) -> Victim:
    """A realm with a funded player and one of every object, each touched once."""
    player = await victim_write(tenant, "POST", "/v1/players", "/v1/players", VICTIM_PLAYER)
    ids = {"key": player["player"]["user_id"]}
    for r in (await adjust(tenant, "alice", "1000", rail="winz", asset="WINZ", key="fund-w"),
              await adjust(tenant, "alice", "100.00", key="fund-usd")):
        assert r.status_code == 201, r.text
    await victim_write(tenant, "PATCH", "/v1/players/{key}/status", "/v1/players/alice/status",
                       {"status": "active", "reason": "kyc reviewed"})
    await victim_write(tenant, "POST", "/v1/players/{key}/rg", "/v1/players/alice/rg",
                       {"loss_daily_limit": 50})
    await victim_write(tenant, "PUT", "/v1/players/{key}/fairness",
                       "/v1/players/alice/fairness", {"client_seed": "victim-seed"})

    made = await victim_write(tenant, "POST", "/v1/lootbox", "/v1/lootbox",
                              {"name": "Victim box", "prize_table": PRIZES})
    ids["lootbox_id"] = made["lootbox"]["id"]
    await victim_write(tenant, "POST", "/v1/lootbox/{lootbox_id}/open",
                       f"/v1/lootbox/{ids['lootbox_id']}/open", {"user_id": "alice"})

    made = await victim_write(tenant, "POST", "/v1/raffles", "/v1/raffles",
                              {"name": "Victim raffle", "ticket_cost_winz": 10,
                               "prize_winz": 100})
    ids["raffle_id"] = made["raffle"]["id"]
    await victim_write(tenant, "POST", "/v1/raffles/{raffle_id}/enter",
                       f"/v1/raffles/{ids['raffle_id']}/enter", {"user_id": "alice", "tickets": 2})

    made = await victim_write(tenant, "POST", "/v1/jackpots", "/v1/jackpots",
                              {"name": "Victim pot", "currency": "USD", "seed_usd": 50,
                               "contribution_pct": 1})
    ids["jackpot_id"] = made["jackpot"]["id"]
    await victim_write(tenant, "POST", "/v1/jackpots/{jackpot_id}/contribute",
                       f"/v1/jackpots/{ids['jackpot_id']}/contribute",
                       {"user_id": "alice", "source_wager_id": "wager-1", "amount": 10})

    made = await victim_write(tenant, "POST", "/v1/mini-games", "/v1/mini-games",
                              {"name": "Victim wheel", "kind": "wheel", "prize_table": PRIZES})
    ids["mini_game_id"] = made["mini_game"]["id"]
    await victim_write(tenant, "POST", "/v1/mini-games/{mini_game_id}/play",
                       f"/v1/mini-games/{ids['mini_game_id']}/play", {"user_id": "alice"})

    made = await victim_write(tenant, "POST", "/v1/tournaments", "/v1/tournaments", TOURNAMENT)
    ids["tournament_id"] = made["tournament"]["id"]
    await victim_write(tenant, "POST", "/v1/tournaments/{tournament_id}/join",
                       f"/v1/tournaments/{ids['tournament_id']}/join", {"user_id": "alice"})
    await victim_write(tenant, "POST", "/v1/tournaments/{tournament_id}/score",
                       f"/v1/tournaments/{ids['tournament_id']}/score",
                       {"user_id": "alice", "source_wager_id": "wager-9", "amount": 1})

    made = await victim_write(tenant, "POST", "/v1/webhooks", "/v1/webhooks",
                              {"url": "https://hooks.example.com/victim", "events": ["*"]})
    ids["webhook_id"] = made["webhook"]["id"]
    made = await victim_write(tenant, "POST", "/v1/webhooks/{webhook_id}/ping",
                              f"/v1/webhooks/{ids['webhook_id']}/ping", {})
    ids["delivery_id"] = made["delivery"]["id"]

    await victim_write(tenant, "PUT", "/v1/vip", "/v1/vip", VIP)
    made = await victim_write(tenant, "POST", "/v1/journeys", "/v1/journeys", JOURNEY)
    ids["journey_id"] = made["journey"]["id"]
    await victim_write(tenant, "POST", "/v1/journeys/event", "/v1/journeys/event",
                       {"user_id": "alice", "trigger": "signup"})
    await victim_write(tenant, "POST", "/v1/events/wager", "/v1/events/wager", WAGER)
    await victim_write(tenant, "POST", "/v1/events/deposit", "/v1/events/deposit",
                       {"user_id": "alice", "source_deposit_id": "dep-1", "amount": 10,
                        "currency": "USD"})
    made = await victim_write(tenant, "POST", "/v1/bonus-templates", "/v1/bonus-templates",
                              WELCOME)
    ids["template_id"] = made["template"]["id"]
    made = await victim_write(tenant, "POST", "/v1/bonus-templates#drops",
                              "/v1/bonus-templates", VICTIM_DROPS)
    ids["promotion_id"] = made["template"]["id"]
    made = await victim_write(tenant, "POST", "/v1/bonuses/grant", "/v1/bonuses/grant",
                              {"player_id": "alice", "template": "WELCOME"})
    ids["bonus_id"] = made["bonus"]["id"]
    r = await tenant.client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                                 json={"slug": "victim-site", "name": "Victim site"})
    assert r.status_code == 201, r.text
    ids["slug"] = "victim-site"
    await victim_write(tenant, "PUT", "/v1/brands/{slug}/jurisdiction",
                       "/v1/brands/victim-site/jurisdiction", {"profile": "GB"})
    made = await victim_write(tenant, "POST", "/v1/segments", "/v1/segments",
                              {"name": "Victim VIPs", "expression": "has_tag('vip')"})
    ids["segment_id"] = made["segment"]["id"]
    made = await victim_write(tenant, "POST", "/v1/campaigns", "/v1/campaigns", {
        "name": "Victim campaign", "segment_id": ids["segment_id"],
        "action": CAMPAIGN_ACTION, "schedule": {"cron": "0 10 * * 5", "tz": "Europe/Malta"}})
    ids["campaign_id"] = made["campaign"]["id"]
    await victim_write(tenant, "POST", "/v1/campaigns/{campaign_id}/run",
                       f"/v1/campaigns/{ids['campaign_id']}/run", {})
    await victim_write(tenant, "PUT", "/v1/crm/budget", "/v1/crm/budget",
                       {"monthly": {"USD": 500}})
    return Victim(tenant, ids)


async def realm_snapshot(engine: Any, tenant_id: str, mode: str,
                         players: int = 1) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every tenant table, for one realm (which
    holds ``players`` players)."""
    async with engine.connect() as conn:
        tables = (await conn.execute(text(
            "SELECT table_name, bool_or(column_name = 'mode') AS has_mode "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND column_name IN ('tenant_id', 'mode') GROUP BY table_name "
            "HAVING bool_or(column_name = 'tenant_id') ORDER BY table_name"))).all()
        snapshot = {}
        for table, has_mode in tables:
            if table in UNTRACKED_TABLES:
                continue
            where = "tenant_id = CAST(:t AS uuid)" + (" AND mode = :m" if has_mode else "")
            row = (await conn.execute(text(
                f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                f"FROM {table} x WHERE {where}"), {"t": tenant_id, "m": mode})).one()
            snapshot[table] = (int(row[0]), str(row[1]))
    assert snapshot["players"][0] == players
    return snapshot


# The balance a route names beside the player (``/balances/{rail}/{asset}/explain``): the
# victim's alice holds WINZ (her lootbox open and raffle entry), the caller's alice too.
BALANCE_PATH = {"rail": "winz", "asset": "WINZ"}


def concrete_requests(template: str, victim: Victim) -> Iterator[tuple[str, bool]]:
    """``(path, addresses_the_victim)``: every victim id in the template, and, for player
    routes, the caller's own player of the same username."""
    for name, value in BALANCE_PATH.items():  # which balance, not whose: no victim object
        template = template.replace(f"{{{name}}}", value)
    names = re.findall(r"{(\w+)}", template)
    path = template
    for name in names:
        assert name in victim.ids, f"no victim object for path parameter {{{name}}}"
        path = path.replace(f"{{{name}}}", victim.ids[name])
    yield path, bool(names)
    if names == ["key"]:
        yield template.replace("{key}", "alice"), False


async def probe(caller: Caller, victim: Victim, engine: Any,
                cases: dict[tuple[str, str], Case] = CASES) -> list[str]:
    """Call every route as ``caller``; list every leak, wrong answer or change."""
    problems: list[str] = []
    before = await realm_snapshot(engine, victim.tenant.id, "test")
    for (method, template), case in sorted(cases.items(),
                                           key=lambda item: (item[1].last, item[0][1])):
        for path, addresses_victim in concrete_requests(template, victim):
            where = f"{caller.label}: {method} {path}"
            r = await caller.send(method, path, case.body, victim_key(method, template))
            # brands are tenant-level: the same tenant's other mode knows their slugs
            same_tenant = caller.tenant is victim.tenant
            markers = victim.markers() - (tenant_level_ids(victim) if same_tenant else set())
            # an id the caller sent may be echoed back ("no lootbox '…'"); anything else leaks
            echoed = r.text
            for sent in markers & set(path.split("/")):
                echoed = echoed.replace(sent, "")
            leaked = sorted(m for m in markers if m in echoed)
            if leaked:
                problems.append(f"{where} leaked the victim's {leaked}: {r.text[:300]}")
            if addresses_victim and not (case.tenant_level and same_tenant):
                if r.status_code != 404 or not NOT_FOUND_CODE.match(r.json().get("code", "")):
                    problems.append(f"{where} answered {r.status_code}, not 404: {r.text[:300]}")
                    continue
                assert_error(r, 404)
            elif r.status_code >= 300:
                problems.append(f"{where} failed on the caller's own data: "
                                f"{r.status_code} {r.text[:300]}")
                continue
            elif r.headers.get("content-type", "").startswith("application/json"):
                payload = r.json()
                if isinstance(payload, dict) and payload.get("deduped") is True:
                    problems.append(f"{where} replayed a response from another realm")
                if case.check is not None:
                    problems += [f"{where}: {p}" for p in await case.check(caller, r)]
        after = await realm_snapshot(engine, victim.tenant.id, "test")
        changed = sorted(t for t in before if after.get(t) != before[t])
        if changed:
            problems.append(f"{caller.label}: {method} {template} changed the victim's "
                            f"tables {changed}")
            before = after
    return problems


async def prepare(caller: Caller) -> None:
    """The caller's realm gets its own player with the victim's username."""
    r = await caller.send("POST", "/v1/players",
                          {"username": "alice", "email": "alice@caller.example"}, "own-alice")
    assert r.status_code == 201, r.text
    r = await caller.send("POST", "/v1/bonus-templates", WELCOME, "own-welcome")
    assert r.status_code == 201, r.text
    r = await caller.send("POST", "/v1/segments", {"name": "Own", "expression": "true"},
                          "own-segment")
    assert r.status_code == 201, r.text
    caller.own["segment_id"] = r.json()["segment"]["id"]


async def test_another_tenants_test_key_sees_and_changes_nothing(
    tenant: Tenant, other_tenant: Tenant, engine: Any,
) -> None:
    victim = await build_victim(tenant)
    caller = Caller("other tenant, test key", other_tenant, "test")
    await prepare(caller)
    problems = await probe(caller, victim, engine)
    assert not problems, "\n".join(problems)


async def test_another_tenants_live_key_sees_and_changes_nothing(
    tenant: Tenant, other_tenant: Tenant, engine: Any,
) -> None:
    victim = await build_victim(tenant)
    caller = Caller("other tenant, live key", other_tenant, "live")
    await prepare(caller)
    problems = await probe(caller, victim, engine)
    assert not problems, "\n".join(problems)


async def test_the_same_tenants_live_key_sees_and_changes_nothing_of_test(
    tenant: Tenant, engine: Any,
) -> None:
    victim = await build_victim(tenant)
    caller = Caller("same tenant, live key", tenant, "live")
    await prepare(caller)
    problems = await probe(caller, victim, engine)
    assert not problems, "\n".join(problems)


async def test_the_victim_still_sees_its_own_objects(tenant: Tenant, engine: Any) -> None:
    """The probes above are meaningful: the same requests with the victim's key succeed."""
    victim = await build_victim(tenant)
    owner = Caller("victim", tenant, "test")
    for (method, template), case in sorted(CASES.items(), key=lambda item: item[0][1]):
        if method != "GET":
            continue
        for path, addresses_victim in concrete_requests(template, victim):
            if not addresses_victim:
                continue
            r = await owner.send(method, path, case.body, "unused")
            assert r.status_code == 200, f"{method} {path}: {r.text}"
            if template.endswith("}"):  # the object itself
                assert path.rsplit("/", 1)[-1] in r.text, f"{method} {path}: {r.text}"


# --- white-label players: their session routes and their site's auth routes ----------------

@dataclass
class SessionCaller(Caller):
    """A white-label caller: its player ``alice``'s session, and its brand's publishable
    key for registration and login."""

    session: str = ""
    site: str = ""

    async def send(self, method: str, path: str, body: Any, key: str) -> httpx.Response:
        credential = self.site if path in ("/v1/auth/register", "/v1/auth/login") \
            else self.session
        headers = {"Authorization": f"Bearer {credential}", "Idempotency-Key": key}
        if method in ("GET", "DELETE"):
            return await self.tenant.client.request(method, path, headers=headers)
        return await self.tenant.client.request(method, path, headers=headers,
                                                json=self.fill(body))


async def login_alice(wl: WhiteLabel, mode: str) -> dict[str, Any]:
    r = await wl.client.post("/v1/auth/login", headers=wl.site(mode),
                             json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def build_wl_victim(client: httpx.AsyncClient) -> tuple[Victim, str]:
    """A white-label realm whose player alice has used every player route once: the
    victim, and alice's session token."""
    wl = await make_white_label(client, "victim-wl")
    r = await client.post("/v1/auth/register", headers=wl.site(),
                          json={**registration("alice"), "email": "alice@victim.example"})
    assert r.status_code == 201, r.text
    ids = {"key": r.json()["player"]["user_id"]}
    assert (await adjust(wl, "alice", "1000", rail="winz", asset="WINZ")).status_code == 201
    session = await login_alice(wl, "test")
    ids["session_id"] = session["session_id"]
    token = session["session_token"]
    player = {"Authorization": f"Bearer {token}"}
    for path, payload, name, kind in (
            ("/v1/lootbox", {"name": "Victim box", "prize_table": PRIZES}, "lootbox_id",
             "lootbox"),
            ("/v1/mini-games", {"name": "Victim wheel", "kind": "wheel", "prize_table": PRIZES},
             "mini_game_id", "mini_game"),
            ("/v1/raffles", {"name": "Victim raffle", "ticket_cost_winz": 10,
                             "prize_winz": 100}, "raffle_id", "raffle"),
            ("/v1/tournaments", {**TOURNAMENT, "opt_in": True}, "tournament_id", "tournament"),
            ("/v1/jackpots", {"name": "Victim pot", "currency": "USD", "seed_usd": 50},
             "jackpot_id", "jackpot"),
            ("/v1/bonus-templates", WELCOME, "template_id", "template"),
            ("/v1/bonus-templates", {"name": "Spins", "type": "free_spins", "currency": "USD",
                                     "promo_code": "SPINS", "free_spin_count": 5,
                                     "free_spin_value": 1}, "spins_id", "template")):
        r = await wl.post(path, payload)
        assert r.status_code == 201, r.text
        ids[name] = r.json()[kind]["id"]
    uses = (("/v1/player/bonuses/claim", {"promo_code": "SPINS"}),
            ("/v1/player/bonuses/claim", {"promo_code": "WELCOME"}),
            (f"/v1/player/lootboxes/{ids['lootbox_id']}/open", {}),
            (f"/v1/player/mini-games/{ids['mini_game_id']}/play", {}),
            (f"/v1/player/raffles/{ids['raffle_id']}/enter", {"tickets": 2}),
            (f"/v1/player/tournaments/{ids['tournament_id']}/join", {}))
    for path, payload in uses:
        r = await client.post(path, json=payload, headers={
            **player, "Idempotency-Key": f"victim:{path}:{payload.get('promo_code')}"})
        assert r.status_code == 201, f"{path}: {r.text}"
        if "bonus" in r.json() and r.json()["bonus"]["status"] == "pending":
            ids["bonus_id"] = r.json()["bonus"]["id"]
    return Victim(wl, ids), token


async def session_caller(label: str, wl: WhiteLabel, mode: str) -> SessionCaller:
    """``wl``'s own alice in ``mode``, with the templates its requests name."""
    r = await wl.client.post("/v1/auth/register", headers=wl.site(mode),
                             json={**registration("alice"), "email": "alice@caller.example"})
    assert r.status_code == 201, r.text
    assert (await adjust(wl, "alice", "100", rail="winz", asset="WINZ", mode=mode)
            ).status_code == 201
    r = await wl.post("/v1/bonus-templates", WELCOME, mode=mode)
    assert r.status_code == 201, r.text
    session = await login_alice(wl, mode)
    return SessionCaller(label, wl, mode, session=session["session_token"],
                         site=wl.publishable[mode])


async def test_another_white_label_tenants_player_sees_and_changes_nothing(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    victim, _ = await build_wl_victim(client)
    caller = await session_caller("other white-label tenant, test player",
                                  await make_white_label(client, "other-wl"), "test")
    problems = await probe(caller, victim, engine, SESSION_CASES)
    assert not problems, "\n".join(problems)


async def test_the_same_tenants_live_player_sees_and_changes_nothing_of_test(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    victim, _ = await build_wl_victim(client)
    assert isinstance(victim.tenant, WhiteLabel)
    caller = await session_caller("same tenant, live player", victim.tenant, "live")
    problems = await probe(caller, victim, engine, SESSION_CASES)
    assert not problems, "\n".join(problems)


async def test_the_victim_player_still_sees_its_own_objects(client: httpx.AsyncClient) -> None:
    """The probes above are meaningful: the same reads with the victim's session succeed."""
    victim, token = await build_wl_victim(client)
    owner = SessionCaller("victim", victim.tenant, "test", session=token)
    for (method, template), case in sorted(SESSION_CASES.items()):
        if method != "GET":
            continue
        for path, addresses_victim in concrete_requests(template, victim):
            r = await owner.send(method, path, case.body, "unused")
            assert r.status_code == 200, f"{method} {path}: {r.text}"
            if addresses_victim:
                assert victim.ids["key"] in r.text, f"{method} {path}: {r.text}"


# --- white-label players ----------------------------------------------------------------

@dataclass
class PlayerVictim:
    """A white-label player with money, limits, a bonus and a session."""

    tenant: WhiteLabel
    player_id: str
    ids: dict[str, str]

    def markers(self) -> set[str]:
        return {self.player_id, *self.ids.values()}


@dataclass
class PlayerCaller:
    label: str
    site: dict[str, str]  # the caller's brand's publishable key
    username: str
    client: httpx.AsyncClient
    same_brand: bool
    token: str = ""

    async def log_in(self) -> None:
        r = await self.client.post("/v1/auth/login", headers=self.site, json={
            "username": self.username, "password": CALLER_PASSWORD})
        assert r.status_code == 201, r.text
        self.token = r.json()["session_token"]

    async def send(self, method: str, path: str, case: PlayerCase) -> httpx.Response:
        headers = self.site if case.site else {"Authorization": f"Bearer {self.token}"}
        if method == "GET":
            return await self.client.get(path, headers=headers)
        return await self.client.request(method, path, headers=headers, json=case.body)


async def wl_register(client: httpx.AsyncClient, site: dict[str, str], username: str,
                      password: str, email: str) -> str:
    r = await client.post("/v1/auth/register", headers=site, json={
        "username": username, "email": email, "password": password, "country_code": "MT",
        "date_of_birth": "1990-01-01"})
    assert r.status_code == 201, r.text
    user_id: str = r.json()["player"]["user_id"]
    return user_id


async def build_player_victim(client: httpx.AsyncClient) -> PlayerVictim:
    wl = await make_white_label(client, "victim-wl")
    site = wl.site("test")
    player_id = await wl_register(client, site, "alice", VICTIM_PASSWORD,
                                  VICTIM_PLAYER["email"])
    await wl_register(client, site, "carol", VICTIM_PASSWORD, "carol@victim.example")
    assert (await adjust(wl, "alice", "100.00", key="fund-usd")).status_code == 201
    r = await wl.post("/v1/players/alice/rg", {"loss_daily_limit": 50})
    assert r.status_code == 200, r.text
    r = await wl.post("/v1/bonus-templates", WELCOME)
    assert r.status_code == 201, r.text
    r = await wl.post("/v1/bonuses/grant", {"player_id": "alice", "template": "WELCOME"})
    assert r.status_code == 201, r.text
    ids = {"bonus_id": r.json()["bonus"]["id"]}
    r = await client.post("/v1/auth/login", headers=site,
                          json={"username": "alice", "password": VICTIM_PASSWORD})
    assert r.status_code == 201, r.text
    ids["session_id"] = r.json()["session_id"]
    ids["token"] = r.json()["session_token"]
    return PlayerVictim(wl, player_id, ids)


async def player_callers(client: httpx.AsyncClient, victim: PlayerVictim) -> list[PlayerCaller]:
    """Another player of the victim's brand; and an ``alice`` of the same brand's live
    mode, of another brand of the tenant, and of another white-label tenant."""
    wl = victim.tenant
    r = await client.post(f"/tenants/{wl.id}/brands", headers=ADMIN,
                          json={"slug": "second", "name": "Second"})
    assert r.status_code == 201, r.text
    second = {"Authorization": f"Bearer {r.json()['brand']['publishable_keys']['test']}"}
    other = await make_white_label(client, "other-wl")
    callers = [
        PlayerCaller("another player of the same brand", wl.site("test"), "bob", client, True),
        PlayerCaller("alice of the same brand, live", wl.site("live"), "alice", client, False),
        PlayerCaller("alice of another brand", second, "alice", client, False),
        PlayerCaller("alice of another tenant", other.site("test"), "alice", client, False),
    ]
    for caller in callers:
        await wl_register(client, caller.site, caller.username, CALLER_PASSWORD,
                          f"{caller.username}@caller.example")
        await caller.log_in()
    return callers


async def player_rows(engine: Any, player_id: str) -> dict[str, tuple[int, str]]:
    """Row count and digest of every row about one player: its own row, every row with its
    player_id, the audit rows naming it."""
    async with engine.connect() as conn:
        tables = [row[0] for row in await conn.execute(text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND column_name = 'player_id' ORDER BY table_name"))]
        where = {table: "CAST(player_id AS text) = :p" for table in tables}
        where["players"] = "CAST(id AS text) = :p"
        where["audit_log"] = "target_id = :p"
        snapshot = {}
        for table, clause in sorted(where.items()):
            row = (await conn.execute(text(
                f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                f"FROM {table} x WHERE {clause}"), {"p": player_id})).one()
            snapshot[table] = (int(row[0]), str(row[1]))
    assert snapshot["players"][0] == 1
    return snapshot


def player_case_order() -> list[tuple[str, str]]:
    rest = sorted(set(PLAYER_CASES) - set(SESSION_ENDING), key=lambda r: (r[1], r[0]))
    return rest + SESSION_ENDING


async def probe_player(caller: PlayerCaller, victim: PlayerVictim, engine: Any) -> list[str]:
    """Every player route as ``caller``; every leak, wrong answer or change of the victim."""
    problems: list[str] = []
    before = await player_rows(engine, victim.player_id)
    markers = victim.markers() - {victim.ids["token"]}
    for method, template in player_case_order():
        case = PLAYER_CASES[(method, template)]
        expected = case.here if caller.same_brand else case.elsewhere
        if expected == 0:
            continue
        addressed = "{session_id}" in template
        path = template.replace("{session_id}", victim.ids["session_id"])
        where = f"{caller.label}: {method} {path}"
        r = await caller.send(method, path, case)
        echoed = r.text.replace(victim.ids["session_id"], "") if addressed else r.text
        leaked = sorted(m for m in markers if m in echoed)
        if leaked:
            problems.append(f"{where} leaked the victim's {leaked}: {r.text[:300]}")
        if addressed:
            if r.status_code != 404 or r.json().get("code") != "NO_SESSION":
                problems.append(f"{where} answered {r.status_code}, not 404: {r.text[:300]}")
        elif expected is not None and r.status_code != expected:
            problems.append(f"{where} answered {r.status_code}, not {expected}: {r.text[:300]}")
        elif expected is None and r.status_code >= 300:
            problems.append(f"{where} failed on the caller's own account: "
                            f"{r.status_code} {r.text[:300]}")
        after = await player_rows(engine, victim.player_id)
        changed = sorted(t for t in before if after.get(t) != before[t])
        if changed:
            problems.append(f"{where} changed the victim's rows in {changed}")
            before = after
        if (method, template) == ("POST", "/v1/auth/logout"):
            await caller.log_in()
    return problems


async def test_players_of_other_brands_modes_and_tenants_see_and_change_nothing(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    victim = await build_player_victim(client)
    problems = []
    for caller in await player_callers(client, victim):
        problems += await probe_player(caller, victim, engine)
    assert not problems, "\n".join(problems)


async def test_the_player_victim_still_sees_its_own_account(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    """The probes above are meaningful: the victim's own session reads its own account."""
    victim = await build_player_victim(client)
    own = {"Authorization": f"Bearer {victim.ids['token']}"}
    for method, template in sorted(PLAYER_CASES):
        if method != "GET":
            continue
        r = await client.get(template, headers=own)
        assert r.status_code == 200, f"{template}: {r.text}"
    profile = (await client.get("/v1/player/profile", headers=own)).json()["profile"]
    assert profile["user_id"] == victim.player_id
    sessions = (await client.get("/v1/player/sessions", headers=own)).json()["data"]
    assert [s["id"] for s in sessions] == [victim.ids["session_id"]]
    balances = (await client.get("/v1/player/balances", headers=own)).json()["balances"]
    assert balances["real"] == {"USD": 100} and balances["bonus"] == {"USD": 5}
    limits = (await client.get("/v1/player/limits", headers=own)).json()["limits"]
    assert limits["loss_daily_limit"] == 50
