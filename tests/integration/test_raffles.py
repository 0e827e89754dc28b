"""Raffles: configuration, entries, the provably fair draw and scheduled draws."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    balances,
    bearer,
    body,
    count_rows,
    create_key,
    create_player,
    outbox,
)
from wowsino.engines.raffles import service
from wowsino.engines.raffles.tickets import TicketRange, holder_of, pick_winner
from wowsino.kernel import fairness
from wowsino.kernel.clock import ManualClock, iso


async def new_raffle(tenant: Tenant, mode: str = "test", **overrides: Any) -> dict[str, Any]:
    payload = {"name": "Weekly raffle", "ticket_cost_winz": 10, "prize_winz": 1000, **overrides}
    r = await tenant.post("/v1/raffles", payload, mode=mode)
    assert r.status_code == 201, r.text
    raffle: dict[str, Any] = r.json()["raffle"]
    return raffle


async def funded_player(tenant: Tenant, username: str, winz: int = 1000,
                        mode: str = "test") -> dict[str, Any]:
    player = await create_player(tenant, username, mode=mode)
    if winz:
        r = await adjust(tenant, username, winz, rail="winz", asset="WINZ", mode=mode)
        assert r.status_code == 201, r.text
    return player


async def enter(tenant: Tenant, raffle_id: str, user: str, tickets: int,
                key: str | None = None, mode: str = "test") -> httpx.Response:
    payload: dict[str, Any] = {"user_id": user, "tickets": tickets}
    if key is not None:
        payload["idempotency_key"] = key
    return await tenant.post(f"/v1/raffles/{raffle_id}/enter", payload, mode=mode)


async def winz(tenant: Tenant, user: str) -> Decimal:
    value: Decimal = (await balances(tenant, user))["winz"]["WINZ"]
    return value


def recompute_winner(draw: dict[str, Any], ticket_list: str) -> tuple[int, list[int]]:
    """What a player does offline: hash the published bytes, rerun the stream."""
    client_seed = hashlib.sha256(ticket_list.encode("utf-8")).hexdigest()
    assert client_seed == draw["client_seed"]
    stream = fairness.ByteStream(draw["server_seed"], client_seed)
    picks = [fairness.uniform_int(stream, draw["total_tickets"])
             for _ in range(len(draw["skipped_ticket_idxs"]) + 1)]
    return picks[-1], picks[:-1]


async def test_create_commits_to_a_seed_and_lists_only_its_hash(tenant: Tenant) -> None:
    raffle = await new_raffle(tenant, max_tickets_per_player=5, draw_at="2026-01-02T12:00:00Z")
    assert raffle["status"] == "active"
    assert raffle["ticket_cost_winz"] == 10 and raffle["prize_winz"] == 1000
    assert raffle["max_tickets_per_player"] == 5 and raffle["total_tickets"] == 0
    assert raffle["draw_at"] == "2026-01-02T12:00:00Z"
    assert len(raffle["server_seed_hash"]) == 64 and raffle["server_seed"] is None
    listed = (await tenant.get("/v1/raffles")).json()
    assert listed["next_cursor"] is None
    assert [r["id"] for r in listed["data"]] == [raffle["id"]]
    assert listed["data"][0]["server_seed"] is None
    assert listed["data"][0]["server_seed_hash"] == raffle["server_seed_hash"]
    one = (await tenant.get(f"/v1/raffles/{raffle['id']}")).json()["raffle"]
    assert one == raffle


async def test_listing_pages_and_filters_by_status(tenant: Tenant, clock: ManualClock) -> None:
    ids = []
    for i in range(3):
        ids.append((await new_raffle(tenant, name=f"r{i}"))["id"])
        clock.advance(timedelta(seconds=1))
    await tenant.post(f"/v1/raffles/{ids[0]}/pause")
    first = (await tenant.get("/v1/raffles", params={"limit": 2})).json()
    assert [r["id"] for r in first["data"]] == [ids[2], ids[1]]
    second = (await tenant.get("/v1/raffles",
                               params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [r["id"] for r in second["data"]] == [ids[0]] and second["next_cursor"] is None
    paused = (await tenant.get("/v1/raffles", params={"status": "paused"})).json()
    assert [r["id"] for r in paused["data"]] == [ids[0]]
    assert_validation(await tenant.get("/v1/raffles", params={"cursor": "bogus"}), "cursor")


@pytest.mark.parametrize(("field", "raw"), [
    ("prize_winz", "0"), ("prize_winz", "1.5"), ("ticket_cost_winz", "-1"),
    ("ticket_cost_winz", "0.5"), ("max_tickets_per_player", "0"),
    ("max_tickets_per_player", '"3"'), ("draw_at", '"2025-12-31T12:00:00Z"'),
    ("draw_at", '"2026-02-01T12:00:00"'), ("name", '""'),
])
async def test_bad_configuration_is_refused_naming_the_field(
    tenant: Tenant, engine: Any, field: str, raw: str
) -> None:
    values = {"name": '"r"', "ticket_cost_winz": "10", "prize_winz": "100", field: raw}
    text = "{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}"
    r = await tenant.client.post("/v1/raffles", content=text,
                                 headers={**tenant.headers(), "Content-Type": "application/json"})
    assert_validation(r, field)
    assert await count_rows(engine, "raffles", tenant.id) == 0


async def test_a_free_raffle_debits_nothing(tenant: Tenant) -> None:
    raffle = await new_raffle(tenant, ticket_cost_winz=0)
    await funded_player(tenant, "alice", winz=0)
    r = await enter(tenant, raffle["id"], "alice", 2)
    assert r.status_code == 201, r.text
    assert r.json()["winz_debited"] == 0 and r.json()["total_tickets"] == 2
    assert await winz(tenant, "alice") == 0


async def test_entering_debits_the_cost_and_numbers_tickets_in_entry_order(
    tenant: Tenant,
) -> None:
    raffle = await new_raffle(tenant)
    alice = await funded_player(tenant, "alice", 100)
    await funded_player(tenant, "bob", 100)
    first = await enter(tenant, raffle["id"], "alice", 3)
    assert first.status_code == 201, first.text
    got = first.json()
    assert got["tickets"] == 3 and got["first_ticket_idx"] == 0
    assert got["total_tickets"] == 3 and got["winz_debited"] == 30 and got["deduped"] is False
    assert got["user"] == {"user_id": alice["user_id"], "username": "alice"}
    second = (await enter(tenant, raffle["id"], alice["user_id"], 1)).json()
    third = (await enter(tenant, raffle["id"], "bob", 2)).json()
    assert second["holder_id"] == got["holder_id"] != third["holder_id"]
    assert (second["first_ticket_idx"], third["first_ticket_idx"]) == (3, 4)
    assert third["total_tickets"] == 6
    assert await winz(tenant, "alice") == 60 and await winz(tenant, "bob") == 80
    listed = (await tenant.get(f"/v1/raffles/{raffle['id']}/tickets")).json()
    assert listed["final"] is False and listed["total_tickets"] == 6
    a, b = got["holder_id"], third["holder_id"]
    assert [(e["holder_id"], e["first_ticket_idx"], e["tickets"]) for e in listed["entries"]] == [
        (a, 0, 3), (a, 3, 1), (b, 4, 2)]


async def test_twenty_concurrent_entries_number_tickets_without_gaps(tenant: Tenant) -> None:
    raffle = await new_raffle(tenant)
    names = [f"p{i:02d}" for i in range(20)]
    for name in names:
        await funded_player(tenant, name, 100)
    wanted = {name: 1 + i % 3 for i, name in enumerate(names)}
    responses = await asyncio.gather(*(enter(tenant, raffle["id"], n, wanted[n])
                                       for n in names))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    ranges = sorted((r.json()["first_ticket_idx"], r.json()["tickets"]) for r in responses)
    expected_next = 0
    for first, count in ranges:
        assert first == expected_next
        expected_next += count
    total = sum(wanted.values())
    assert expected_next == total
    assert max(r.json()["total_tickets"] for r in responses) == total
    listed = (await tenant.get(f"/v1/raffles/{raffle['id']}/tickets")).json()
    assert [(e["first_ticket_idx"], e["tickets"]) for e in listed["entries"]] == ranges
    for name in names:
        assert await winz(tenant, name) == 100 - 10 * wanted[name]


async def test_draw_is_recomputable_from_the_published_ticket_list(
    tenant: Tenant, engine: Any
) -> None:
    raffle = await new_raffle(tenant, prize_winz=500)
    committed_hash = raffle["server_seed_hash"]
    for name, count in (("alice", 3), ("bob", 5), ("carol", 1)):
        await funded_player(tenant, name, 100)
        assert (await enter(tenant, raffle["id"], name, count)).status_code == 201
    before = (await tenant.get(f"/v1/raffles/{raffle['id']}/tickets")).json()
    assert before["server_seed"] is None and before["server_seed_hash"] == committed_hash

    r = await tenant.post(f"/v1/raffles/{raffle['id']}/draw", {})
    assert r.status_code == 201, r.text
    draw = r.json()
    assert draw["deduped"] is False and draw["total_tickets"] == 9 and draw["prize_winz"] == 500
    assert draw["server_seed_hash"] == committed_hash
    assert hashlib.sha256(bytes.fromhex(draw["server_seed"])).hexdigest() == committed_hash

    published = (await tenant.get(f"/v1/raffles/{raffle['id']}/tickets")).json()
    assert published["final"] is True and published["server_seed"] == draw["server_seed"]
    assert published["ticket_list"] == before["ticket_list"]
    assert json.loads(published["ticket_list"]) == published["entries"]
    assert published["client_seed"] == draw["client_seed"]
    assert draw["skipped_ticket_idxs"] == []
    assert fairness.draw_uniform(draw["server_seed"], draw["client_seed"], 9) \
        == draw["winning_ticket_idx"]
    ranges = [TicketRange(**e, player_id="") for e in published["entries"]]
    holder = holder_of(ranges, draw["winning_ticket_idx"])
    assert draw["winner"]["holder_id"] == holder.holder_id
    entries = {name: (await tenant.get(f"/v1/raffles/{raffle['id']}/entries/{name}")).json()
               for name in ("alice", "bob", "carol")}
    [winner_name] = [n for n, e in entries.items() if e["holder_id"] == holder.holder_id]
    assert draw["winner_username"] == winner_name == draw["winner"]["username"]

    start = {"alice": 70, "bob": 50, "carol": 90}
    for name, left in start.items():
        assert await winz(tenant, name) == left + (500 if name == winner_name else 0)
    after = (await tenant.get(f"/v1/raffles/{raffle['id']}")).json()["raffle"]
    assert after["status"] == "completed" and after["server_seed"] == draw["server_seed"]
    assert after["draw"]["draw_id"] == draw["draw_id"]
    [event] = await outbox(engine, tenant.id, "test", "raffle.drawn")
    assert event["raffle_id"] == raffle["id"] and event["raffle_name"] == "Weekly raffle"
    assert event["winner"] == entries[winner_name]["user"]
    for field in ("prize_winz", "winning_ticket_idx", "total_tickets", "server_seed",
                  "server_seed_hash", "client_seed"):
        assert event[field] == draw[field], field


async def test_insufficient_winz_moves_nothing_and_sells_no_ticket(
    tenant: Tenant, engine: Any
) -> None:
    raffle = await new_raffle(tenant)
    await funded_player(tenant, "alice", 25)
    entries_before = await count_rows(engine, "ledger_entries", tenant.id, "test")
    r = await enter(tenant, raffle["id"], "alice", 3, key="buy-3")
    assert_error(r, 402, "INSUFFICIENT_WINZ")
    assert await winz(tenant, "alice") == 25
    assert await count_rows(engine, "ledger_entries", tenant.id, "test") == entries_before
    assert await count_rows(engine, "raffle_entries", tenant.id) == 0
    assert (await tenant.get(f"/v1/raffles/{raffle['id']}")).json()["raffle"][
        "total_tickets"] == 0
    assert (await enter(tenant, raffle["id"], "alice", 2, key="buy-2")).status_code == 201


async def test_replaying_an_entry_with_the_same_key_debits_once(tenant: Tenant) -> None:
    raffle = await new_raffle(tenant)
    await funded_player(tenant, "alice", 100)
    first = await enter(tenant, raffle["id"], "alice", 2, key="entry-1")
    replay = await enter(tenant, raffle["id"], "alice", 2, key="entry-1")
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.json()["deduped"] is True
    assert {k: v for k, v in replay.json().items() if k != "deduped"} == \
        {k: v for k, v in first.json().items() if k != "deduped"}
    assert await winz(tenant, "alice") == 80
    assert (await tenant.get(f"/v1/raffles/{raffle['id']}")).json()["raffle"][
        "total_tickets"] == 2
    assert_error(await enter(tenant, raffle["id"], "alice", 3, key="entry-1"), 422,
                 "IDEMPOTENCY_KEY_REUSED")


async def test_a_raffle_is_drawn_once(tenant: Tenant, engine: Any) -> None:
    raffle = await new_raffle(tenant)
    await funded_player(tenant, "alice", 100)
    await enter(tenant, raffle["id"], "alice", 1)
    first = await tenant.post(f"/v1/raffles/{raffle['id']}/draw", {"idempotency_key": "d1"})
    replay = await tenant.post(f"/v1/raffles/{raffle['id']}/draw", {"idempotency_key": "d1"})
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.json()["deduped"] is True
    assert replay.json()["draw_id"] == first.json()["draw_id"]
    assert_error(await tenant.post(f"/v1/raffles/{raffle['id']}/draw",
                                   {"idempotency_key": "d2"}), 409, "NOT_ACTIVE")
    assert_error(await enter(tenant, raffle["id"], "alice", 1), 409, "NOT_ACTIVE")
    assert await winz(tenant, "alice") == 90 + 1000
    assert len(await outbox(engine, tenant.id, "test", "raffle.drawn")) == 1
    assert await count_rows(engine, "raffle_draws", tenant.id) == 1


async def test_drawing_without_tickets_is_refused(tenant: Tenant) -> None:
    raffle = await new_raffle(tenant)
    assert_error(await tenant.post(f"/v1/raffles/{raffle['id']}/draw"), 409, "NO_TICKETS")
    assert (await tenant.get(f"/v1/raffles/{raffle['id']}")).json()["raffle"][
        "status"] == "active"


async def test_the_per_player_cap_refuses_extra_tickets_without_debiting(
    tenant: Tenant,
) -> None:
    raffle = await new_raffle(tenant, max_tickets_per_player=5)
    await funded_player(tenant, "alice", 100)
    await funded_player(tenant, "bob", 100)
    assert (await enter(tenant, raffle["id"], "alice", 3)).status_code == 201
    refused = assert_error(await enter(tenant, raffle["id"], "alice", 3), 403, "LIMIT_EXCEEDED")
    assert refused["details"] == {"max_tickets_per_player": 5, "held": 3, "requested": 3}
    assert await winz(tenant, "alice") == 70
    assert (await enter(tenant, raffle["id"], "alice", 2)).status_code == 201
    assert (await enter(tenant, raffle["id"], "bob", 5)).status_code == 201
    assert_error(await enter(tenant, raffle["id"], "alice", 1), 403, "LIMIT_EXCEEDED")


async def test_run_due_draws_when_draw_at_comes(
    tenant: Tenant, app: Any, clock: ManualClock, engine: Any
) -> None:
    platform = app.state.platform
    draw_at = clock.now() + timedelta(hours=1)
    raffle = await new_raffle(tenant, draw_at=iso(draw_at))
    empty = await new_raffle(tenant, name="Nobody came", draw_at=iso(draw_at))
    later = await new_raffle(tenant, name="Later", draw_at=iso(draw_at + timedelta(days=1)))
    await funded_player(tenant, "alice", 100)
    await enter(tenant, raffle["id"], "alice", 2)
    await enter(tenant, later["id"], "alice", 1)
    assert await service.run_due(platform) == 0

    clock.advance(timedelta(hours=1))
    assert_error(await enter(tenant, raffle["id"], "alice", 1), 409, "NOT_ACTIVE")
    assert await service.run_due(platform) == 2
    drawn = (await tenant.get(f"/v1/raffles/{raffle['id']}")).json()["raffle"]
    assert drawn["status"] == "completed"
    assert drawn["draw"]["trigger"] == "scheduled"
    assert drawn["draw"]["winner_username"] == "alice"
    assert drawn["draw"]["drawn_at"] == iso(draw_at)
    cancelled = (await tenant.get(f"/v1/raffles/{empty['id']}")).json()["raffle"]
    assert cancelled["status"] == "cancelled" and cancelled["draw"] is None
    assert hashlib.sha256(bytes.fromhex(cancelled["server_seed"])).hexdigest() == \
        empty["server_seed_hash"]
    assert (await tenant.get(f"/v1/raffles/{later['id']}")).json()["raffle"][
        "status"] == "active"
    assert await winz(tenant, "alice") == 70 + 1000
    assert await service.run_due(platform) == 0
    assert len(await outbox(engine, tenant.id, "test", "raffle.drawn")) == 1


async def test_several_workers_settle_each_due_raffle_once(
    tenant: Tenant, app: Any, clock: ManualClock, engine: Any
) -> None:
    draw_at = iso(clock.now() + timedelta(minutes=1))
    await funded_player(tenant, "alice", 1000)
    for i in range(4):
        raffle = await new_raffle(tenant, name=f"r{i}", draw_at=draw_at)
        await enter(tenant, raffle["id"], "alice", 1)
    clock.advance(timedelta(minutes=1))
    platform = app.state.platform
    settled = await asyncio.gather(*(service.run_due(platform) for _ in range(3)))
    assert sum(settled) == 4
    assert len(await outbox(engine, tenant.id, "test", "raffle.drawn")) == 4
    assert await winz(tenant, "alice") == 1000 - 40 + 4 * 1000


async def test_concurrent_draws_with_different_keys_draw_once(
    tenant: Tenant, engine: Any
) -> None:
    raffle = await new_raffle(tenant)
    await funded_player(tenant, "alice", 100)
    await enter(tenant, raffle["id"], "alice", 1)
    responses = await asyncio.gather(*(
        tenant.post(f"/v1/raffles/{raffle['id']}/draw", {"idempotency_key": f"k{i}"})
        for i in range(5)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    assert await count_rows(engine, "raffle_draws", tenant.id) == 1
    assert await winz(tenant, "alice") == 90 + 1000


async def test_run_due_leaves_paused_raffles_until_resumed(
    tenant: Tenant, app: Any, clock: ManualClock
) -> None:
    raffle = await new_raffle(tenant, draw_at=iso(clock.now() + timedelta(minutes=5)))
    await funded_player(tenant, "alice", 100)
    await enter(tenant, raffle["id"], "alice", 1)
    assert (await tenant.post(f"/v1/raffles/{raffle['id']}/pause")).status_code == 200
    clock.advance(timedelta(minutes=10))
    assert await service.run_due(app.state.platform) == 0
    assert (await tenant.post(f"/v1/raffles/{raffle['id']}/resume")).status_code == 200
    assert await service.run_due(app.state.platform) == 1


async def test_a_blocked_player_can_neither_enter_nor_win(tenant: Tenant, engine: Any) -> None:
    raffle = await new_raffle(tenant)
    await funded_player(tenant, "alice", 100)
    await funded_player(tenant, "mallory", 1000)
    await funded_player(tenant, "eve", 100)
    await tenant.patch("/v1/players/eve/status", {"status": "self_excluded", "reason": "RG"})
    assert_error(await enter(tenant, raffle["id"], "eve", 1), 403, "PLAYER_BLOCKED")
    assert await winz(tenant, "eve") == 100
    assert (await enter(tenant, raffle["id"], "alice", 1)).status_code == 201
    assert (await enter(tenant, raffle["id"], "mallory", 50)).status_code == 201
    await tenant.patch("/v1/players/mallory/status", {"status": "fraud_hold", "reason": "case"})

    r = await tenant.post(f"/v1/raffles/{raffle['id']}/draw")
    assert r.status_code == 201, r.text
    draw = r.json()
    assert draw["winner_username"] == "alice" and draw["winning_ticket_idx"] == 0
    published = (await tenant.get(f"/v1/raffles/{raffle['id']}/tickets")).json()
    winning, skipped = recompute_winner(draw, published["ticket_list"])
    assert (winning, skipped) == (draw["winning_ticket_idx"], draw["skipped_ticket_idxs"])
    assert all(i >= 1 for i in skipped)  # every skipped ticket is mallory's
    assert await winz(tenant, "mallory") == 500
    assert await winz(tenant, "alice") == 90 + 1000


async def test_a_draw_where_every_holder_is_blocked_is_refused(tenant: Tenant) -> None:
    raffle = await new_raffle(tenant)
    await funded_player(tenant, "alice", 100)
    await enter(tenant, raffle["id"], "alice", 2)
    await tenant.patch("/v1/players/alice/status", {"status": "suspended", "reason": "x"})
    assert_error(await tenant.post(f"/v1/raffles/{raffle['id']}/draw"), 409, "NO_TICKETS")


def test_a_blocked_holders_ticket_is_skipped_by_reading_the_stream_on() -> None:
    ranges = [TicketRange(0, 1, "hld_a", "a"), TicketRange(1, 9, "hld_b", "b")]
    client_seed = fairness.sha256_hex(b"tickets")
    server_seed = next(seed for seed in (hashlib.sha256(str(i).encode()).hexdigest()
                                         for i in range(1000))
                       if fairness.draw_uniform(seed, client_seed, 10) != 0)
    pick = pick_winner(server_seed, client_seed, ranges, excluded={"b"})
    assert pick.winning_ticket_idx == 0 and pick.holder.player_id == "a"
    first = fairness.draw_uniform(server_seed, client_seed, 10)
    assert pick.skipped_ticket_idxs[0] == first
    assert pick_winner(server_seed, client_seed, ranges, excluded=set()).winning_ticket_idx \
        == first
    with pytest.raises(ValueError, match="no ticket can win"):
        pick_winner(server_seed, client_seed, ranges, excluded={"a", "b"})


async def test_pause_resume_and_patch_rules(tenant: Tenant, engine: Any) -> None:
    raffle = await new_raffle(tenant)
    rid = raffle["id"]
    r = await tenant.patch(f"/v1/raffles/{rid}", {"prize_winz": 2000, "ticket_cost_winz": 5})
    assert r.status_code == 200, r.text
    assert r.json()["raffle"]["prize_winz"] == 2000
    paused = await tenant.post(f"/v1/raffles/{rid}/pause")
    assert paused.json()["raffle"]["status"] == "paused"
    await funded_player(tenant, "alice", 100)
    assert_error(await enter(tenant, rid, "alice", 1), 409, "NOT_ACTIVE")
    assert_error(await tenant.post(f"/v1/raffles/{rid}/draw"), 409, "NOT_ACTIVE")
    await tenant.post(f"/v1/raffles/{rid}/resume")
    assert (await enter(tenant, rid, "alice", 2)).json()["winz_debited"] == 10
    assert_error(await tenant.patch(f"/v1/raffles/{rid}", {"prize_winz": 1}), 409,
                 "TICKETS_SOLD")
    renamed = await tenant.patch(f"/v1/raffles/{rid}", {"name": "Grand raffle",
                                                         "max_tickets_per_player": None})
    assert renamed.status_code == 200 and renamed.json()["raffle"]["name"] == "Grand raffle"
    assert_validation(await tenant.patch(f"/v1/raffles/{rid}", {"prize_winz": None}),
                      "prize_winz")
    await tenant.post(f"/v1/raffles/{rid}/draw")
    assert_error(await tenant.post(f"/v1/raffles/{rid}/resume"), 409, "NOT_ACTIVE")
    assert_error(await tenant.patch(f"/v1/raffles/{rid}",
                                    {"draw_at": "2027-01-01T00:00:00Z"}), 409, "NOT_ACTIVE")
    assert (await tenant.patch(f"/v1/raffles/{rid}", {"name": "Done"})).status_code == 200
    actions = await count_rows(engine, "audit_log", tenant.id, "test",
                               where="target_type = 'raffle'")
    assert actions == 7  # created, updated, paused, active, updated, drawn, updated


async def test_other_tenants_and_the_other_mode_see_no_raffle(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    raffle = await new_raffle(tenant)
    await funded_player(tenant, "alice", 100)
    await enter(tenant, raffle["id"], "alice", 1)
    await funded_player(other_tenant, "alice", 100)
    rid = raffle["id"]
    for outsider, mode in ((other_tenant, "test"), (tenant, "live")):
        assert_error(await outsider.get(f"/v1/raffles/{rid}", mode=mode), 404, "NO_RAFFLE")
        assert_error(await outsider.get(f"/v1/raffles/{rid}/tickets", mode=mode), 404,
                     "NO_RAFFLE")
        assert_error(await enter(outsider, rid, "alice", 1, mode=mode), 404, "NO_RAFFLE")
        assert_error(await outsider.post(f"/v1/raffles/{rid}/draw", mode=mode), 404,
                     "NO_RAFFLE")
        assert_error(await outsider.patch(f"/v1/raffles/{rid}", {"name": "x"}, mode=mode), 404,
                     "NO_RAFFLE")
        assert (await outsider.get("/v1/raffles", mode=mode)).json()["data"] == []
    assert_error(await tenant.get("/v1/raffles/not-a-uuid"), 404, "NO_RAFFLE")
    assert_error(await enter(tenant, rid, "nobody", 1), 404, "NO_PLAYER")


async def test_configuration_needs_the_config_scope(client: httpx.AsyncClient,
                                                    tenant: Tenant) -> None:
    raffle = await new_raffle(tenant)
    key = (await create_key(client, tenant, ["engagement:read", "engagement:write"]))["key"]
    refused = await client.post("/v1/raffles", headers=bearer(key),
                                json={"name": "r", "ticket_cost_winz": 1, "prize_winz": 1})
    assert_error(refused, 403, "SCOPE_DENIED")
    assert_error(await client.post(f"/v1/raffles/{raffle['id']}/draw", headers=bearer(key)),
                 403, "SCOPE_DENIED")
    assert (await client.get("/v1/raffles", headers=bearer(key))).status_code == 200
    assert body(await client.get(f"/v1/raffles/{raffle['id']}/tickets",
                                 headers=bearer(key)))["total_tickets"] == 0


async def test_the_worker_draws_a_raffle_at_draw_at(app: Any, tenant: Tenant, clock: Any) -> None:
    from datetime import timedelta

    from wowsino.kernel.clock import iso
    from wowsino.worker import Worker

    draw_at = clock.now() + timedelta(hours=1)
    r = await tenant.post("/v1/raffles", {"name": "Hourly", "ticket_cost_winz": 0,
                                          "prize_winz": 50, "draw_at": iso(draw_at)})
    assert r.status_code == 201, r.text
    raffle_id = r.json()["raffle"]["id"]
    await tenant.post("/v1/players", {"username": "wally", "email": "w@example.com"})
    entered = await tenant.post(f"/v1/raffles/{raffle_id}/enter", {"user_id": "wally",
                                                                  "tickets": 1})
    assert entered.status_code == 201, entered.text
    worker = Worker(app.state.platform)
    assert (await worker.tick())["raffles_drawn"] == 0
    clock.advance(timedelta(hours=1, seconds=1))
    assert (await worker.tick())["raffles_drawn"] == 1
    raffle = (await tenant.get(f"/v1/raffles/{raffle_id}")).json()["raffle"]
    assert raffle["status"] == "completed"
