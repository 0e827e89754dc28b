"""Single wager events through group commit: concurrent requests share a transaction,
and each gets exactly the answer it would get alone."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.support import assert_error, body, create_player
from wowsino.kernel.idempotency import KeyedRequest


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
