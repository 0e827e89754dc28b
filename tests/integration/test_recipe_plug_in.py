"""Public recipe 1, end to end over HTTP: a plug-in operator mirrors a player, sends a
deposit with a promo code and settled wagers; the bonus completes its wagering, converts
in one balanced entry, and the operator's webhook receiver is told to pay."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.conftest import Tenant
from tests.integration.bonus_support import entries, ledger_problems
from tests.integration.support import balances, body
from tests.support.receiver import receiver
from wowsino.webhooks import delivery


async def test_recipe_1_deposit_promo_wagers_conversion_and_webhooks(
    app: Any, tenant: Tenant, engine: Any,
) -> None:
    with receiver() as rx:
        r = await tenant.post("/v1/webhooks", {"url": rx.url, "events": ["bonus.*"]})
        assert r.status_code == 201, r.text
        secret = r.json()["webhook"]["signing_secret"]
        r = await tenant.post("/v1/players", {"username": "maria",
                                              "email": "maria@example.com",
                                              "country_code": "MT", "currency": "EUR"})
        assert r.status_code == 201, r.text
        r = await tenant.post("/v1/bonus-templates", {
            "name": "Welcome 100%", "type": "deposit_match", "currency": "EUR",
            "promo_code": "WELCOME", "amount_pct": 100, "max_amount": "100.00",
            "wagering_multiple": 5, "game_weights": {"slots": 1, "table": "0.1"},
            "max_bet": "5.00", "expires_in_hours": 72})
        assert r.status_code == 201, r.text
        r = await tenant.post("/v1/events/deposit", {
            "user_id": "maria", "source_deposit_id": "psp-1", "amount": "40.00",
            "currency": "EUR", "promo_code": "WELCOME"})
        assert r.status_code == 201, r.text
        [granted] = body(r)["effects"]["bonuses"]
        assert granted["granted"] is True and granted["bonus_amount"] == Decimal("40.00")
        # 200 EUR of weighted turnover: 40 slot spins of 5 EUR
        events = [{"user_id": "maria", "source_wager_id": f"round-{n}", "amount": "5.00",
                   "win_amount": "4.00" if n % 2 else "0", "currency": "EUR",
                   "game_category": "slots"} for n in range(40)]
        r = await tenant.post("/v1/events/wager:batch", {"events": events[:30]})
        assert all(x["status"] == 201 for x in body(r)["results"])
        r = await tenant.get("/v1/players/maria/bonuses")
        [view] = body(r)["data"]
        assert view["remaining_turnover"] == Decimal("50.00")
        for event in events[30:]:
            r = await tenant.post("/v1/events/wager", event)
            assert r.status_code == 201, r.text
        converted = [e for e in body(r)["effects"]["bonus_wagering"] if e.get("converted")]
        assert converted == [{"bonus_id": granted["bonus_id"], "converted": True,
                              "real_credited": Decimal("40.00")}]
        [entry] = await entries(engine, "bonus.convert")
        assert sum(entry["postings"].values()) == 0
        assert entry["postings"]["operator_payouts real EUR"] == 4000
        assert (await balances(tenant, "maria"))["bonus"]["EUR"] == Decimal("0.00")
        assert await ledger_problems(engine) == []
        async with delivery.client() as http:
            assert await delivery.deliver_due(app.state.platform, http) == 2
    payloads = [Webhook(secret).verify(req.body, req.headers) for req in rx.requests]
    by_type = {p["type"]: p["data"] for p in payloads}
    assert set(by_type) == {"bonus.granted", "bonus.converted"}
    assert by_type["bonus.granted"]["user"]["username"] == "maria"
    assert by_type["bonus.converted"]["bonus_id"] == granted["bonus_id"]
    [raw] = [json.loads(req.body, parse_float=Decimal) for req, p in
             zip(rx.requests, payloads, strict=True) if p["type"] == "bonus.converted"]
    assert raw["data"]["real_credited"] == Decimal("40.00")  # exact, never a float


async def test_recipe_1_engagement_with_a_moved_clock(
    app: Any, tenant: Tenant, clock: Any,
) -> None:
    """Wager events feed VIP XP (capped at the day boundary), a tournament leaderboard, a
    journey and a jackpot; the worker closes the tournament at ``ends_at`` and pays it,
    and pays the day's cashback once the day is over; every webhook arrives signed."""
    from datetime import UTC, datetime, timedelta

    from wowsino.worker import Worker

    clock.set(datetime(2026, 3, 10, 20, 0, tzinfo=UTC))
    with receiver() as rx:
        r = await tenant.post("/v1/webhooks", {"url": rx.url, "events": ["*"]})
        assert r.status_code == 201, r.text
        secret = r.json()["webhook"]["signing_secret"]
        assert (await tenant.post("/v1/players", {"username": "maria",
                                                  "email": "maria@example.com"})).status_code == 201
        r = await tenant.client.put("/v1/vip", headers=tenant.headers(), json={
            "xp_per_unit": 10, "xp_daily_cap": 500, "timezone": "UTC",
            "cashback_period": "daily", "cashback_as": "real", "levels": [
                {"level": 1, "name": "Bronze", "xp_required": 0, "cashback_pct": 10},
                {"level": 2, "name": "Silver", "xp_required": 300, "cashback_pct": 10}]})
        assert r.status_code == 200, r.text
        r = await tenant.post("/v1/tournaments", {
            "name": "Evening race", "scoring": "sum_wagered",
            "starts_at": "2026-03-10T20:00:00Z", "ends_at": "2026-03-10T23:00:00Z",
            "prize_table": [{"rank_from": 1, "rank_to": 1,
                             "prize": {"asset": "WINZ", "amount": 100}}]})
        assert r.status_code == 201, r.text
        race = body(r)["tournament"]
        r = await tenant.post("/v1/journeys", {"name": "Three spins", "entry_trigger": "wager",
                                               "steps": [{"trigger": "wager", "count": 3}],
                                               "reward_winz": 50})
        assert r.status_code == 201, r.text
        r = await tenant.post("/v1/jackpots", {"name": "Pool", "currency": "USD",
                                               "seed_usd": 100, "contribution_pct": 1})
        assert r.status_code == 201, r.text
        xp_today = []
        for n in range(8):  # 10.00 each, all lost: 100 XP each until the 500 cap
            clock.advance(timedelta(minutes=5))
            r = await tenant.post("/v1/events/wager", {
                "user_id": "maria", "source_wager_id": f"evening-{n}", "amount": "10.00",
                "currency": "USD", "game_category": "slots"})
            assert r.status_code == 201, r.text
            effects = body(r)["effects"]
            xp_today.append(effects["vip"][0]["xp_today"])
            assert effects["jackpots"][0]["contribution"] == Decimal("0.10")
            assert effects["tournaments"][0]["score"] == Decimal(10 * (n + 1))
        assert xp_today == [100, 200, 300, 400, 500, 500, 500, 500]  # capped for the day
        r = await tenant.get(f"/v1/tournaments/{race['id']}/leaderboard")
        assert [(row["rank"], row["user"]["username"], row["score"])
                for row in body(r)["data"]] == [(1, "maria", Decimal("80.00"))]
        [run] = body(await tenant.get("/v1/players/maria/journeys"))["data"]
        assert run["status"] == "completed"

        clock.set(datetime(2026, 3, 10, 23, 1, tzinfo=UTC))  # the race is over
        done = await Worker(app.state.platform).tick()
        assert done["tournaments_closed"] == 1
        clock.set(datetime(2026, 3, 11, 0, 5, tzinfo=UTC))  # a new day: the cap resets
        r = await tenant.post("/v1/events/wager", {
            "user_id": "maria", "source_wager_id": "morning-0", "amount": "10.00",
            "currency": "USD", "game_category": "slots"})
        assert body(r)["effects"]["vip"][0]["xp_today"] == 100
        done = await Worker(app.state.platform).tick()  # yesterday's cashback
        assert done["vip_cashback_decided"] >= 1
        assert (await Worker(app.state.platform).tick()).get("vip_cashback_decided", 0) == 0
        async with delivery.client() as http:
            while await delivery.deliver_due(app.state.platform, http):
                pass
    payloads = [Webhook(secret).verify(req.body, req.headers) for req in rx.requests]
    by_type: dict[str, list[Any]] = {}
    for p in payloads:
        by_type.setdefault(p["type"], []).append(p["data"])
    assert {"vip.level_changed", "journey.completed", "tournament.closed",
            "vip.cashback_granted"} <= set(by_type)
    [closed] = by_type["tournament.closed"]
    assert closed["payouts"][0]["user"]["username"] == "maria"
    [cashback] = by_type["vip.cashback_granted"]
    # 80.00 lost on the day, 10%: the operator pays 8.00 in its own wallet
    assert (cashback["amount"], cashback["operator_pays"]) == (Decimal("8.00"), True)
