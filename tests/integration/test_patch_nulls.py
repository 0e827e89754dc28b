"""``null`` on a field that cannot be empty is a 400 naming it, on every PATCH body; where
``null`` has a meaning (removing a cap, a trigger, a description) it still works."""

from __future__ import annotations

from typing import Any

from tests.conftest import ADMIN, Tenant
from tests.integration.support import assert_validation

PRIZES = [{"segment_label": "coins", "weight": 9, "asset": "WINZ", "amount": 10},
          {"segment_label": "xp", "weight": 1, "asset": "XP", "amount": 5}]


async def _made(tenant: Tenant, path: str, payload: dict[str, Any], key: str) -> str:
    r = await tenant.post(path, payload)
    assert r.status_code == 201, r.text
    made: str = r.json()[key]["id"]
    return made


async def objects(tenant: Tenant) -> dict[str, str]:
    return {
        "webhook": await _made(tenant, "/v1/webhooks", {
            "url": "https://hooks.example.com/x", "events": ["*"]}, "webhook"),
        "lootbox": await _made(tenant, "/v1/lootbox", {"name": "Box", "prize_table": PRIZES},
                               "lootbox"),
        "mini_game": await _made(tenant, "/v1/mini-games", {
            "name": "Wheel", "kind": "wheel", "prize_table": PRIZES}, "mini_game"),
        "raffle": await _made(tenant, "/v1/raffles", {
            "name": "Raffle", "ticket_cost_winz": 10, "prize_winz": 100}, "raffle"),
        "jackpot": await _made(tenant, "/v1/jackpots", {
            "name": "Pot", "currency": "USD", "seed_usd": 10}, "jackpot"),
    }


NOT_NULL = {
    "webhook": ("/v1/webhooks/{}", ["url", "events", "status"]),
    "lootbox": ("/v1/lootbox/{}", ["name", "prize_table"]),
    "mini_game": ("/v1/mini-games/{}", ["name", "prize_table"]),
    "raffle": ("/v1/raffles/{}", ["name", "ticket_cost_winz", "prize_winz"]),
    "jackpot": ("/v1/jackpots/{}", ["name", "seed_usd"]),
}


async def test_null_on_a_required_field_is_a_400_naming_it(tenant: Tenant) -> None:
    ids = await objects(tenant)
    problems = []
    for kind, (path, fields) in NOT_NULL.items():
        for field in fields:
            r = await tenant.patch(path.format(ids[kind]), {field: None})
            if r.status_code != 400 or r.json().get("details", {}).get("field") != field:
                problems.append(f"{kind}.{field}: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)


async def test_null_still_removes_what_may_be_removed(tenant: Tenant) -> None:
    ids = await objects(tenant)
    r = await tenant.patch(f"/v1/webhooks/{ids['webhook']}", {"description": None})
    assert r.status_code == 200, r.text
    r = await tenant.patch(f"/v1/raffles/{ids['raffle']}", {"max_tickets_per_player": None,
                                                             "draw_at": None})
    assert r.status_code == 200, r.text
    r = await tenant.patch(f"/v1/jackpots/{ids['jackpot']}", {"must_drop_at": None,
                                                               "contribution_pct": None})
    assert r.status_code == 200, r.text
    for kind in ("lootbox", "mini_game"):  # null cost: free to open
        path = NOT_NULL[kind][0].format(ids[kind])
        r = await tenant.patch(path, {"cost_winz": None})
        assert r.status_code == 200, r.text


async def test_tenant_and_player_status_refuse_null(tenant: Tenant) -> None:
    r = await tenant.client.patch(f"/tenants/{tenant.id}", headers=ADMIN, json={"status": None})
    assert_validation(r, "status")
    r = await tenant.post("/v1/players", {"username": "alice", "email": "a@example.com"})
    r = await tenant.patch("/v1/players/alice/status", {"status": None, "reason": "x"})
    assert_validation(r, "status")
