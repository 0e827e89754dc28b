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
