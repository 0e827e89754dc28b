"""No client input to the spine or the bonus engine gets a 500; refusals change nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.conftest import Tenant
from tests.integration.bonus_support import template
from tests.integration.support import assert_error, assert_validation, body, create_player

WAGER = {"user_id": "alice", "source_wager_id": "w-1", "amount": "1.00", "currency": "USD"}


async def test_odd_wager_input_is_a_400_never_a_500(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    post = tenant.post
    assert_validation(await post("/v1/events/wager", {**WAGER, "amount": "1e30"}), "amount")
    assert_validation(await post("/v1/events/wager", {**WAGER, "amount": "100000000000.01"}),
                      "amount")
    assert_validation(await post("/v1/events/wager", {**WAGER, "win_amount": "NaN"}),
                      "win_amount")
    assert_validation(await post("/v1/events/wager", {**WAGER, "settled_at": "yesterday"}),
                      "settled_at")
    assert_validation(await post("/v1/events/wager", {**WAGER, "source_wager_id": "x" * 200}),
                      "source_wager_id")
    r = await post("/v1/events/wager", {**WAGER, "source_wager_id": "a\u0000b"})
    assert r.status_code == 400, r.text
    r = await post("/v1/events/wager:batch", {"events": [1, "x", None, [], WAGER]})
    assert r.status_code == 201, r.text
    assert [x["status"] for x in body(r)["results"]] == [400, 400, 400, 400, 201]
    assert_validation(await post("/v1/events/wager:batch", {"events": [WAGER] * 1001}),
                      "events")
    assert_validation(await post("/v1/events/deposit", {
        "user_id": "alice", "source_deposit_id": "d", "amount": "-5", "currency": "USD"}),
        "amount")


async def test_odd_bonus_input_is_a_400_never_a_500(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    post = tenant.post
    base = {"name": "T", "type": "no_deposit", "amount": "10.00"}
    assert_validation(await post("/v1/bonus-templates", {**base, "amount": "1e20"}), "amount")
    assert_validation(await post("/v1/bonus-templates", {**base, "amount_pct": "NaN"}),
                      "amount_pct")
    assert_validation(await post("/v1/bonus-templates", {**base, "max_grants_per_player": 0}),
                      "max_grants_per_player")
    made = await template(tenant, type="manual", amount=None)
    assert_validation(await post("/v1/bonuses/grant", {
        "player_id": "alice", "template": made["id"], "amount": "99999999999999",
        "reason": "x"}), "amount")
    assert_error(await post("/v1/bonuses/not-a-uuid/forfeit", {"reason": "x"}), 404,
                 "NO_BONUS")
    huge = base64.urlsafe_b64encode(json.dumps([2**70]).encode()).decode().rstrip("=")
    assert_validation(await tenant.get(f"/v1/players/alice/bonuses?cursor={huge}"), "cursor")
    sim = f"/v1/bonus-templates/{made['id']}/simulate"
    assert_validation(await post(sim, {"bet_size": 1, "players": 20000, "max_spins": 200000}),
                      "max_spins")


async def test_a_promo_code_race_is_a_409(tenant: Tenant, engine: Any) -> None:
    import asyncio

    async def create() -> int:
        r = await tenant.post("/v1/bonus-templates", {"name": "T", "type": "no_deposit",
                                                      "amount": 1, "promo_code": "SAME"})
        return r.status_code

    statuses = await asyncio.gather(*(create() for _ in range(8)))
    assert sorted(statuses) == [201] + [409] * 7


async def test_a_time_that_overflows_once_in_utc_is_a_400(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    for moment in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"):
        r = await tenant.post("/v1/events/wager", {
            "user_id": "alice", "source_wager_id": f"w-{moment}", "amount": "1.00",
            "currency": "USD", "settled_at": moment})
        assert_validation(r, "settled_at")
        made = await template(tenant, type="lossback", amount=None, amount_pct=10,
                              name=f"Lossback {moment}")
        r = await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                     "template": made["id"],
                                                     "opted_in_at": moment})
        assert_validation(r, "opted_in_at")


async def test_a_wager_finds_its_player_by_username_in_any_case(tenant: Tenant) -> None:
    player = await create_player(tenant, "Alice")
    r = await tenant.post("/v1/events/wager", {
        "user_id": "aLiCe", "source_wager_id": "case-1", "amount": "1.00", "currency": "USD"})
    assert r.status_code == 201, r.text
    assert body(r)["user_id"] == player["user_id"]
