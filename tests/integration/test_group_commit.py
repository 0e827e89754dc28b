"""Single wager events through group commit: concurrent requests share a transaction,
and each gets exactly the answer it would get alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.support import (
    adjust,
    assert_error,
    balances,
    body,
    create_player,
    unthrottle,
)
from wowsino.kernel.idempotency import KeyedRequest

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def wager(n: int | str, user: str = "alice", amount: str = "1.00", **extra: Any
          ) -> dict[str, Any]:
    return {"user_id": user, "source_wager_id": f"w-{n}", "amount": amount, "currency": "USD",
            **extra}


async def wagered(engine: Any) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT p.username, s.total_wagered FROM player_stats s JOIN players p "
            "ON p.tenant_id = s.tenant_id AND p.id = s.player_id"))
        return {r[0]: int(r[1]) for r in rows}


async def stored_keys(engine: Any) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT key FROM idempotency_keys WHERE endpoint = 'POST /v1/events/wager'"))
        return {r[0] for r in rows}


async def test_concurrent_single_wagers_share_commits_and_each_gets_its_own_answer(
    tenant: Tenant, engine: Any, app: Any,
) -> None:
    await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    requests: list[tuple[str, dict[str, Any]]] = []
    for i in range(30):  # fresh wagers, 10 cents each, alternating players
        requests.append((f"k-{i}", wager(i, "alice" if i % 2 else "bob", "0.10")))
    for i in range(4):  # an unknown player: 404, nothing stored under the key
        requests.append((f"k-nobody-{i}", wager(f"n{i}", "nobody")))
    for i in range(3):  # one wager sent three times under three keys: one effect
        requests.append((f"k-dup-{i}", wager("dup", "alice", "5.00")))
    requests.append(("k-clash-a", wager("clash", "bob", "2.00")))  # same id, other content
    requests.append(("k-clash-b", wager("clash", "bob", "3.00")))

    async def send(key: str, event: dict[str, Any]) -> httpx.Response:
        return await tenant.post("/v1/events/wager", {**event, "idempotency_key": key})

    group = app.state.platform
    answers = await asyncio.gather(*(send(k, e) for k, e in requests))
    by_key = dict(zip((k for k, _ in requests), answers, strict=True))
    for i in range(30):
        assert by_key[f"k-{i}"].status_code == 201, by_key[f"k-{i}"].text
        assert body(by_key[f"k-{i}"])["source_wager_id"] == f"w-{i}"
    for i in range(4):
        assert_error(by_key[f"k-nobody-{i}"], 404, "NO_PLAYER")
    dup = sorted(by_key[f"k-dup-{i}"].status_code for i in range(3))
    assert dup == [200, 200, 201]
    assert all(body(by_key[f"k-dup-{i}"])["effects"] == body(by_key["k-dup-0"])["effects"]
               for i in range(3))
    clash = sorted(by_key[k].status_code for k in ("k-clash-a", "k-clash-b"))
    assert clash == [201, 409]
    winner = 200 if by_key["k-clash-a"].status_code == 201 else 300
    # every effect exactly once: 15 x 10 cents each, the duplicate once, one of the clash
    assert await wagered(engine) == {"alice": 150 + 500, "bob": 150 + winner}
    # refusals store nothing under their keys (a retry performs the request again)
    assert not {k for k in await stored_keys(engine) if k.startswith("k-nobody")}
    coalescer = group.coalescers["wager"]
    assert coalescer.items == len(requests)
    assert coalescer.groups < coalescer.items  # they did share commits

    # a replay under each key answers what the key first answered
    for key, event in requests[:3]:
        again = await send(key, event)
        assert again.status_code == 200 and body(again)["deduped"] is True
        assert body(again)["effects"] == body(by_key[key])["effects"]


async def test_the_same_key_twice_at_once_gives_one_effect_and_a_replay(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    answers = await asyncio.gather(*(tenant.post("/v1/events/wager", {
        **wager(1, amount="1.00"), "idempotency_key": "same"}) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({str(body(a)["effects"]) for a in answers}) == 1
    assert await wagered(engine) == {"alice": 100}
    reused = await tenant.post("/v1/events/wager", {**wager(2), "idempotency_key": "same"})
    assert_error(reused, 422, "IDEMPOTENCY_KEY_REUSED")


async def test_a_refused_request_in_a_group_leaves_its_key_free_for_a_retry(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    first = await asyncio.gather(
        tenant.post("/v1/events/wager", {**wager(1, "carol"), "idempotency_key": "retry-me"}),
        tenant.post("/v1/events/wager", {**wager(2), "idempotency_key": "other"}))
    assert_error(first[0], 404, "NO_PLAYER")
    assert first[1].status_code == 201
    await create_player(tenant, "carol")
    retried = await tenant.post("/v1/events/wager", {**wager(1, "carol"),
                                                     "idempotency_key": "retry-me"})
    assert retried.status_code == 201, retried.text
    assert await wagered(engine) == {"alice": 100, "carol": 100}


async def test_a_group_that_fails_as_a_whole_is_sent_again_one_request_at_a_time(
    tenant: Tenant, engine: Any, app: Any,
) -> None:
    """A consumer that raises for the group (rather than answering per wager) must not
    cost the other requests their answers."""
    from wowsino.events import service

    await create_player(tenant, "alice")
    real = service.record_wagers
    calls: list[int] = []

    async def failing_once(conn: Any, **kw: Any) -> Any:
        calls.append(len(kw["events"]))
        if len(calls) == 1:
            raise RuntimeError("a consumer failed for the whole group")
        return await real(conn, **kw)

    service.record_wagers = failing_once  # type: ignore[assignment]
    try:
        answers = await asyncio.gather(*(tenant.post("/v1/events/wager", wager(i))
                                         for i in range(6)))
    finally:
        service.record_wagers = real  # type: ignore[assignment]
    assert [a.status_code for a in answers] == [201] * 6
    assert await wagered(engine) == {"alice": 600}


async def test_run_group_claims_replays_and_releases_like_run(app: Any, tenant: Tenant) -> None:
    """``IdempotentWrites.run_group`` directly: a fresh key runs, a stored key replays, a
    refused request stores nothing."""
    from uuid import UUID

    from wowsino.kernel.errors import NotFound
    from wowsino.kernel.realm import Mode, Realm

    writes = app.state.platform.writes
    realm = Realm(UUID(tenant.id), Mode.TEST)
    ran: list[int] = []

    async def effect(conn: Any, indexes: list[int]) -> list[Any]:
        ran.extend(indexes)
        return [NotFound("no", code="NO_THING") if i == 2 else (201, {"n": i})
                for i in indexes]

    requests = [KeyedRequest(f"g-{i}", {"n": i}) for i in range(3)]
    first = await writes.run_group(realm=realm, endpoint="POST /test", requests=requests,
                                   effect=effect)
    assert [getattr(a, "status", None) for a in first[:2]] == [201, 201]
    assert isinstance(first[2], NotFound)
    ran.clear()
    second = await writes.run_group(realm=realm, endpoint="POST /test", requests=[
        *requests, KeyedRequest("g-0-other", {"n": 0})], effect=effect)
    assert ran == [2, 3]  # only the released key and the new one run again
    assert [a.status for a in second[:2]] == [200, 200]  # type: ignore[union-attr]
    assert [a.body["n"] for a in second[:2]] == [0, 1]  # type: ignore[union-attr]


# --- adjustments ---------------------------------------------------------------------------


async def audit_rows(engine: Any, tenant_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT request_id, target_id, after FROM audit_log WHERE tenant_id = :t "
            "AND action = 'player.adjusted' ORDER BY id"), {"t": tenant_id})
        return [dict(r._mapping) for r in rows]


async def test_concurrent_adjustments_share_commits_and_each_gets_its_own_answer(
    tenant: Tenant, engine: Any, app: Any,
) -> None:
    from tests.integration.bonus_support import ledger_problems

    await unthrottle(tenant)
    names = ["alice", "bob", "carol", "dave"]
    ids = {n: (await create_player(tenant, n, currency="USD"))["user_id"] for n in names}
    sent: list[tuple[str, str, str]] = []  # key, player, amount (cents)
    for i in range(48):
        sent.append((f"credit-{i}", names[i % 4], str(100 + i)))
    answers = await asyncio.gather(
        *(adjust(tenant, who, f"{int(cents) / 100:.2f}", key=key) for key, who, cents in sent),
        adjust(tenant, "nobody", "1.00", key="unknown"),
        adjust(tenant, "alice", "1.00", asset="EUR", key="other-currency"),
        *(adjust(tenant, "bob", "5.00", key="twice") for _ in range(4)))
    by_key = dict(zip([k for k, _, _ in sent], answers[:48], strict=True))
    for key, who, cents in sent:
        made = body(by_key[key])["adjustment"]
        assert by_key[key].status_code == 201, by_key[key].text
        assert made["user_id"] == ids[who] and made["amount"] == Decimal(cents) / 100
    assert_error(answers[48], 404, "NO_PLAYER")
    assert_error(answers[49], 400, "CURRENCY_MISMATCH")
    assert sorted(a.status_code for a in answers[50:]) == [200, 200, 200, 201]
    # each player's answers are the running balance of its own credits, in some order
    for who in names:
        mine = sorted(body(by_key[k])["adjustment"]["balance_after"]
                      for k, w, _ in sent if w == who)
        steps = sorted(body(by_key[k])["adjustment"]["amount"] for k, w, _ in sent if w == who)
        total = sum(steps) + (Decimal(5) if who == "bob" else 0)
        assert mine[-1] in (total, total - 5)
        assert (await balances(tenant, who))["real"]["USD"] == total
    # every credit once, each with its request's own audit row and request id
    rows = await audit_rows(engine, tenant.id)
    assert len(rows) == 48 + 1
    assert len({r["request_id"] for r in rows}) == 49
    by_entry = {r["after"]["entry_id"]: r for r in rows}
    for key, _, _ in sent:
        row = by_entry[body(by_key[key])["adjustment"]["entry_id"]]
        assert row["request_id"] == by_key[key].headers["x-request-id"]
    assert await ledger_problems(engine) == []
    coalescer = app.state.platform.coalescers["adjustment"]
    assert coalescer.groups < coalescer.items  # they did share commits
    # refusals stored nothing: the unknown player's key performs once the player exists
    await create_player(tenant, "nobody")
    retried = await adjust(tenant, "nobody", "1.00", key="unknown")
    assert retried.status_code == 201, retried.text
    # a replay answers what the key first answered
    again = await adjust(tenant, sent[0][1], f"{int(sent[0][2]) / 100:.2f}", key=sent[0][0])
    assert again.status_code == 200 and body(again)["deduped"] is True
    assert body(again)["adjustment"] == body(by_key[sent[0][0]])["adjustment"]


async def test_a_debit_beyond_the_balance_in_a_group_refuses_only_itself(
    tenant: Tenant, engine: Any, app: Any,
) -> None:
    """The ledger refuses the debit inside the group's transaction; the group is sent again
    one request at a time, and only the debit gets 402."""
    from tests.integration.bonus_support import ledger_problems

    await unthrottle(tenant)
    for name in ("alice", "bob"):
        await create_player(tenant, name)
        assert (await adjust(tenant, name, "10.00")).status_code == 201
    coalescer = app.state.platform.coalescers["adjustment"]
    # alice's balance is held by another transaction until every request below is queued,
    # so that the debit is written in a group with the others
    async with engine.connect() as holder:
        await holder.execute(text(
            "SELECT balance FROM ledger_accounts WHERE tenant_id = :t AND owner_key = "
            "(SELECT id::text FROM players WHERE tenant_id = :t AND username = 'alice') "
            "FOR UPDATE"), {"t": tenant.id})
        sending = asyncio.gather(
            *(adjust(tenant, "alice" if i % 2 else "bob", "1.00", key=f"c-{i}")
              for i in range(20)),
            adjust(tenant, "alice", "-500.00", key="too-much"),
            *(adjust(tenant, "bob", "-0.50", key=f"d-{i}") for i in range(6)))
        for _ in range(200):
            if sum(len(q) for q in coalescer._queues.values()) >= 15:
                break
            await asyncio.sleep(0.02)
        await holder.rollback()
        answers = await sending
    assert [a.status_code for a in answers[:20]] == [201] * 20
    assert_error(answers[20], 402)
    assert [a.status_code for a in answers[21:]] == [201] * 6
    assert coalescer.alone > 0  # the debit's group failed as a whole and was sent again
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("20.00")
    assert (await balances(tenant, "bob"))["real"]["USD"] == Decimal("17.00")
    assert len(await audit_rows(engine, tenant.id)) == 2 + 26
    assert await ledger_problems(engine) == []
    # the refusal stored nothing under its key: another body under it now performs
    retried = await adjust(tenant, "alice", "-15.00", key="too-much")
    assert retried.status_code == 201, retried.text
    assert body(retried)["adjustment"]["balance_after"] == Decimal("5.00")


async def test_text_the_database_cannot_store_in_a_group_refuses_only_its_request(
    tenant: Tenant, engine: Any,
) -> None:
    await unthrottle(tenant)
    await create_player(tenant, "alice")
    answers = await asyncio.gather(
        *(adjust(tenant, "alice", "1.00", key=f"ok-{i}") for i in range(12)),
        adjust(tenant, "alice", "1.00", key="nul", reason="bad \x00 reason"),
        tenant.post("/v1/players/al%00ice/adjustments", {
            "rail": "real", "asset": "USD", "amount": "1.00", "reason": "x"}))
    assert [a.status_code for a in answers[:12]] == [201] * 12
    assert_error(answers[12], 400)
    assert answers[13].status_code in (400, 404), answers[13].text
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("12.00")


async def test_xp_adjustments_are_written_one_at_a_time(
    tenant: Tenant, engine: Any, app: Any,
) -> None:
    """XP moves VIP levels: concurrent XP adjustments bypass the group, and the grouped
    service refuses them (a group holding one is sent again one request at a time)."""
    from wowsino.kernel.db import unit_of_work
    from wowsino.kernel.realm import Actor, Mode, Realm
    from wowsino.players import service

    await unthrottle(tenant)
    await create_player(tenant, "alice")
    coalescers = app.state.platform.coalescers
    before = coalescers["adjustment"].items if "adjustment" in coalescers else 0
    answers = await asyncio.gather(*(adjust(tenant, "alice", "10", rail="xp", asset="XP")
                                     for _ in range(8)))
    assert [a.status_code for a in answers] == [201] * 8
    assert sorted(body(a)["adjustment"]["balance_after"] for a in answers) == [
        Decimal(10 * n) for n in range(1, 9)]
    assert (coalescers["adjustment"].items if "adjustment" in coalescers else 0) == before
    realm = Realm(UUID(tenant.id), Mode("test"))
    wanted = [service.Adjustment("alice", "xp", "XP", "1", "r", Actor("admin", "t"))]
    with pytest.raises(ValueError, match="one at a time"):
        await unit_of_work(engine, lambda conn: service.adjust_many(
            conn, realm=realm, brand_id=UUID(tenant.brand_id), wanted=wanted, at=AT))
