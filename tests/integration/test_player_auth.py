"""Registration, login, sessions and publishable keys of white-label players."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.support import assert_error, assert_validation, create_player
from tests.integration.wl_support import (
    PASSWORD,
    WhiteLabel,
    login,
    make_white_label,
    register,
    registration,
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_login_session_logout(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    assert wl.publishable["test"].startswith("wpk_test_")
    assert wl.publishable["live"].startswith("wpk_live_")
    player = await register(wl, "alice")
    assert player["username"] == "alice" and player["country_code"] == "MT"
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "ALICE", "password": PASSWORD})
    assert r.status_code == 201, r.text
    answer = r.json()
    token = answer["session_token"]
    assert token.startswith("wps_test_") and answer["player"]["username"] == "alice"
    r = await client.get("/v1/player/sessions", headers=bearer(token))
    assert r.status_code == 200, r.text
    [listed] = r.json()["data"]
    assert listed["current"] is True and listed["active"] is True
    r = await client.post("/v1/auth/logout", headers=bearer(token))
    assert r.status_code == 200 and r.json()["logged_out"] is True
    assert_error(await client.get("/v1/player/sessions", headers=bearer(token)), 401,
                 "AUTH_INVALID")
    # the operator sees the registered player like any other
    r = await wl.get("/v1/players/alice")
    assert r.status_code == 200 and r.json()["player"]["email"] == "alice@example.com"


async def test_register_with_the_secret_key_and_replay(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    payload = {**registration("bob"), "idempotency_key": "reg-bob"}
    first = await wl.post("/v1/auth/register", payload)
    assert first.status_code == 201, first.text
    again = await wl.post("/v1/auth/register", payload)
    assert again.status_code == 200 and again.json()["deduped"] is True
    assert again.json()["player"]["user_id"] == first.json()["player"]["user_id"]


async def test_registration_refusals(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    await register(wl, "carol")
    site = wl.site()
    assert_error(await client.post("/v1/auth/register", headers=site,
                                   json=registration("Carol", email="other@example.com")),
                 409, "USERNAME_TAKEN")
    assert_error(await client.post("/v1/auth/register", headers=site,
                                   json=registration("carol2", email="carol@example.com")),
                 409, "EMAIL_TAKEN")
    for password in ("short", "carol3", "carol3@example.com".upper()):
        r = await client.post("/v1/auth/register", headers=site,
                              json=registration("carol3", password=password)
                              if password != "carol3" else
                              registration("carol3", password="carol3"))
        assert_validation(r, "password")
    r = await client.post("/v1/auth/register", headers=site,
                          json=registration("carol3", password="x" * 257))
    assert_validation(r, "password")
    assert_validation(await client.post("/v1/auth/register", headers=site, json={
        k: v for k, v in registration("carol3").items() if k != "date_of_birth"}),
        "date_of_birth")
    assert_validation(await client.post("/v1/auth/register", headers=site,
                                        json=registration("carol3", country_code="XX")),
                      "country_code")
    # the clock's today minus 17 years: under 18
    r = await client.post("/v1/auth/register", headers=site,
                          json=registration("kid", date_of_birth="2015-01-01"))
    assert_error(r, 403, "PLAYER_UNDERAGE")
    r = await wl.put("/v1/brands/main/jurisdiction",
                     {"profile": "default", "overrides": {"blocked_countries": ["US"]}})
    assert r.status_code == 200, r.text
    assert_error(await client.post("/v1/auth/register", headers=site,
                                   json=registration("yank", country_code="US")),
                 403, "COUNTRY_BLOCKED")
    r = await wl.get("/v1/players", params={"query": "kid"})
    assert r.json()["data"] == []


async def test_plug_in_tenants_have_no_player_auth(client: httpx.AsyncClient,
                                                   tenant: Tenant) -> None:
    r = await tenant.post("/v1/auth/register", registration("dave"))
    assert_error(r, 403, "SCOPE_DENIED")
    r = await tenant.post("/v1/auth/login", {"username": "dave", "password": PASSWORD})
    assert_error(r, 403, "SCOPE_DENIED")
    r = await client.get("/tenants/" + tenant.id + "/api-keys",
                         headers={"Authorization": "Bearer test-admin-token-with-32-characters"})
    assert all(k["kind"] == "secret" for k in r.json()["data"])


async def test_publishable_key_allows_only_public_routes(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    await register(wl, "erin")
    site = wl.site()
    for method, path in (("GET", "/v1/players/erin"), ("POST", "/v1/players"),
                         ("GET", "/v1/audit"), ("POST", "/v1/events/wager")):
        r = await client.request(method, path, headers=site, json={})
        assert_error(r, 403, "SCOPE_DENIED")
    # the same brand's key list shows them, without the secret
    r = await client.get(f"/tenants/{wl.id}/api-keys",
                         headers={"Authorization": "Bearer test-admin-token-with-32-characters"})
    kinds = sorted(k["kind"] for k in r.json()["data"])
    assert kinds == ["publishable", "publishable", "secret", "secret"]
    assert all(wl.publishable["test"] not in str(k) for k in r.json()["data"])
    # a new brand of a white-label tenant gets its own publishable keys
    r = await client.post(f"/tenants/{wl.id}/brands",
                          headers={"Authorization": "Bearer test-admin-token-with-32-characters"},
                          json={"slug": "second", "name": "Second"})
    assert r.status_code == 201, r.text
    assert r.json()["brand"]["publishable_keys"]["test"].startswith("wpk_test_")


async def test_tokens_and_keys_never_cross(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    await register(wl, "frank")
    token = await login(wl, "frank")
    assert_error(await client.get("/v1/players/frank", headers=bearer(token)), 401,
                 "AUTH_INVALID")
    assert_error(await client.get("/v1/me", headers=bearer(token)), 401, "AUTH_INVALID")
    for key in (wl.test_key, wl.publishable["test"]):
        assert_error(await client.get("/v1/player/sessions", headers=bearer(key)), 401,
                     "AUTH_INVALID")
    assert_error(await client.get("/v1/player/sessions"), 401, "AUTH_REQUIRED")
    forged = "wps_test_" + "0" * 48
    assert_error(await client.get("/v1/player/sessions", headers=bearer(forged)), 401,
                 "AUTH_INVALID")


async def test_live_and_test_players_are_separate(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    await register(wl, "gina", mode="test")
    r = await client.post("/v1/auth/login", headers=wl.site("live"),
                          json={"username": "gina", "password": PASSWORD})
    assert_error(r, 401, "INVALID_CREDENTIALS")
    await register(wl, "gina", mode="live")
    assert (await login(wl, "gina", mode="live")).startswith("wps_live_")


async def test_sliding_and_absolute_expiry(client: httpx.AsyncClient, clock: Any) -> None:
    wl = await make_white_label(client)
    await register(wl, "hank")
    token = await login(wl, "hank")
    # every request slides the idle expiry by 24 hours ...
    for _ in range(3):
        clock.advance(timedelta(hours=23))
        r = await client.get("/v1/player/sessions", headers=bearer(token))
        assert r.status_code == 200, r.text
    # ... but 24 idle hours end it
    clock.advance(timedelta(hours=24, seconds=1))
    assert_error(await client.get("/v1/player/sessions", headers=bearer(token)), 401,
                 "AUTH_INVALID")
    # and 30 days end any session, however busy
    token = await login(wl, "hank")
    started = clock.now()
    for _ in range(31):
        clock.advance(timedelta(hours=23, minutes=59))
        r = await client.get("/v1/player/sessions", headers=bearer(token))
        if r.status_code != 200:
            break
    assert_error(r, 401, "AUTH_INVALID")
    assert timedelta(days=30) <= clock.now() - started < timedelta(days=30, hours=24)


def from_address(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 5000))
    return httpx.AsyncClient(transport=transport, base_url="http://wowsino.test")


async def test_lockout_per_account_without_revealing_it(client: httpx.AsyncClient, app: Any,
                                                        clock: Any) -> None:
    wl = await make_white_label(client)
    await register(wl, "ivan")
    answers: dict[str, list[tuple[int, str]]] = {}
    for n, username in enumerate(("ivan", "nobody")):
        async with from_address(app, f"10.0.0.{n + 1}") as c:
            seen = answers[username] = []
            for _ in range(6):
                r = await c.post("/v1/auth/login", headers=wl.site(),
                                 json={"username": username, "password": "wrong password!"})
                seen.append((r.status_code, r.json()["code"]))
    # the unknown name is answered and locked exactly like the known one
    assert answers["ivan"] == answers["nobody"] == (
        [(401, "INVALID_CREDENTIALS")] * 5 + [(423, "ACCOUNT_LOCKED")])
    # the account is locked from any address, even with the right password
    async with from_address(app, "10.0.0.9") as c:
        locked = await c.post("/v1/auth/login", headers=wl.site(),
                              json={"username": "ivan", "password": PASSWORD})
    assert_error(locked, 423, "ACCOUNT_LOCKED")
    assert 1 <= int(locked.headers["Retry-After"]) <= 900
    clock.advance(timedelta(minutes=15, seconds=1))
    assert (await login(wl, "ivan")).startswith("wps_")


async def test_lockout_per_client_address(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    await register(wl, "judy")
    for n in range(5):  # five different usernames from one address
        r = await client.post("/v1/auth/login", headers=wl.site(),
                              json={"username": f"guess{n}", "password": "wrong password!"})
        assert_error(r, 401, "INVALID_CREDENTIALS")
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "judy", "password": PASSWORD})
    assert_error(r, 423, "ACCOUNT_LOCKED")


async def test_status_refuses_login_and_ends_sessions(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    await register(wl, "kate")
    token = await login(wl, "kate")
    r = await wl.patch("/v1/players/kate/status", {"status": "suspended", "reason": "review"})
    assert r.status_code == 200, r.text
    assert_error(await client.get("/v1/player/sessions", headers=bearer(token)), 403,
                 "PLAYER_BLOCKED")
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "kate", "password": PASSWORD})
    assert_error(r, 403, "PLAYER_BLOCKED")
    # a wrong password says nothing about the status
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "kate", "password": "wrong password!"})
    assert_error(r, 401, "INVALID_CREDENTIALS")


async def test_players_revoke_their_own_sessions_only(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    await register(wl, "liam")
    await register(wl, "mona")
    first, second = await login(wl, "liam"), await login(wl, "liam")
    other = await login(wl, "mona")
    r = await client.get("/v1/player/sessions", headers=bearer(first))
    ids = [s["id"] for s in r.json()["data"]]
    assert len(ids) == 2
    r = await client.get("/v1/player/sessions", headers=bearer(other))
    mona_id = r.json()["data"][0]["id"]
    assert_error(await client.post(f"/v1/player/sessions/{mona_id}/revoke",
                                   headers=bearer(first)), 404, "NO_SESSION")
    assert (await client.get("/v1/player/sessions", headers=bearer(other))).status_code == 200
    r = await client.get("/v1/player/sessions", headers=bearer(second))
    second_id = next(s["id"] for s in r.json()["data"] if s["current"])
    r = await client.post(f"/v1/player/sessions/{second_id}/revoke", headers=bearer(first))
    assert r.status_code == 200, r.text
    assert_error(await client.get("/v1/player/sessions", headers=bearer(second)), 401,
                 "AUTH_INVALID")
    assert (await client.get("/v1/player/sessions", headers=bearer(first))).status_code == 200


async def test_concurrent_registrations_of_one_name(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    answers = await asyncio.gather(*(
        client.post("/v1/auth/register", headers=wl.site(),
                    json=registration("nick", email=f"nick{n}@example.com"))
        for n in range(8)))
    assert sorted(r.status_code for r in answers) == [201] + [409] * 7
    answers = await asyncio.gather(*(
        client.post("/v1/auth/register", headers=wl.site(),
                    json=registration(f"olga{n}", email="olga@example.com"))
        for n in range(8)))
    assert sorted(r.status_code for r in answers) == [201] + [409] * 7


async def test_a_plug_in_player_has_no_password(client: httpx.AsyncClient) -> None:
    wl: WhiteLabel = await make_white_label(client)
    await create_player(wl, "pete")  # created by the operator, not registered
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "pete", "password": PASSWORD})
    assert_error(r, 401, "INVALID_CREDENTIALS")
