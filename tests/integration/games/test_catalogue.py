"""The brand's game catalogue (secret or publishable key) and game launches (a player
session): tokens stored hashed, a documented lifetime, white-label only."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import ADMIN_TOKEN
from tests.integration.games_support import launch, seat
from tests.integration.support import assert_error, assert_validation
from tests.integration.wl_support import make_white_label, player_session
from wowsino.api import create_app
from wowsino.kernel.clock import ManualClock, iso
from wowsino.kernel.config import Settings


async def test_the_catalogue_lists_the_games_by_id_and_filters_by_category(
    client: httpx.AsyncClient,
) -> None:
    wl = await make_white_label(client)
    for headers in (wl.headers(), wl.site()):
        r = await client.get("/v1/games", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"next_cursor": None, "data": [
            {"game_id": "sandbox-roulette", "name": "Sandbox Roulette", "category": "table",
             "aggregator": "sandbox", "rtp": 97.3},
            {"game_id": "sandbox-slot", "name": "Sandbox Slot", "category": "slots",
             "aggregator": "sandbox", "rtp": 96.0}]}
    r = await client.get("/v1/games", headers=wl.site(), params={"category": "table"})
    assert [g["game_id"] for g in r.json()["data"]] == ["sandbox-roulette"]
    r = await client.get("/v1/games", headers=wl.site(), params={"category": "live"})
    assert r.json()["data"] == []
    assert_validation(await client.get("/v1/games", headers=wl.site(),
                                       params={"category": "bingo"}), "category")
    first = (await client.get("/v1/games", headers=wl.site(), params={"limit": 1})).json()
    assert [g["game_id"] for g in first["data"]] == ["sandbox-roulette"]
    r = await client.get("/v1/games", headers=wl.site(),
                         params={"limit": 1, "cursor": first["next_cursor"]})
    assert [g["game_id"] for g in r.json()["data"]] == ["sandbox-slot"]
    assert r.json()["next_cursor"] is None
    assert_validation(await client.get("/v1/games", headers=wl.site(),
                                       params={"cursor": "bm90IGEgY3Vyc29y"}), "cursor")


async def test_the_catalogue_refuses_a_plug_in_tenant(client: httpx.AsyncClient,
                                                      tenant: Any) -> None:
    assert_error(await tenant.get("/v1/games"), 403, "SCOPE_DENIED")


async def test_a_launch_opens_a_game_session_whose_token_is_stored_hashed(
    client: httpx.AsyncClient, engine: Any, clock: ManualClock,
) -> None:
    wl = await make_white_label(client)
    session = await player_session(wl, "lena")
    launched = await launch(client, session)
    token = launched["token"]
    assert token.startswith("wgs_test_") and len(token) == 57
    assert launched["expires_at"] == iso(clock.now() + timedelta(hours=24))
    assert launched["launch_url"] == f"http://127.0.0.1:8020/games/sandbox-slot?token={token}"
    assert launched["currency"] == "USD" and launched["game"]["game_id"] == "sandbox-slot"
    async with engine.connect() as conn:
        stored = (await conn.execute(text(
            "SELECT token_hash, game_id, adapter, currency FROM game_sessions"))).one()
        audited = await conn.scalar(text(
            "SELECT count(*) FROM audit_log WHERE action = 'game.launched'"))
    assert bytes(stored.token_hash) == hashlib.sha256(token.encode()).digest()
    assert (stored.game_id, stored.adapter, stored.currency) == ("sandbox-slot", "sandbox",
                                                                 "USD")
    assert audited == 1
    # each launch is a new session with a new token
    assert (await launch(client, session))["token"] != token


async def test_a_launch_takes_a_player_session_and_a_game_of_the_catalogue(
    client: httpx.AsyncClient,
) -> None:
    wl = await make_white_label(client)
    session = await player_session(wl, "lena")
    for headers in (wl.headers(), wl.site(), {}):
        r = await client.post("/v1/games/sandbox-slot/launch", headers=headers, json={})
        assert r.status_code == 401, r.text
    assert_error(await client.post("/v1/games/no-such-game/launch", headers=session, json={}),
                 404, "NO_GAME")
    assert_validation(await client.post("/v1/games/sandbox-slot/launch", headers=session,
                                        json={"currency": "EUR"}), "currency")


async def test_a_blocked_player_cannot_launch(client: httpx.AsyncClient) -> None:
    table = await seat(client)
    r = await table.wl.patch(f"/v1/players/{table.username}/status",
                             {"status": "fraud_hold", "reason": "review"})
    assert r.status_code == 200, r.text
    r = await client.post("/v1/games/sandbox-slot/launch", headers=table.session, json={})
    assert_error(r, 403, "PLAYER_BLOCKED")


async def test_live_sandbox_games_are_not_offered_in_production(
    db_url: str, clock: ManualClock,
) -> None:
    app = create_app(Settings(admin_token=ADMIN_TOKEN, env="production"), database_url=db_url,
                     clock=clock)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wowsino.test") as c:
            wl = await make_white_label(c)
            live = await c.get("/v1/games", headers=wl.site("live"))
            test = await c.get("/v1/games", headers=wl.site("test"))
            session = await player_session(wl, "lena", mode="live")
            refused = await c.post("/v1/games/sandbox-slot/launch", headers=session, json={})
    finally:
        await app.state.platform.engine.dispose()
    assert live.json()["data"] == [] and len(test.json()["data"]) == 2
    assert_error(refused, 404, "NO_GAME")
