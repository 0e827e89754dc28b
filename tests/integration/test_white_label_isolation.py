"""Isolation of the white-label routes (api.md §10): another tenant, the same tenant's
other mode, another player of the same brand and a player of another brand see nothing
of a player's data and change nothing of it.

Routes that take a key are probed from the other realms (within its own realm a secret
key is the operator, who sees its players by design); routes that take a player session
are probed by all four callers, each with its own player's session. The routes are
enumerated from the app: a white-label route without a case here fails
``test_every_white_label_route_has_a_case``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.integration.games_support import SECRET, launch, signed
from tests.integration.support import adjust
from tests.integration.test_isolation import (
    NOT_FOUND_CODE,
    PLAYER_CASES,
    SESSION_CASES,
    realm_snapshot,
    v1_routes,
)
from tests.integration.test_scopes import SESSION, SIGNED, WHITE_LABEL_SCOPE
from tests.integration.wl_support import (
    PASSWORD,
    WhiteLabel,
    login,
    make_white_label,
    register,
    registration,
)
from tests.support.live_server import free_port
from wowsino.api import create_app
from wowsino.kernel.config import Settings
from wowsino.kernel.jsonio import dumps

HUB88_SECRET = "hub88-isolation-secret"
# the game aggregators' signed calls (the PSP's callback has its own isolation test,
# tests/integration/wallet/test_callbacks.py)
AGGREGATOR_CALLS = {route for route in SIGNED if route[1].startswith("/v1/aggregator/")}

VICTIM_EMAIL = "alice@victim.example"


@dataclass
class WlCase:
    """One route's probe: ``body`` is valid; ``expect``: the statuses a request that does
    not address the victim may get (the caller's own data, or the victim's credentials
    refused elsewhere)."""

    body: dict[str, Any] | None = None
    expect: frozenset[int] = frozenset({200, 201})
    # addressed by a tenant-level name (a brand): the same tenant's other mode may see it,
    # yet changes nothing in the victim's realm
    tenant_level: bool = False
    # path parameters that name no object of the victim (a game of the catalogue)
    path: dict[str, str] = field(default_factory=dict)


# An aggregator's call, signed, with the caller's own game session token, naming the
# victim's bet and round: whatever it answers, the victim's money and rows stay as they are.
SIGNED_EXPECT = frozenset({200, 402, 404, 409})


WL_CASES: dict[tuple[str, str], WlCase] = {
    ("POST", "/v1/auth/register"): WlCase(body=registration("alice")),
    # the victim's credentials open nothing in another realm
    ("POST", "/v1/auth/login"): WlCase(body={"username": "alice", "password": PASSWORD},
                                       expect=frozenset({401})),
    ("POST", "/v1/auth/logout"): WlCase(body={}),
    ("GET", "/v1/player/sessions"): WlCase(),
    ("POST", "/v1/player/sessions/{session_id}/revoke"): WlCase(body={}),
    # the wallet: the operator's side
    ("GET", "/v1/brands/{slug}/psp"): WlCase(tenant_level=True),
    ("PUT", "/v1/brands/{slug}/psp"): WlCase(body={"adapter": "sandbox"}, tenant_level=True),
    ("PATCH", "/v1/players/{key}/kyc"): WlCase(body={"status": "rejected", "reason": "probe"}),
    # KYC vendors: the brand's vendor, a player's KYC, a verification started by the
    # operator or by the caller's own player (no vendor runs here: the session waits,
    # pending)
    ("GET", "/v1/brands/{slug}/kyc"): WlCase(tenant_level=True),
    ("PUT", "/v1/brands/{slug}/kyc"): WlCase(body={"adapter": "sandbox"}, tenant_level=True),
    ("GET", "/v1/players/{key}/kyc"): WlCase(),
    ("POST", "/v1/players/{key}/kyc/start"): WlCase(body={}),
    ("POST", "/v1/player/kyc/start"): WlCase(body={}, expect=frozenset({503})),
    ("GET", "/v1/players/{key}/transactions"): WlCase(),
    ("POST", "/v1/players/{key}/withdrawals"): WlCase(
        body={"amount": "5", "currency": "USD", "reason": "probe"}),
    ("GET", "/v1/deposits"): WlCase(),
    ("GET", "/v1/deposits/{deposit_id}"): WlCase(),
    ("GET", "/v1/withdrawals"): WlCase(),
    ("GET", "/v1/withdrawals/{withdrawal_id}"): WlCase(),
    ("POST", "/v1/withdrawals/{withdrawal_id}/approve"): WlCase(body={}),
    ("POST", "/v1/withdrawals/{withdrawal_id}/reject"): WlCase(body={"reason": "probe"}),
    # the wallet: the player's side (no PSP runs here: a deposit waits, pending, and the
    # callers' players have no KYC for a withdrawal)
    ("POST", "/v1/player/deposits"): WlCase(body={"amount": "5", "currency": "USD",
                                                  "method": "card"}, expect=frozenset({503})),
    ("GET", "/v1/player/deposits/{deposit_id}"): WlCase(),
    ("POST", "/v1/player/withdrawals"): WlCase(body={"amount": "5", "currency": "USD"},
                                               expect=frozenset({403})),
    ("GET", "/v1/player/withdrawals"): WlCase(),
    ("GET", "/v1/player/transactions"): WlCase(),
    # games: the catalogue, a launch of the caller's own, and the aggregators' calls
    ("GET", "/v1/games"): WlCase(),
    ("GET", "/v1/brands/{slug}/aggregators/{adapter}"): WlCase(
        tenant_level=True, path={"adapter": "sandbox"}),
    ("PUT", "/v1/brands/{slug}/aggregators/{adapter}"): WlCase(
        body={"enabled": True}, tenant_level=True, path={"adapter": "sandbox"}),
    ("POST", "/v1/games/{game_id}/launch"): WlCase(body={}, expect=frozenset({201}),
                                                   path={"game_id": "sandbox-slot"}),
    **{route: WlCase(expect=SIGNED_EXPECT) for route in AGGREGATOR_CALLS},
}


@pytest.fixture
def settings() -> Settings:
    # a PSP address where nothing answers; the Hub88-style aggregator on, so its calls
    # reach the wallet too
    return Settings(admin_token=ADMIN_TOKEN, sandbox_psp_url=f"http://127.0.0.1:{free_port()}",
                    sandbox_kyc_url=f"http://127.0.0.1:{free_port()}",
                    hub88_aggregator_secret=HUB88_SECRET, hub88_games=("demo_fruits=slots",))


def signed_call(template: str, caller: WlCaller) -> tuple[dict[str, Any], str]:
    """The body of an aggregator call by ``caller`` (its own token) naming the victim's
    bet and round, and the secret it is signed with."""
    operation = template.rsplit("/", 1)[-1]
    label = re.sub(r"\W", "-", caller.label)
    if "/hub88/" in template:
        fields: dict[str, Any] = {
            "token": caller.tokens["hub88"], "request_uuid": f"probe-{label}",
            "game_code": "demo_fruits", "round": "victim-round-hub88",
            "transaction_uuid": f"probe-{operation}-{label}"}
        if operation == "bet":
            fields.update(transaction_uuid="victim-bet-hub88", currency="USD", amount=100000)
        elif operation == "win":
            fields.update(currency="USD", amount=100000)
        elif operation == "rollback":
            fields["reference_transaction_uuid"] = "victim-bet-hub88"
        return fields, HUB88_SECRET
    fields = {"token": caller.tokens["sandbox"], "game_id": "sandbox-slot",
              "round_id": "victim-round", "transaction_id": f"probe-{operation}-{label}"}
    if operation == "balance":
        fields = {"token": caller.tokens["sandbox"]}
    elif operation == "bet":
        fields.update(transaction_id="victim-bet", currency="USD", amount=1)
    elif operation == "win":
        fields.update(currency="USD", amount=1)
    else:
        fields["reference_transaction_id"] = "victim-bet"
    return fields, SECRET


@dataclass
class WlVictim:
    wl: WhiteLabel
    player_id: str
    token: str
    ids: dict[str, str] = field(default_factory=dict)

    def markers(self) -> set[str]:
        return {*self.ids.values(), self.player_id, VICTIM_EMAIL}


@dataclass
class WlCaller:
    label: str
    wl: WhiteLabel
    mode: str
    same_realm: bool
    key: str = ""
    token: str = ""
    tokens: dict[str, str] = field(default_factory=dict)  # game session tokens, per aggregator

    async def send(self, method: str, path: str, body: Any, session: bool,
                   idempotency_key: str) -> httpx.Response:
        credential = self.token if session else self.key
        headers = {"Authorization": f"Bearer {credential}", "Idempotency-Key": idempotency_key}
        if method in ("GET", "DELETE"):
            return await self.wl.client.request(method, path, headers=headers)
        return await self.wl.client.request(method, path, headers=headers, json=body)


async def build_victim(client: httpx.AsyncClient) -> WlVictim:
    wl = await make_white_label(client, "victimwl")
    player = await register(wl, "alice", email=VICTIM_EMAIL)
    token = await login(wl, "alice")
    r = await client.get("/v1/player/sessions", headers={"Authorization": f"Bearer {token}"})
    victim = WlVictim(wl, player["user_id"], token)
    victim.ids["session_id"] = r.json()["data"][0]["id"]
    await wallet_of(victim, client)
    await games_of(victim, client)
    return victim


async def wallet_of(victim: WlVictim, client: httpx.AsyncClient) -> None:
    """The victim's wallet: an approved KYC, a withdrawal, a deposit, a brand's PSP."""
    wl, session = victim.wl, {"Authorization": f"Bearer {victim.token}"}
    victim.ids["key"] = victim.player_id
    r = await wl.patch("/v1/players/alice/kyc", {"status": "approved", "level": 1,
                                                 "reason": "victim checked"})
    assert r.status_code == 200, r.text
    assert (await adjust(wl, "alice", "50.00")).status_code == 201
    r = await client.post("/v1/player/withdrawals", headers=session,
                          json={"amount": "20", "currency": "USD"})
    assert r.status_code == 201, r.text
    victim.ids["withdrawal_id"] = r.json()["withdrawal"]["id"]
    r = await client.post("/v1/player/deposits", headers=session,
                          json={"amount": "10", "currency": "USD", "method": "card"})
    assert r.status_code == 503, r.text  # no PSP here: the deposit waits, pending
    victim.ids["deposit_id"] = (await wl.get("/v1/deposits")).json()["data"][0]["id"]
    r = await client.post(f"/tenants/{wl.id}/brands", headers=ADMIN,
                          json={"slug": "victim-site", "name": "Victim site"})
    assert r.status_code == 201, r.text
    victim.ids["slug"] = "victim-site"
    r = await wl.put("/v1/brands/victim-site/psp", {
        "adapter": "sandbox", "credentials": {"secret": "victim-secret"},
        "auto_approve_below": {"USD": "1.00"}})
    assert r.status_code == 200, r.text
    r = await wl.put("/v1/brands/victim-site/kyc", {
        "adapter": "sandbox", "credentials": {"secret": "victim-kyc-secret"}, "level": 2})
    assert r.status_code == 200, r.text
    # a level-2 verification of the victim's, waiting at no vendor
    assert (await wl.put("/v1/brands/main/kyc", {"adapter": "sandbox", "level": 2})
            ).status_code == 200
    r = await client.post("/v1/player/kyc/start", headers=session, json={})
    assert r.status_code == 503, r.text
    victim.ids["kyc_session_id"] = (await wl.get("/v1/players/alice/kyc")
                                    ).json()["kyc"]["sessions"][0]["id"]


async def games_of(victim: WlVictim, client: httpx.AsyncClient) -> None:
    """The victim at two games, each with an open bet the probes name; its second brand's
    own aggregator secret, which no answer may show."""
    victim.ids["aggregator_secret"] = "victim-site-aggregator-secret"
    r = await victim.wl.put("/v1/brands/victim-site/aggregators/sandbox", {
        "secret": victim.ids["aggregator_secret"], "launch_url": "https://victim.example"})
    assert r.status_code == 200, r.text
    assert (await adjust(victim.wl, "alice", "50.00")).status_code == 201
    session = {"Authorization": f"Bearer {victim.token}"}
    for game, path, bet in (
            ("sandbox-slot", "sandbox/bet",
             {"transaction_id": "victim-bet", "round_id": "victim-round",
              "game_id": "sandbox-slot", "amount": 5, "currency": "USD"}),
            ("demo_fruits", "hub88/transaction/bet",
             {"transaction_uuid": "victim-bet-hub88", "round": "victim-round-hub88",
              "request_uuid": "victim", "game_code": "demo_fruits", "currency": "USD",
              "amount": 500000})):
        launched = await launch(client, session, game)
        victim.ids[f"game_session_{game}"] = launched["session_id"]
        raw = dumps({"token": launched["token"], **bet}).encode()
        secret = HUB88_SECRET if path.startswith("hub88") else SECRET
        r = await client.post(f"/v1/aggregator/{path}", content=raw,
                              headers=signed(raw, secret))
        assert r.status_code == 200 and r.json().get("status", "RS_OK") == "RS_OK", r.text


async def player_snapshot(engine: Any, tenant_id: str, player_id: str) -> dict[str, Any]:
    """A digest of every row of every table naming the player (and the player's row)."""
    async with engine.connect() as conn:
        tables = (await conn.execute(text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND column_name = 'player_id' ORDER BY table_name"))).scalars()
        snapshot = {}
        for table in [*tables, "players"]:
            column = "id" if table == "players" else "player_id"
            snapshot[table] = (await conn.execute(text(
                f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                f"FROM {table} x WHERE tenant_id = CAST(:t AS uuid) "
                f"AND {column} = CAST(:p AS uuid)"), {"t": tenant_id, "p": player_id})).scalar()
    return snapshot


def concrete(template: str, victim: WlVictim, fixed: dict[str, str]) -> tuple[str, bool]:
    names = re.findall(r"{(\w+)}", template)
    path = template
    for name in names:
        path = path.replace(f"{{{name}}}", fixed.get(name) or victim.ids[name])
    return path, any(name not in fixed for name in names)


async def callers(client: httpx.AsyncClient, victim: WlVictim) -> list[WlCaller]:
    other = await make_white_label(client, "otherwl")
    r = await client.post(f"/tenants/{victim.wl.id}/brands", headers=ADMIN,
                          json={"slug": "second", "name": "Second"})
    assert r.status_code == 201, r.text
    second = WhiteLabel(victim.wl.id, victim.wl.slug, victim.wl.live_key, victim.wl.test_key,
                        r.json()["brand"]["id"], client, r.json()["brand"]["publishable_keys"])
    found = [
        WlCaller("other tenant, test", other, "test", False, other.test_key),
        WlCaller("other tenant, live", other, "live", False, other.live_key),
        WlCaller("same tenant, live", victim.wl, "live", False, victim.wl.live_key),
        WlCaller("same brand, another player", victim.wl, "test", True),
        WlCaller("another brand, a player", second, "test", True),
    ]
    for caller in found:
        await register(caller.wl, "carl", caller.mode)
        caller.token = await login(caller.wl, "carl", mode=caller.mode)
        session = {"Authorization": f"Bearer {caller.token}"}
        for game, aggregator in (("sandbox-slot", "sandbox"), ("demo_fruits", "hub88")):
            caller.tokens[aggregator] = (await launch(client, session, game))["token"]
    return found


async def probe(caller: WlCaller, victim: WlVictim, engine: Any) -> list[str]:
    problems: list[str] = []
    tenant_id = victim.wl.id

    async def state() -> Any:
        return (await player_snapshot(engine, tenant_id, victim.player_id),
                None if caller.same_realm else await realm_snapshot(engine, tenant_id, "test",
                                                                   players=3))

    before = await state()
    for (method, template), case in sorted(WL_CASES.items(), key=lambda item: item[0][1]):
        session = (method, template) in SESSION
        if (method, template) in AGGREGATOR_CALLS:
            fields, secret = signed_call(template, caller)
            raw = dumps(fields).encode()
            path, addresses_victim = template, False
            where = f"{caller.label}: {method} {path}"
            r = await caller.wl.client.post(path, content=raw, headers=signed(raw, secret))
        else:
            if not session and caller.same_realm:
                continue
            path, addresses_victim = concrete(template, victim, case.path)
            where = f"{caller.label}: {method} {path}"
            r = await caller.send(method, path, case.body, session,
                                  f"probe:{method}:{template}")
        echoed = r.text
        for sent in victim.markers() & set(path.split("/")):
            echoed = echoed.replace(sent, "")
        leaked = sorted(m for m in victim.markers() if m in echoed)
        if leaked:
            problems.append(f"{where} leaked the victim's {leaked}: {r.text[:300]}")
        if addresses_victim and not (case.tenant_level and caller.wl.id == victim.wl.id):
            if r.status_code != 404 or not NOT_FOUND_CODE.match(r.json().get("code", "")):
                problems.append(f"{where} answered {r.status_code}, not 404: {r.text[:300]}")
        elif r.status_code not in (case.expect | ({200} if case.tenant_level else set())):
            problems.append(f"{where} answered {r.status_code}: {r.text[:300]}")
        if method == "POST" and template == "/v1/auth/logout":  # the caller needs a session
            caller.token = await login(caller.wl, "carl", mode=caller.mode)
        after = await state()
        if after != before:
            changed = [t for t in before[0] if before[0][t] != after[0][t]]
            problems.append(f"{where} changed the victim's data {changed or 'in its realm'}")
            before = after
    return problems


def test_every_white_label_route_has_a_case() -> None:
    app = create_app(Settings(admin_token=ADMIN_TOKEN),
                     database_url="postgresql://nobody@127.0.0.1:1/none")
    routes = v1_routes(app) & (WHITE_LABEL_SCOPE.keys() | SESSION | AGGREGATOR_CALLS)
    assert ("POST", "/v1/auth/login") in routes
    # a player's engagement routes are probed over seeded objects in test_isolation.py
    covered = WL_CASES.keys() | SESSION_CASES.keys() | PLAYER_CASES.keys()
    assert routes == covered, sorted(routes ^ covered)


async def test_nobody_else_sees_or_changes_a_players_data(client: httpx.AsyncClient,
                                                           engine: Any) -> None:
    victim = await build_victim(client)
    problems = []
    for caller in await callers(client, victim):
        problems += await probe(caller, victim, engine)
    assert not problems, "\n".join(problems)
    # the probes are meaningful: the victim's own session still works and sees its own
    r = await client.get("/v1/player/sessions",
                         headers={"Authorization": f"Bearer {victim.token}"})
    assert r.status_code == 200 and victim.ids["session_id"] in r.text
