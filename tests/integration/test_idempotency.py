"""Idempotent writes (api.md §3): one effect per key, replays, reuse, retention."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    balances,
    body,
    count_rows,
    create_player,
    outbox,
)
from wowsino.kernel import idempotency
from wowsino.kernel.clock import ManualClock

CREDIT = {"rail": "real", "asset": "USD", "amount": 25, "reason": "welcome credit"}


async def post_credit(tenant: Tenant, key: str | None = None, *, header: str | None = None,
                      ref: str = "alice", mode: str = "test",
                      payload: dict[str, Any] | None = None) -> httpx.Response:
    data = dict(payload or CREDIT)
    if key is not None:
        data["idempotency_key"] = key
    headers = tenant.headers(mode)
    if header is not None:
        headers["Idempotency-Key"] = header
    return await tenant.client.post(f"/v1/players/{ref}/adjustments", json=data, headers=headers)


def without_deduped(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "deduped"}


async def test_replay_with_same_key_returns_original_response_and_moves_no_money(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    first = await post_credit(tenant, "credit-1")
    assert first.status_code == 201, first.text
    assert first.json()["deduped"] is False
    assert first.headers["Idempotency-Key"] == "credit-1"

    for _ in range(3):
        again = await post_credit(tenant, "credit-1")
        assert again.status_code == 200, again.text
        assert again.json()["deduped"] is True
        assert without_deduped(body(again)) == without_deduped(body(first))
        assert again.headers["Idempotency-Key"] == "credit-1"

    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("25")
    assert await count_rows(engine, "ledger_entries", tenant.id, "test") == 1
    assert await count_rows(engine, "audit_log", tenant.id, "test",
                            "action = 'player.adjusted'") == 1


async def test_header_key_and_body_key_are_the_same_key(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    first = await post_credit(tenant, header="credit-h")
    assert first.status_code == 201, first.text
    assert first.headers["Idempotency-Key"] == "credit-h"
    by_header = await post_credit(tenant, header="credit-h")
    by_body = await post_credit(tenant, "credit-h")
    both = await post_credit(tenant, "credit-h", header="credit-h")
    for replay in (by_header, by_body, both):
        assert replay.status_code == 200, replay.text
        assert replay.json()["deduped"] is True
        assert without_deduped(replay.json()) == without_deduped(first.json())
    assert await count_rows(engine, "ledger_entries", tenant.id) == 1


async def test_body_and_header_keys_that_disagree_are_400(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    r = await post_credit(tenant, "key-a", header="key-b")
    assert_validation(r, "idempotency_key")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0


async def test_malformed_keys_are_400(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    assert_validation(await post_credit(tenant, "k" * 256), "idempotency_key")
    r = await tenant.post("/v1/players/alice/adjustments", {**CREDIT, "idempotency_key": 7})
    assert_validation(r, "idempotency_key")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0
    assert (await post_credit(tenant, "k" * 255)).status_code == 201


async def test_same_key_with_a_different_body_is_422_and_changes_nothing(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    assert (await post_credit(tenant, "credit-1")).status_code == 201
    reused = [
        await post_credit(tenant, "credit-1", payload={**CREDIT, "amount": 26}),
        await post_credit(tenant, "credit-1", payload={**CREDIT, "reason": "other"}),
        await post_credit(tenant, "credit-1", header="credit-1",
                          payload={**CREDIT, "amount": -25}),
        await post_credit(tenant, "credit-1", ref="bob"),
    ]
    for r in reused:
        assert_error(r, 422, "IDEMPOTENCY_KEY_REUSED")
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("25")
    assert (await balances(tenant, "bob"))["real"]["USD"] == Decimal("0")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 1
    # the original is still replayable
    assert (await post_credit(tenant, "credit-1")).json()["deduped"] is True


async def test_same_key_on_a_different_endpoint_is_independent(
    tenant: Tenant, engine: Any,
) -> None:
    r = await tenant.post("/v1/players", {"username": "alice", "email": "a@example.com",
                                          "idempotency_key": "shared"})
    assert r.status_code == 201, r.text
    r = await post_credit(tenant, "shared")
    assert r.status_code == 201, r.text
    assert r.json()["deduped"] is False
    r = await tenant.patch("/v1/players/alice/status",
                           {"status": "suspended", "reason": "check", "idempotency_key": "shared"})
    assert r.status_code == 200, r.text
    assert r.json()["deduped"] is False
    assert r.json()["player"]["status"] == "suspended"
    assert await count_rows(engine, "ledger_entries", tenant.id) == 1


async def test_same_key_in_the_other_mode_is_independent(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    await create_player(tenant, "alice", mode="live")
    test_credit = await post_credit(tenant, "credit-1")
    live_credit = await post_credit(tenant, "credit-1", mode="live")
    assert test_credit.status_code == 201
    assert live_credit.status_code == 201, live_credit.text
    assert live_credit.json()["deduped"] is False
    assert live_credit.json()["adjustment"]["user_id"] != test_credit.json()["adjustment"]["user_id"]
    assert (await balances(tenant, "alice", mode="live"))["real"]["USD"] == Decimal("25")
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("25")
    assert await count_rows(engine, "ledger_entries", tenant.id, "live") == 1
    assert await count_rows(engine, "ledger_entries", tenant.id, "test") == 1


async def test_without_a_key_the_server_generates_one_and_each_call_takes_effect(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    first = await post_credit(tenant)
    second = await post_credit(tenant)
    assert first.status_code == second.status_code == 201
    generated = [first.headers["Idempotency-Key"], second.headers["Idempotency-Key"]]
    assert all(generated)
    assert generated[0] != generated[1]
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("50")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 2
    # the generated key works as a key
    replay = await post_credit(tenant, header=generated[0])
    assert replay.status_code == 200
    assert replay.json()["deduped"] is True
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("50")


async def test_replayed_upsert_returns_the_stored_201_and_does_not_overwrite_later_changes(
    tenant: Tenant,
) -> None:
    payload = {"username": "alice", "email": "first@example.com", "idempotency_key": "signup"}
    first = await tenant.post("/v1/players", payload)
    assert first.status_code == 201
    assert (await tenant.post("/v1/players", {"username": "alice",
                                              "email": "second@example.com"})).status_code == 200
    replay = await tenant.post("/v1/players", payload)
    assert replay.status_code == 200
    assert replay.json()["deduped"] is True
    assert without_deduped(replay.json()) == without_deduped(first.json())
    current = (await tenant.get("/v1/players/alice")).json()["player"]
    assert current["email"] == "second@example.com"


async def test_replayed_status_change_and_rg_update_have_no_second_effect(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    change = {"status": "aml_hold", "reason": "source of funds", "idempotency_key": "st-1"}
    first = await tenant.patch("/v1/players/alice/status", change)
    replay = await tenant.patch("/v1/players/alice/status", change)
    assert first.json()["deduped"] is False
    assert replay.status_code == 200
    assert replay.json()["deduped"] is True
    assert without_deduped(replay.json()) == without_deduped(first.json())
    assert len(await outbox(engine, tenant.id, "test", "player.status_changed")) == 1
    assert await count_rows(engine, "player_notes", tenant.id, "test") == 1
    r = await tenant.patch("/v1/players/alice/status", {**change, "status": "closed"})
    assert_error(r, 422, "IDEMPOTENCY_KEY_REUSED")

    limit = {"deposit_daily_limit": 100, "idempotency_key": "rg-1"}
    assert (await tenant.post("/v1/players/alice/rg", limit)).json()["deduped"] is False
    assert (await tenant.post("/v1/players/alice/rg", limit)).json()["deduped"] is True
    assert len(await outbox(engine, tenant.id, "test", "rg.limit_changed")) == 1


async def test_a_refused_first_attempt_does_not_use_up_the_key(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    debit = {**CREDIT, "amount": -10}
    assert_error(await post_credit(tenant, "debit-1", payload=debit), 402, "INSUFFICIENT_FUNDS")
    assert (await post_credit(tenant, "top-up")).status_code == 201
    retry = await post_credit(tenant, "debit-1", payload=debit)
    assert retry.status_code == 201, retry.text
    assert retry.json()["deduped"] is False
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("15")


async def test_concurrent_requests_with_one_key_take_effect_once(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    responses = await asyncio.gather(*(post_credit(tenant, "burst") for _ in range(32)))
    outcomes = Counter()
    for r in responses:
        if r.status_code == 201:
            assert r.json()["deduped"] is False
            outcomes["created"] += 1
        elif r.status_code == 200:
            assert r.json()["deduped"] is True
            outcomes["replayed"] += 1
        else:
            assert_error(r, 409, "IDEMPOTENCY_IN_PROGRESS")
            outcomes["in_progress"] += 1
    assert outcomes["created"] == 1, outcomes
    created = next(r for r in responses if r.status_code == 201)
    for r in responses:
        if r.status_code == 200:
            assert without_deduped(r.json()) == without_deduped(created.json())
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("25")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 1
    assert await count_rows(engine, "audit_log", tenant.id, "test",
                            "action = 'player.adjusted'") == 1


async def waiting_on_locks(engine: Any) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"))
    return int(value or 0)


async def test_duplicate_while_the_first_is_still_running_is_409_in_progress(
    tenant: Tenant, engine: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await create_player(tenant, "alice")
    assert (await post_credit(tenant, "opening")).status_code == 201
    monkeypatch.setattr(idempotency, "LOCK_WAIT", "300ms")
    async with engine.connect() as holder:
        # holding the player's balance row keeps the first call in flight after its claim
        await holder.execute(
            text("SELECT 1 FROM ledger_accounts WHERE tenant_id = CAST(:t AS uuid) "
                 "AND owner_type = 'player' FOR UPDATE"), {"t": tenant.id})
        first = asyncio.create_task(post_credit(tenant, "slow-1"))
        for _ in range(500):
            if await waiting_on_locks(engine) >= 1:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the first call never reached the balance lock")
        second = await post_credit(tenant, "slow-1")
        assert_error(second, 409, "IDEMPOTENCY_IN_PROGRESS")
        assert not first.done()
        await holder.rollback()
    done = await first
    assert done.status_code == 201, done.text
    third = await post_credit(tenant, "slow-1")
    assert third.status_code == 200
    assert third.json()["deduped"] is True
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("50")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 2


async def test_keys_are_kept_30_days_then_purged(
    app: Any, tenant: Tenant, engine: Any, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    assert (await post_credit(tenant, "old-credit")).status_code == 201
    stored = await count_rows(engine, "idempotency_keys", tenant.id, "test")

    clock.advance(timedelta(days=29))
    assert await app.state.platform.writes.purge_expired() == 0
    assert (await post_credit(tenant, "old-credit")).json()["deduped"] is True

    clock.advance(timedelta(days=2))
    assert await app.state.platform.writes.purge_expired() >= 1
    assert await count_rows(engine, "idempotency_keys", tenant.id, "test",
                            "key = 'old-credit'") == 0
    assert await count_rows(engine, "idempotency_keys", tenant.id, "test") < stored
    # once purged the key is fresh again
    r = await post_credit(tenant, "old-credit")
    assert r.status_code == 201
    assert r.json()["deduped"] is False
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("50")


async def test_adjust_helper_amount_is_sent_verbatim(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await adjust(tenant, "alice", "0.30", key="exact")
    assert r.status_code == 201
    assert '"amount":0.30' in r.text
    replay = await adjust(tenant, "alice", "0.30", key="exact")
    assert replay.json()["deduped"] is True
    assert_error(await adjust(tenant, "alice", "0.31", key="exact"), 422,
                 "IDEMPOTENCY_KEY_REUSED")
