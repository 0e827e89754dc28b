"""A brand's configuration of its game aggregators (``GET|PUT
/v1/brands/<slug>/aggregators/<adapter>``): a secret of its own that signs only its
sessions' calls, write-only and rotated from the next call; the aggregator turned off;
the address its games open at."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Tenant
from tests.integration.games_support import SECRET, another_brand, launch, seat, signed
from tests.integration.support import assert_error, assert_validation, body, count_rows
from tests.integration.wl_support import make_white_label, player_session
from wowsino.kernel.config import Settings
from wowsino.kernel.jsonio import dumps

SECRET_A = "brand-a-aggregator-secret-0001"
SECRET_B = "brand-b-aggregator-secret-0002"
HUB88_GAMES = ("demo_fruits=slots",)


@pytest.fixture
def settings() -> Settings:
    # the Hub88-style aggregator's games are known, but the platform holds no secret of it
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=10, hub88_games=HUB88_GAMES)


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = body(r)
    assert answer["code"] == "OK", answer
    return answer


async def configure(tenant: Tenant, adapter: str = "sandbox", slug: str = "main",
                    **fields: Any) -> httpx.Response:
    return await tenant.put(f"/v1/brands/{slug}/aggregators/{adapter}", fields)


async def test_an_unconfigured_brand_uses_the_platforms_settings(
    client: httpx.AsyncClient,
) -> None:
    wl = await make_white_label(client)
    r = await wl.get("/v1/brands/main/aggregators/sandbox")
    assert r.status_code == 200, r.text
    assert r.json() == {"aggregator": {
        "brand": "main", "adapter": "sandbox", "enabled": True, "secret_set": False,
        "launch_url": None, "available": True, "configured": False, "version": 0,
        "updated_at": None}}
    # no secret anywhere for the Hub88-style aggregator: its games are not offered
    hub88 = (await wl.get("/v1/brands/main/aggregators/hub88")).json()["aggregator"]
    assert (hub88["available"], hub88["secret_set"]) == (False, False)
    games = (await client.get("/v1/games", headers=wl.site())).json()["data"]
    assert {g["aggregator"] for g in games} == {"sandbox"}


async def test_the_secret_is_write_only_and_never_echoed_or_audited(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    wl = await make_white_label(client)
    r = await configure(wl, secret=SECRET_A, launch_url="https://games.brand-a.example/")
    assert r.status_code == 200, r.text
    assert r.json()["aggregator"] | {"updated_at": None} == {
        "brand": "main", "adapter": "sandbox", "enabled": True, "secret_set": True,
        "launch_url": "https://games.brand-a.example", "available": True, "configured": True,
        "version": 1, "updated_at": None}
    shown = await wl.get("/v1/brands/main/aggregators/sandbox")
    audited = await wl.get("/v1/audit", params={"action": "aggregator.configured"})
    assert audited.status_code == 200 and len(audited.json()["data"]) == 1, audited.text
    # a replay of the same request answers the stored answer, still without the secret
    first = await wl.put("/v1/brands/main/aggregators/sandbox",
                         {"secret": SECRET_B, "idempotency_key": "rotate-1"})
    replay = await wl.put("/v1/brands/main/aggregators/sandbox",
                          {"secret": SECRET_B, "idempotency_key": "rotate-1"})
    assert replay.json()["deduped"] is True and first.json()["aggregator"]["version"] == 2
    # the same key with another secret is another request
    other = await wl.put("/v1/brands/main/aggregators/sandbox",
                         {"secret": SECRET_A, "idempotency_key": "rotate-1"})
    assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED")
    for answer in (r, shown, audited, first, replay, other):
        assert SECRET_A not in answer.text and SECRET_B not in answer.text, answer.text
    assert await count_rows(engine, "audit_log", wl.id, where="action = :a",
                            a="aggregator.configured") == 2


async def test_a_call_signed_with_brand_as_secret_is_refused_for_brand_bs_session(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    brand_a = await make_white_label(client, "brandawl")
    brand_b = await another_brand(brand_a, "brand-b")
    assert (await configure(brand_a, secret=SECRET_A)).status_code == 200
    assert (await configure(brand_b, slug="brand-b", secret=SECRET_B)).status_code == 200
    a = await seat(client, wl=brand_a, username="anna")
    b = await seat(client, wl=brand_b, username="bert")
    # brand A's secret, the platform's, another tenant's: none opens brand B's session
    for secret in (SECRET_A, SECRET):
        r = await b.bet("5.00", tx=f"b-with-{secret[:7]}", secret=secret)
        assert r.status_code == 401 and r.json()["code"] == "INVALID_SIGNATURE", r.text
    assert await count_rows(engine, "game_transactions", brand_a.id) == 0
    assert ok(await b.bet("5.00", tx="b-1", secret=SECRET_B))["cash"] == Decimal("95.00")
    assert ok(await a.bet("1.00", tx="a-1", secret=SECRET_A))["cash"] == Decimal("99.00")
    r = await a.call("balance", secret=SECRET_B)
    assert r.status_code == 401 and r.json()["code"] == "INVALID_SIGNATURE", r.text
    # a brand of another tenant with no secret of its own still takes the platform's
    c = await seat(client, wl=await make_white_label(client, "brandcwl"), username="carl")
    assert ok(await c.bet("2.00", tx="c-1"))["cash"] == Decimal("98.00")
    r = await c.bet("2.00", tx="c-2", secret=SECRET_A)
    assert r.status_code == 401, r.text


async def test_a_rotated_secret_signs_from_the_next_call_on(client: httpx.AsyncClient) -> None:
    table = await seat(client)
    wl = table.wl
    ok(await table.bet("1.00", tx="before"))  # the platform's secret
    assert (await configure(wl, secret=SECRET_A)).status_code == 200
    assert (await table.bet("1.00", tx="old-secret")).status_code == 401
    ok(await table.bet("1.00", tx="first", secret=SECRET_A))
    assert (await configure(wl, secret=SECRET_B)).status_code == 200
    r = await table.bet("1.00", tx="second", secret=SECRET_A)
    assert r.status_code == 401 and r.json()["code"] == "INVALID_SIGNATURE", r.text
    ok(await table.bet("1.00", tx="second", secret=SECRET_B))
    # a PUT without a secret keeps it; null gives the platform's back
    assert (await configure(wl, launch_url="http://127.0.0.1:9999")).json()[
        "aggregator"]["secret_set"] is True
    ok(await table.bet("1.00", tx="third", secret=SECRET_B))
    assert (await configure(wl, secret=None)).json()["aggregator"]["secret_set"] is False
    assert (await table.bet("1.00", tx="fourth", secret=SECRET_B)).status_code == 401
    assert ok(await table.bet("1.00", tx="fourth"))["cash"] == Decimal("95.00")


async def test_a_brands_own_secret_turns_on_an_aggregator_the_platform_holds_none_of(
    client: httpx.AsyncClient,
) -> None:
    wl = await make_white_label(client)
    session = await player_session(wl, "lena")
    assert_error(await client.post("/v1/games/demo_fruits/launch", headers=session, json={}),
                 404, "NO_GAME")
    r = await configure(wl, "hub88", secret=SECRET_A, launch_url="https://hub88.example/play")
    assert r.json()["aggregator"]["available"] is True, r.text
    games = (await client.get("/v1/games", headers=wl.site())).json()["data"]
    assert "demo_fruits" in {g["game_id"] for g in games}
    launched = await launch(client, session, "demo_fruits")
    assert launched["launch_url"] == (
        f"https://hub88.example/play?game_code=demo_fruits&token={launched['token']}")
    raw = dumps({"token": launched["token"], "request_uuid": "u-1",
                 "game_code": "demo_fruits"}).encode()
    r = await client.post("/v1/aggregator/hub88/user/balance", content=raw,
                          headers=signed(raw, SECRET_A))
    assert r.status_code == 200 and r.json()["status"] == "RS_OK", r.text
    r = await client.post("/v1/aggregator/hub88/user/balance", content=raw,
                          headers=signed(raw, SECRET))
    assert r.status_code == 401, r.text


async def test_an_aggregator_turned_off_leaves_the_catalogue_and_ends_its_sessions_bets(
    client: httpx.AsyncClient,
) -> None:
    table = await seat(client)
    wl = table.wl
    ok(await table.bet("2.00", tx="b-1", round_id="r-1"))
    r = await configure(wl, enabled=False)
    assert r.json()["aggregator"] | {"updated_at": None} == {
        "brand": "main", "adapter": "sandbox", "enabled": False, "secret_set": False,
        "launch_url": None, "available": False, "configured": True, "version": 1,
        "updated_at": None}
    assert (await client.get("/v1/games", headers=wl.site())).json()["data"] == []
    assert_error(await client.post("/v1/games/sandbox-slot/launch", headers=table.session,
                                   json={}), 404, "NO_GAME")
    r = await table.bet("2.00", tx="b-2", round_id="r-2")
    assert r.status_code == 401 and r.json()["code"] == "TOKEN_EXPIRED", r.text
    assert "turned this aggregator off" in r.json()["error"]
    r = await table.call("balance")
    assert r.status_code == 401 and r.json()["code"] == "TOKEN_EXPIRED", r.text
    # the open round still ends: its win is paid
    assert ok(await table.win("3.00", round_id="r-1"))["cash"] == Decimal("101.00")
    assert (await configure(wl, enabled=True)).status_code == 200
    ok(await table.bet("2.00", tx="b-3", round_id="r-3"))


async def test_a_launch_opens_at_the_brands_own_address(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    session = await player_session(wl, "lena")
    await configure(wl, launch_url="https://play.brand.example/sandbox/")
    launched = await launch(client, session)
    assert launched["launch_url"] == ("https://play.brand.example/sandbox/games/sandbox-slot"
                                      f"?token={launched['token']}")


async def test_a_configuration_is_checked_and_belongs_to_the_tenants_own_brands(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    wl = await make_white_label(client)
    assert_validation(await configure(wl, secret="short"), "secret")
    assert_validation(await configure(wl, secret="has a space in it, sixteen+"), "secret")
    for url in ("ftp://games.example", "https://games.example/?x=1", "/relative",
                "https://games.example/#top"):
        assert_validation(await configure(wl, launch_url=url), "launch_url")
    assert_validation(await configure(wl, enabled="maybe"), "enabled")
    assert_validation(await configure(wl, colour="blue"), "colour")
    assert_error(await configure(wl, "no-such-aggregator"), 404, "NOT_FOUND")
    assert_error(await configure(wl, slug="no-such-brand"), 404, "NOT_FOUND")
    assert_error(await wl.get("/v1/brands/main/aggregators/no-such"), 404, "NOT_FOUND")
    # another tenant's brand is no brand of this one; the live realm keeps its own
    await another_brand(wl, "only-mine")
    other = await make_white_label(client, "otherwl")
    assert_error(await configure(other, slug="only-mine", secret=SECRET_A), 404, "NOT_FOUND")
    assert (await configure(wl, slug="only-mine", enabled=False)).status_code == 200
    live = await wl.get("/v1/brands/only-mine/aggregators/sandbox", mode="live")
    assert live.json()["aggregator"]["configured"] is False, live.text
    assert_error(await configure(tenant), 403, "SCOPE_DENIED")
