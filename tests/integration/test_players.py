"""``/v1/players``: upsert, the dossier, search, status changes and the timeline."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    create_player,
    outbox,
)
from wowsino.kernel.clock import ManualClock

DOSSIER_FIELDS = {
    "user_id", "username", "email", "external_ref", "country_code", "status", "kyc_status",
    "kyc_level", "risk_band", "is_pep", "is_sanctioned", "tags", "rg", "balances", "vip",
    "active_bonuses", "created_at",
}


async def search(tenant: Tenant, mode: str = "test", **params: Any) -> dict[str, Any]:
    r = await tenant.get("/v1/players", mode=mode, params=params)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def usernames(tenant: Tenant, mode: str = "test", **params: Any) -> list[str]:
    return [p["username"] for p in (await search(tenant, mode, **params))["data"]]


async def test_upsert_creates_with_201_then_updates_with_200_keeping_the_user_id(
    tenant: Tenant,
) -> None:
    r = await tenant.post("/v1/players", {
        "username": "alice", "email": "Alice@Example.com", "external_ref": "op-1",
        "country_code": "de", "date_of_birth": "1990-05-17", "tags": ["vip", "new"]})
    assert r.status_code == 201, r.text
    created = r.json()["player"]
    assert created.keys() >= DOSSIER_FIELDS
    assert created["username"] == "alice"
    assert created["email"] == "alice@example.com"
    assert created["country_code"] == "DE"
    assert created["status"] == "active"
    assert created["kyc_status"] == "none"
    assert created["tags"] == ["new", "vip"]
    assert created["currency"] == "USD"
    assert created["created_at"].endswith("Z")
    assert r.json()["deduped"] is False

    # the currency is fixed at creation: asking to change it is refused and changes nothing
    r = await tenant.post("/v1/players", {"username": "alice", "email": "alice@new.example",
                                          "currency": "EUR"})
    assert r.status_code == 400, r.text
    assert r.json()["details"]["field"] == "currency"
    assert (await tenant.get("/v1/players/alice")).json()["player"]["email"] == "alice@example.com"

    r = await tenant.post("/v1/players", {"username": "alice", "email": "alice@new.example",
                                          "currency": "USD"})
    assert r.status_code == 200, r.text
    updated = r.json()["player"]
    assert updated["user_id"] == created["user_id"]
    assert updated["email"] == "alice@new.example"
    # fields not sent are kept
    assert updated["country_code"] == "DE"
    assert updated["external_ref"] == "op-1"
    assert updated["date_of_birth"] == "1990-05-17"
    assert updated["tags"] == ["new", "vip"]
    assert updated["currency"] == "USD"
    assert await usernames(tenant) == ["alice"]


async def test_currency_is_fixed_at_creation(tenant: Tenant) -> None:
    await create_player(tenant, "alice", currency="EUR")
    r = await tenant.post("/v1/players", {"username": "alice", "email": "alice@example.com",
                                          "currency": "USD"})
    assert_validation(r, "currency")
    r = await tenant.post("/v1/players", {"username": "alice", "email": "alice@example.com",
                                          "currency": "eur"})
    assert r.status_code == 200, r.text
    dossier = (await tenant.get("/v1/players/alice")).json()["player"]
    assert dossier["currency"] == "EUR"
    assert dossier["balances"]["real"] == {"EUR": 0}


async def test_date_of_birth_follows_the_platform_clock(
    tenant: Tenant, clock: ManualClock,
) -> None:
    # the platform's today is 2026-01-01, whatever the wall clock says
    r = await tenant.post("/v1/players", {"username": "alice", "email": "alice@example.com",
                                          "date_of_birth": "2026-01-02"})
    assert_validation(r, "date_of_birth")
    assert_error(await tenant.get("/v1/players/alice"), 404, "NO_PLAYER")
    r = await tenant.post("/v1/players", {"username": "alice", "email": "alice@example.com",
                                          "date_of_birth": "2026-01-01"})
    assert r.status_code == 201, r.text
    clock.advance(timedelta(days=1))
    r = await tenant.post("/v1/players", {"username": "bob", "email": "bob@example.com",
                                          "date_of_birth": "2026-01-02"})
    assert r.status_code == 201, r.text


async def test_concurrent_upserts_of_one_username_make_one_player(tenant: Tenant) -> None:
    responses = await asyncio.gather(*(
        tenant.post("/v1/players", {"username": "alice", "email": f"a{i}@example.com"})
        for i in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["player"]["user_id"] for r in responses}) == 1
    assert await usernames(tenant) == ["alice"]


async def test_natural_key_is_brand_and_username(tenant: Tenant) -> None:
    first = await create_player(tenant, "alice")
    for _ in range(3):
        r = await tenant.post("/v1/players", {"username": "alice", "email": "a@example.com"})
        assert r.status_code == 200, r.text
        assert r.json()["player"]["user_id"] == first["user_id"]
    other = await create_player(tenant, "alice2")
    assert other["user_id"] != first["user_id"]
    assert sorted(await usernames(tenant)) == ["alice", "alice2"]


async def test_same_username_in_live_and_test_are_different_players(tenant: Tenant) -> None:
    in_test = await create_player(tenant, "alice", email="test@example.com")
    in_live = await create_player(tenant, "alice", mode="live", email="live@example.com")
    assert in_live["user_id"] != in_test["user_id"]
    test_view = (await tenant.get("/v1/players/alice")).json()["player"]
    live_view = (await tenant.get("/v1/players/alice", mode="live")).json()["player"]
    assert test_view["email"] == "test@example.com"
    assert live_view["email"] == "live@example.com"
    assert_error(await tenant.get(f"/v1/players/{in_test['user_id']}", mode="live"),
                 404, "NO_PLAYER")
    assert_error(await tenant.get(f"/v1/players/{in_live['user_id']}"), 404, "NO_PLAYER")


async def test_dossier_by_username_and_by_uuid_is_the_same(tenant: Tenant) -> None:
    created = await create_player(tenant, "alice", country_code="SE", tags=["vip"])
    by_name = await tenant.get("/v1/players/alice")
    by_id = await tenant.get(f"/v1/players/{created['user_id']}")
    by_upper_id = await tenant.get(f"/v1/players/{created['user_id'].upper()}")
    assert by_name.status_code == by_id.status_code == by_upper_id.status_code == 200
    assert by_name.json() == by_id.json() == by_upper_id.json()
    player = by_name.json()["player"]
    assert player.keys() >= DOSSIER_FIELDS
    assert player["user_id"] == created["user_id"]
    assert player["country_code"] == "SE"
    assert player["kyc_level"] == 0
    assert player["risk_band"] == "low"
    assert player["is_pep"] is False
    assert player["is_sanctioned"] is False
    assert player["balances"] == {"real": {"USD": 0}, "bonus": {"USD": 0},
                                  "winz": {"WINZ": 0}, "xp": {"XP": 0}}


async def test_unknown_player_is_404_no_player(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    assert_error(await tenant.get("/v1/players/bob"), 404, "NO_PLAYER")
    assert_error(await tenant.get("/v1/players/01a20c97-8b92-7985-8d02-55317800becf"),
                 404, "NO_PLAYER")
    assert_error(await tenant.get("/v1/players/bob/timeline"), 404, "NO_PLAYER")
    assert_error(await tenant.get("/v1/players/bob/ledger"), 404, "NO_PLAYER")
    r = await tenant.patch("/v1/players/bob/status", {"status": "suspended", "reason": "x"})
    assert_error(r, 404, "NO_PLAYER")


INVALID_PLAYERS: list[tuple[dict[str, Any], str]] = [
    ({"username": "bad name"}, "username"),
    ({"username": "bad!name"}, "username"),
    ({"username": "_leading"}, "username"),
    ({"username": ""}, "username"),
    ({"username": "a" * 65}, "username"),
    ({"username": "01a20c97-8b92-7985-8d02-55317800becf"}, "username"),
    ({"username": "01a20c978b9279858d0255317800becf"}, "username"),
    ({"username": 12345}, "username"),
    ({"username": None}, "username"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b"}, "email"),
    ({"email": "two@@example.com"}, "email"),
    ({"email": ""}, "email"),
    ({"country_code": "XX"}, "country_code"),
    ({"country_code": "USA"}, "country_code"),
    ({"country_code": "U"}, "country_code"),
    ({"date_of_birth": "2001-02-30"}, "date_of_birth"),
    ({"date_of_birth": "1990-13-01"}, "date_of_birth"),
    ({"date_of_birth": "17/05/1990"}, "date_of_birth"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
    ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
    ({"currency": "XYZ"}, "currency"),
    ({"currency": "WINZ"}, "currency"),
    ({"currency": 840}, "currency"),
    ({"tags": ["bad tag"]}, "tags"),
    ({"tags": [""]}, "tags"),
    ({"tags": ["t" * 65]}, "tags"),
    ({"tags": "vip"}, "tags"),
    ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
    ({"external_ref": "r" * 129}, "external_ref"),
    ({"nickname": "al"}, "nickname"),
]


async def test_every_invalid_field_is_400_naming_it_and_creates_nothing(tenant: Tenant) -> None:
    for patch, field in INVALID_PLAYERS:
        payload = {"username": "carol", "email": "carol@example.com", **patch}
        r = await tenant.post("/v1/players", payload)
        assert r.status_code == 400, (patch, r.text)
        assert_validation(r, field)
    assert (await search(tenant))["data"] == []
    assert_error(await tenant.get("/v1/players/carol"), 404, "NO_PLAYER")


async def test_missing_required_fields_are_400(tenant: Tenant) -> None:
    assert_validation(await tenant.post("/v1/players", {"email": "x@example.com"}), "username")
    assert_validation(await tenant.post("/v1/players", {"username": "carol"}), "email")
    assert (await search(tenant))["data"] == []


async def test_invalid_update_leaves_the_player_unchanged(tenant: Tenant) -> None:
    await create_player(tenant, "alice", country_code="DE")
    before = (await tenant.get("/v1/players/alice")).json()
    r = await tenant.post("/v1/players", {"username": "alice", "email": "alice@example.com",
                                          "country_code": "ZZ"})
    assert_validation(r, "country_code")
    assert (await tenant.get("/v1/players/alice")).json() == before


async def test_search_walks_every_player_once_with_cursors(
    tenant: Tenant, clock: ManualClock,
) -> None:
    created = []
    for i in range(7):
        created.append((await create_player(tenant, f"player{i}"))["user_id"])
        if i % 3 == 0:  # some share a creation time, some do not
            clock.advance(timedelta(seconds=1))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = await search(tenant, **params)
        pages += 1
        assert len(page["data"]) <= 3
        seen += [p["user_id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == set(created)
    # newest first
    assert seen[0] == created[-1]
    assert seen[-1] == created[0]


async def test_search_filters_by_query_status_and_tag(tenant: Tenant) -> None:
    await create_player(tenant, "alice", tags=["vip", "sports"], external_ref="crm-77")
    await create_player(tenant, "albert", tags=["vip"])
    await create_player(tenant, "bob", email="bob@corp.example", tags=["sports"])
    await create_player(tenant, "a_b")
    await create_player(tenant, "axb")
    r = await tenant.patch("/v1/players/albert/status",
                           {"status": "self_excluded", "reason": "player request"})
    assert r.status_code == 200, r.text

    assert sorted(await usernames(tenant, query="al")) == ["albert", "alice"]
    assert await usernames(tenant, query="corp.example") == ["bob"]
    assert await usernames(tenant, query="CRM-77") == ["alice"]
    assert await usernames(tenant, query="a_b") == ["a_b"]
    assert await usernames(tenant, query="%") == []
    assert sorted(await usernames(tenant, tag="vip")) == ["albert", "alice"]
    assert sorted(await usernames(tenant, tag="sports")) == ["alice", "bob"]
    assert await usernames(tenant, tag="nope") == []
    assert await usernames(tenant, status="self_excluded") == ["albert"]
    assert sorted(await usernames(tenant, status="active")) == ["a_b", "alice", "axb", "bob"]
    assert await usernames(tenant, status="active", tag="vip", query="ali") == ["alice"]


async def test_search_rejects_bad_parameters(tenant: Tenant) -> None:
    assert_validation(await tenant.get("/v1/players", params={"status": "asleep"}), "status")
    assert_validation(await tenant.get("/v1/players", params={"limit": 0}), "limit")
    assert_validation(await tenant.get("/v1/players", params={"limit": 501}), "limit")
    assert_validation(await tenant.get("/v1/players", params={"limit": "ten"}), "limit")
    assert_validation(await tenant.get("/v1/players", params={"cursor": "garbage!"}), "cursor")


async def test_status_change_stores_the_reason_as_a_compliance_note_audits_and_emits(
    tenant: Tenant, engine: Any,
) -> None:
    player = await create_player(tenant, "alice")
    r = await tenant.patch("/v1/players/alice/status",
                           {"status": "fraud_hold", "reason": "chargeback pattern"})
    assert r.status_code == 200, r.text
    assert r.json()["player"]["status"] == "fraud_hold"
    assert r.json()["changed"] is True
    assert (await tenant.get("/v1/players/alice")).json()["player"]["status"] == "fraud_hold"

    timeline = (await tenant.get("/v1/players/alice/timeline")).json()["data"]
    notes = [item for item in timeline if item["type"] == "note.status_change"]
    assert len(notes) == 1
    assert "chargeback pattern" in notes[0]["detail"]["body"]
    assert "fraud_hold" in notes[0]["detail"]["body"]

    audit = await tenant.get("/v1/audit", params={"action": "player.status_changed",
                                                  "target": f"player:{player['user_id']}"})
    rows = audit.json()["data"]
    assert len(rows) == 1
    assert rows[0]["before"] == {"status": "active"}
    assert rows[0]["after"] == {"status": "fraud_hold", "reason": "chargeback pattern"}
    assert rows[0]["actor"]["type"] == "api_key"

    events = await outbox(engine, tenant.id, "test", "player.status_changed")
    assert events == [{"user": {"user_id": player["user_id"], "username": "alice"},
                       "from": "active", "to": "fraud_hold", "reason": "chargeback pattern"}]
    assert await outbox(engine, tenant.id, "live", "player.status_changed") == []


async def test_every_status_is_accepted_and_unknown_ones_are_400(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    for status in ("suspended", "self_excluded", "fraud_hold", "aml_hold", "withdrawal_hold",
                   "affordability_review", "closed", "active"):
        r = await tenant.patch("/v1/players/alice/status", {"status": status, "reason": "r"})
        assert r.status_code == 200, (status, r.text)
        assert r.json()["player"]["status"] == status
    assert_validation(await tenant.patch("/v1/players/alice/status",
                                         {"status": "banned", "reason": "r"}), "status")
    assert_validation(await tenant.patch("/v1/players/alice/status",
                                         {"status": "closed"}), "reason")
    assert_validation(await tenant.patch("/v1/players/alice/status",
                                         {"status": "closed", "reason": ""}), "reason")
    assert (await tenant.get("/v1/players/alice")).json()["player"]["status"] == "active"


async def test_setting_the_same_status_keeps_the_note_but_emits_no_change(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    r = await tenant.patch("/v1/players/alice/status",
                           {"status": "active", "reason": "reviewed, all fine"})
    assert r.status_code == 200, r.text
    assert r.json()["changed"] is False
    assert await outbox(engine, tenant.id, "test", "player.status_changed") == []
    audit = await tenant.get("/v1/audit", params={"action": "player.status_changed"})
    assert audit.json()["data"] == []
    timeline = (await tenant.get("/v1/players/alice/timeline")).json()["data"]
    assert any("reviewed, all fine" in (i["detail"].get("body") or "") for i in timeline)


async def test_timeline_is_newest_first_and_pages(tenant: Tenant, clock: ManualClock) -> None:
    await create_player(tenant, "alice")
    clock.advance(timedelta(minutes=1))
    assert (await adjust(tenant, "alice", "10.00")).status_code == 201
    clock.advance(timedelta(minutes=1))
    r = await tenant.patch("/v1/players/alice/status",
                           {"status": "suspended", "reason": "document check"})
    assert r.status_code == 200
    clock.advance(timedelta(minutes=1))
    r = await tenant.post("/v1/players", {"username": "alice", "email": "new@example.com"})
    assert r.status_code == 200

    r = await tenant.get("/v1/players/alice/timeline")
    assert r.status_code == 200, r.text
    items = r.json()["data"]
    assert r.json()["next_cursor"] is None
    times = [item["at"] for item in items]
    assert times == sorted(times, reverse=True)
    types = [item["type"] for item in items]
    assert types[0] == "player.updated"
    assert types[-1] == "player.created"
    assert {"ledger.adjustment", "player.adjusted", "note.status_change",
            "player.status_changed"} <= set(types)
    assert types.index("note.status_change") < types.index("ledger.adjustment")

    walked: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await tenant.get("/v1/players/alice/timeline", params=params)).json()
        walked += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == items


async def test_player_write_is_audited_with_before_and_after(tenant: Tenant) -> None:
    player = await create_player(tenant, "alice", country_code="FR")
    await tenant.post("/v1/players", {"username": "alice", "email": "alice@example.com",
                                      "country_code": "IT"})
    # an upsert that changes nothing writes no audit row
    await tenant.post("/v1/players", {"username": "alice", "email": "alice@example.com"})
    rows = (await tenant.get("/v1/audit", params={"target": player["user_id"]})).json()["data"]
    assert [row["action"] for row in rows] == ["player.updated", "player.created"]
    assert rows[0]["before"]["country_code"] == "FR"
    assert rows[0]["after"]["country_code"] == "IT"
    assert rows[1]["before"] is None


async def test_write_without_a_key_is_401_and_creates_nothing(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    r = await client.post("/v1/players", json={"username": "eve", "email": "eve@example.com"})
    assert_error(r, 401, "AUTH_REQUIRED")
    r = await client.post("/v1/players", json={"username": "eve", "email": "eve@example.com"},
                          headers={"Authorization": "Bearer wsk_test_" + "0" * 48})
    assert_error(r, 401, "AUTH_INVALID")
    r = await client.post("/v1/players", json={"username": "eve", "email": "eve@example.com"},
                          headers={"Authorization": "Bearer wsk_prod_123"})
    assert_error(r, 401, "AUTH_INVALID")
    assert (await search(tenant))["data"] == []
