"""Every event real flows write is in the catalogue (``wowsino.kernel.events``) with
exactly its registered fields, and the flows below write every emitted type."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from tests.conftest import Tenant
from tests.integration.bonus_support import bet, grant, template
from tests.integration.wallet_support import signed
from tests.integration.wl_support import make_white_label, player_session
from tests.support.events import check_all, stored_events
from tests.support.live_server import free_port
from wowsino.engines.raffles import service as raffles
from wowsino.kernel import events
from wowsino.kernel.clock import ManualClock, iso
from wowsino.kernel.db import unit_of_work
from wowsino.pam import exclusion
from wowsino.worker import Worker


async def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    payload: dict[str, Any] = response.json()
    return payload


async def _player(tenant: Tenant, username: str, winz: int) -> None:
    await _ok(await tenant.post("/v1/players", {"username": username,
                                                "email": f"{username}@example.com"}))
    await _ok(await tenant.post(f"/v1/players/{username}/adjustments", {
        "rail": "winz", "asset": "WINZ", "amount": winz, "reason": "top-up"}))


async def _engines(tenant: Tenant, app: Any, clock: ManualClock) -> None:
    table = [{"segment_label": "a", "weight": 1, "asset": "WINZ", "amount": 5},
             {"segment_label": "b", "weight": 1, "asset": "XP", "amount": 0}]
    box = (await _ok(await tenant.post("/v1/lootbox", {"name": "Box", "prize_table": table,
                                                       "cost_winz": 1})))["lootbox"]
    await _ok(await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"}))
    game = (await _ok(await tenant.post("/v1/mini-games", {
        "name": "Wheel", "kind": "wheel", "prize_table": table, "plays_per_day": 2})))["mini_game"]
    await _ok(await tenant.post(f"/v1/mini-games/{game['id']}/play", {"user_id": "alice"}))

    manual = (await _ok(await tenant.post("/v1/raffles", {
        "name": "Now", "ticket_cost_winz": 1, "prize_winz": 10})))["raffle"]
    await _ok(await tenant.post(f"/v1/raffles/{manual['id']}/enter",
                                {"user_id": "alice", "tickets": 2}))
    await _ok(await tenant.post(f"/v1/raffles/{manual['id']}/draw", {}))
    scheduled = (await _ok(await tenant.post("/v1/raffles", {
        "name": "Later", "ticket_cost_winz": 0, "prize_winz": 10,
        "draw_at": iso(clock.now() + timedelta(minutes=5))})))["raffle"]
    await _ok(await tenant.post(f"/v1/raffles/{scheduled['id']}/enter",
                                {"user_id": "bob", "tickets": 1}))
    clock.advance(timedelta(minutes=5))
    assert await raffles.run_due(app.state.platform) == 1

    for fields in ({}, {"must_drop_at": 11}, {"must_drop_at": 12, "mystery": True}):
        jackpot = (await _ok(await tenant.post("/v1/jackpots", {
            "name": "Pool", "currency": "USD", "seed_usd": 10, **fields})))["jackpot"]
        path = f"/v1/jackpots/{jackpot['id']}"
        for i in range(9):  # 9 × 0.25 passes any trigger in (10, 12]
            answer = await _ok(await tenant.post(f"{path}/contribute", {
                "user_id": "alice", "source_wager_id": f"w{i}", "amount": 0.25}))
            if answer["dropped"] is not None:
                break
        else:
            await _ok(await tenant.post(f"{path}/drop", {}))


async def _tournament(tenant: Tenant, clock: ManualClock) -> None:
    race = (await _ok(await tenant.post("/v1/tournaments", {
        "name": "Race", "scoring": "sum_wagered", "starts_at": iso(clock.now()),
        "ends_at": iso(clock.now() + timedelta(days=1)), "prize_table": [
            {"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 50}},
            {"rank_from": 2, "rank_to": 2, "prize": {"asset": "USD", "amount": 5}}]})))
    path = f"/v1/tournaments/{race['tournament']['id']}"
    for user in ("alice", "bob"):
        await _ok(await tenant.post(f"{path}/score", {
            "user_id": user, "source_wager_id": f"t-{user}", "amount": 1}))
    await _ok(await tenant.post(f"{path}/close", {}))


async def _bonuses(tenant: Tenant, app: Any, clock: ManualClock) -> None:
    # granted, then converted by wagering; forfeited by a stake above max_bet; expired
    made = await template(tenant, amount="10.00", wagering_multiple=1)
    await grant(tenant, made["id"], idempotency_key="convert-me")
    done = await bet(tenant, "b-convert", "10.00")
    assert any(e.get("converted") for e in done["effects"]["bonus_wagering"]), done
    capped = await template(tenant, name="Capped", wagering_multiple=10, max_bet="2.00")
    await grant(tenant, capped["id"], idempotency_key="forfeit-me")
    await bet(tenant, "b-forfeit", "5.00")
    short = await template(tenant, name="Short", wagering_multiple=10, expires_in_hours=1)
    await grant(tenant, short["id"], idempotency_key="expire-me")
    clock.advance(timedelta(hours=2))
    assert (await Worker(app.state.platform).tick())["bonuses_expired"] == 1


async def _crm(tenant: Tenant) -> None:
    # a run's message per player, its completion, and the monthly budget reached
    made = (await _ok(await tenant.post("/v1/segments", {
        "name": "All", "expression": "status = 'active'"})))["segment"]
    notify = (await _ok(await tenant.post("/v1/campaigns", {
        "name": "Hello", "segment_id": made["id"],
        "action": {"type": "notify", "message": "Hello"}})))["campaign"]
    await _ok(await tenant.post(f"/v1/campaigns/{notify['id']}/run", {}))
    await _ok(await tenant.client.put("/v1/crm/budget", headers=tenant.headers(),
                                      json={"monthly": {"WINZ": 5}}), 200)
    winz = (await _ok(await tenant.post("/v1/campaigns", {
        "name": "Coins", "segment_id": made["id"],
        "action": {"type": "grant_winz", "amount": 10}})))["campaign"]
    await _ok(await tenant.post(f"/v1/campaigns/{winz['id']}/run", {}))


async def _vip_and_journeys(tenant: Tenant) -> None:
    # a level reached (vip.level_changed) completes a journey (journey.completed); the day's
    # loss is paid back as cashback by the worker's next pass a day later
    await _ok(await tenant.put("/v1/vip", {
        "xp_per_unit": 10, "xp_daily_cap": 1000, "timezone": "UTC", "cashback_period": "daily",
        "cashback_as": "real", "levels": [
            {"level": 1, "name": "Bronze", "xp_required": 0, "cashback_pct": 10},
            {"level": 2, "name": "Silver", "xp_required": 100, "cashback_pct": 5,
             "level_up_reward": {"winz": 10}}]}), 200)
    await _ok(await tenant.post("/v1/journeys", {
        "name": "Climb", "entry_trigger": "signup", "steps": [{"trigger": "vip.level_up"}],
        "reward_winz": 5}))
    # bob: alice is cooling off (a loosened limit), so no engine engages her
    await _ok(await tenant.post("/v1/journeys/event", {"user_id": "bob", "trigger": "signup"}))
    await bet(tenant, "b-vip", "15.00", user="bob")


async def _self_exclusion(tenant: Tenant, app: Any, clock: ManualClock) -> None:
    # a white-label player excludes themselves for 6 months; the worker lifts it at the end
    wl = await make_white_label(tenant.client, "events-wl")
    me = await player_session(wl, "carol")
    await _ok(await tenant.client.post("/v1/player/self-exclude", headers=me,
                                       json={"period": "6m"}), 200)
    later = clock.now() + timedelta(days=200)
    assert await unit_of_work(app.state.platform.engine,
                              lambda conn: exclusion.end_due(conn, now=later)) == 1
async def _wallet(client: Any, app: Any) -> None:
    # a white-label player deposits twice and withdraws three times: one deposit completes
    # and one fails, one withdrawal is rejected, one paid and one whose payout fails. No
    # PSP runs here: each deposit waits, pending, and the PSP's callbacks are sent by hand.
    platform = app.state.platform
    platform.settings = dataclasses.replace(
        platform.settings, sandbox_psp_url=f"http://127.0.0.1:{free_port()}")
    secret = platform.settings.sandbox_psp_secret
    wl = await make_white_label(client, "walletwl")
    session = await player_session(wl, "wendy")
    await _ok(await wl.patch("/v1/players/wendy/kyc", {
        "status": "approved", "level": 1, "reason": "passport"}), 200)
    for method in ("card", "card_declined"):
        r = await client.post("/v1/player/deposits", headers=session, json={
            "amount": "50.00", "currency": "USD", "method": method})
        assert r.status_code == 503, r.text
    made = (await _ok(await wl.get("/v1/deposits"), 200))["data"]
    for deposit, status in zip(reversed(made), ("completed", "failed"), strict=True):
        raw, headers = signed(secret, transaction_id=f"psp-{status}", type="payment",
                              reference=deposit["reference"], status=status, amount="50.00",
                              currency="USD", reason="card_declined")
        await _ok(await client.post("/v1/psp/sandbox/callback", content=raw, headers=headers),
                  200)
    asked = [(await _ok(await client.post("/v1/player/withdrawals", headers=session, json={
        "amount": "10.00", "currency": "USD"})))["withdrawal"] for _ in range(3)]
    await _ok(await wl.post(f"/v1/withdrawals/{asked[0]['id']}/reject", {"reason": "check"}),
              200)
    for withdrawal, status in zip(asked[1:], ("completed", "failed"), strict=True):
        await _ok(await wl.post(f"/v1/withdrawals/{withdrawal['id']}/approve", {}), 200)
        raw, headers = signed(secret, transaction_id=f"out-{status}", type="payout",
                              reference=withdrawal["reference"], status=status,
                              amount="10.00", currency="USD", reason="account_closed")
        await _ok(await client.post("/v1/psp/sandbox/callback", content=raw, headers=headers),
                  200)


async def test_every_event_real_flows_write_matches_the_catalogue(
        app: Any, tenant: Tenant, clock: ManualClock, db_url: str, client: Any) -> None:
    await _ok(await tenant.post("/v1/webhooks", {"url": "http://127.0.0.1:9/hooks",
                                                 "events": ["*"]}))
    await _player(tenant, "alice", 100)
    await _player(tenant, "bob", 100)
    await _ok(await tenant.patch("/v1/players/bob/status",
                                 {"status": "suspended", "reason": "check"}), 200)
    await _ok(await tenant.post("/v1/players/alice/rg", {"deposit_daily_limit": 100,
                                                         "session_minutes_limit": 60}), 200)
    await _ok(await tenant.post("/v1/players/alice/rg", {"deposit_daily_limit": None}), 200)
    await _ok(await tenant.patch("/v1/players/bob/status",
                                 {"status": "active", "reason": "cleared"}), 200)
    await _engines(tenant, app, clock)
    await _tournament(tenant, clock)
    await _bonuses(tenant, app, clock)
    await _crm(tenant)
    await _vip_and_journeys(tenant)
    await _wallet(client, app)
    clock.advance(timedelta(hours=24, seconds=1))
    done = await Worker(app.state.platform).tick()
    assert (done["rg_applied"], done["vip_cashback_decided"]) == (1, 1)
    await _self_exclusion(tenant, app, clock)
    hooks = (await _ok(await tenant.get("/v1/webhooks"), 200))["data"]
    await _ok(await tenant.post(f"/v1/webhooks/{hooks[0]['id']}/ping", {}))

    stored = await stored_events(db_url)
    assert check_all(stored) == []
    emitted = {name for name, t in events.CATALOGUE.items() if not t.reserved}
    assert {event_type for event_type, _ in stored} == emitted
    triggers = {d["trigger_reason"] for t, d in stored if t == "jackpot.dropped"}
    assert triggers == {"manual", "must_drop", "mystery"}
