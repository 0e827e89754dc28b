"""Acting on a player from the console: a status change with its reason, balance
adjustments with theirs, and two-person approval above the tenant's threshold — the one
who asks never decides, and nothing moves until a second operator approves."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.console_support import other_client, signed_in_operator
from tests.integration.support import balances, body, create_player

PLAYERS = "/admin/tenants/acme/test/players"


async def player_path(client: httpx.AsyncClient) -> str:
    page = await client.get(PLAYERS)
    found = re.search(r'href="(/admin/tenants/acme/test/players/main/[0-9a-f-]{36})"', page.text)
    assert found is not None, page.text[:300]
    return found.group(1)


def request_ids(page: str) -> list[str]:
    return re.findall(r"/adjustment-requests/([0-9a-f-]{36})/approve", page)


async def test_large_adjustments_wait_for_a_second_operator(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    await create_player(tenant, "alice")
    owner_csrf = await signed_in_operator(app, client, tenant.id, "owner")
    r = await client.post("/admin/tenants/acme/adjustment-policy",
                          data={"csrf": owner_csrf, "asset": "USD", "amount": "100.00"})
    assert r.status_code == 303, r.text
    assert "100.00 USD" in (await client.get("/admin/tenants/acme/operators")).text
    for bad in ({"asset": "USD", "amount": "-5"}, {"asset": "NOPE", "amount": "5"},
                {"asset": "USD", "amount": "1.001"}):
        r = await client.post("/admin/tenants/acme/adjustment-policy",
                              data={"csrf": owner_csrf, **bad})
        assert r.status_code == 400, bad

    async with other_client(app) as asker, other_client(app) as checker:
        csrf = await signed_in_operator(app, asker, tenant.id, "admin", email="ann@example.com")
        path = await player_path(asker)
        # at or below the threshold: posted at once
        r = await asker.post(f"{path}/adjustments", data={
            "csrf": csrf, "rail": "real", "asset": "USD", "amount": "100.00",
            "reason": "goodwill"})
        assert r.status_code == 303 and r.headers["location"].endswith("notice=adjusted")
        assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("100.00")
        # the page's form carries a key: sending that form twice adjusts once
        form_key = re.findall(r'name="idempotency_key" value="(console_[0-9a-f]{32})"',
                              (await asker.get(path)).text)
        assert len(form_key) == 1
        sent = {"csrf": csrf, "rail": "real", "asset": "USD", "amount": "7.00",
                "reason": "sent twice", "idempotency_key": form_key[0]}
        for _ in range(2):
            r = await asker.post(f"{path}/adjustments", data=sent)
            assert r.status_code == 303 and r.headers["location"].endswith("notice=adjusted")
        assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("107.00")
        # the same key with another amount changes nothing
        r = await asker.post(f"{path}/adjustments", data={**sent, "amount": "8.00"})
        assert r.status_code == 422 and "idempotency" in r.text.lower(), r.text
        assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("107.00")
        # above it: waits; nothing moves
        for amount in ("500.00", "-150.00"):
            r = await asker.post(f"{path}/adjustments", data={
                "csrf": csrf, "rail": "real", "asset": "USD", "amount": amount,
                "reason": f"correction {amount}"})
            assert r.headers["location"].endswith("notice=adjustment-waiting"), r.text
        assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("107.00")
        page = (await asker.get(path)).text
        assert "another operator decides" in page and request_ids(page) == []
        waiting = await tenant.get("/v1/audit", params={"action": "adjustment.requested"})
        requested = [row["after"]["request_id"] for row in body(waiting)["data"]]
        assert len(requested) == 2
        # the one who asked cannot decide, even by posting the form
        r = await asker.post(f"/admin/tenants/acme/test/adjustment-requests/{requested[0]}"
                             "/approve", data={"csrf": csrf})
        assert r.status_code == 409 and "second operator" in r.text

        second = await signed_in_operator(app, checker, tenant.id, "compliance",
                                          email="cleo@example.com")
        page = (await checker.get(path)).text
        assert sorted(request_ids(page)) == sorted(requested)
        newest, oldest = requested
        r = await checker.post(f"/admin/tenants/acme/test/adjustment-requests/{oldest}/approve",
                               data={"csrf": second, "back": path})
        assert r.status_code == 303 and r.headers["location"].startswith(path)
        assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("607.00")
        r = await checker.post(f"/admin/tenants/acme/test/adjustment-requests/{newest}/reject",
                               data={"csrf": second, "reason": "not supported by the ticket"})
        assert r.status_code == 303
        assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("607.00")
        for decision in ("approve", "reject"):  # decided once, never again
            r = await checker.post(
                f"/admin/tenants/acme/test/adjustment-requests/{newest}/{decision}",
                data={"csrf": second})
            assert r.status_code == 409 and "rejected already" in r.text
        assert request_ids((await checker.get(path)).text) == []

    audit = body(await tenant.get("/v1/audit", params={"target": "player:" + path[-36:]}))
    actions = [(row["action"], row["actor"]["type"]) for row in audit["data"]]
    assert ("adjustment.approved", "operator") in actions
    assert ("adjustment.rejected", "operator") in actions
    adjusted = body(await tenant.get("/v1/audit", params={"action": "player.adjusted"}))["data"]
    assert "asked by operator:" in adjusted[0]["after"]["reason"]
    assert "approved by operator:" in adjusted[0]["after"]["reason"]


async def test_a_status_change_needs_its_reason_and_support_cannot_approve(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    await create_player(tenant, "bob")
    csrf = await signed_in_operator(app, client, tenant.id, "support")
    path = await player_path(client)
    r = await client.post(f"{path}/status", data={"csrf": csrf, "status": "fraud_hold"})
    assert r.status_code == 400 and "reason" in r.text
    r = await client.post(f"{path}/status", data={"csrf": csrf, "status": "sleeping",
                                                 "reason": "x"})
    assert r.status_code == 400
    r = await client.post(f"{path}/status", data={"csrf": csrf, "status": "fraud_hold",
                                                 "reason": "chargeback pattern"})
    assert r.status_code == 303
    player = body(await tenant.get("/v1/players/bob"))["player"]
    assert player["status"] == "fraud_hold"
    r = await client.post("/admin/tenants/acme/test/adjustment-requests/"
                          "00000000-0000-4000-8000-000000000001/approve", data={"csrf": csrf})
    assert r.status_code == 403
    r = await client.post(f"{path}/adjustments", data={
        "csrf": csrf, "rail": "real", "asset": "USD", "amount": "-5.00", "reason": "fee"})
    assert r.status_code == 402  # a debit beyond the balance: nothing moves
    r = await client.post(f"{path}/adjustments", data={
        "csrf": csrf, "rail": "real", "asset": "USD", "amount": "", "reason": "fee"})
    assert r.status_code == 400


async def test_the_dossier_shows_active_bonuses_and_the_vip_standing(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    from tests.integration.bonus_support import grant, template

    r = await tenant.post("/v1/journeys", {"name": "Welcome mission", "entry_trigger": "signup",
                                           "steps": [{"trigger": "wager", "count": 3}],
                                           "reward_winz": 100})
    assert r.status_code == 201, r.text
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/journeys/event", {"user_id": "alice", "trigger": "signup"})
    assert r.status_code == 201, r.text
    made = await template(tenant, amount="20.00", wagering_multiple=30)
    await grant(tenant, made["id"])
    await signed_in_operator(app, client, tenant.id, "marketing")
    page = (await client.get(await player_path(client))).text
    shown = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "no deposit active 20.00 USD 20.00 USD 0.00 USD / 600.00 USD" in shown, shown[-1500:]
    assert "no level yet" in shown
    runs = body(await tenant.get("/v1/players/alice/journeys"))["data"]
    assert [(j["journey_name"], j["status"]) for j in runs] == [("Welcome mission", "active")]
    assert "Welcome mission active 0 of 1 1" in shown
    assert "Act on this player" not in page  # marketing neither changes nor adjusts


async def test_limits_are_set_from_the_console_as_the_api_sets_them(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    await create_player(tenant, "carol")
    csrf = await signed_in_operator(app, client, tenant.id, "compliance")
    path = await player_path(client)
    r = await client.post(f"{path}/rg", data={"csrf": csrf, "deposit_daily_limit": "50.00",
                                              "session_minutes_limit": "90"})
    assert r.status_code == 303 and r.headers["location"].endswith("notice=limits-saved")
    rg = body(await tenant.get("/v1/players/carol"))["player"]["rg"]
    assert (rg["deposit_daily_limit"], rg["session_minutes_limit"]) == (Decimal("50.00"), 90)
    # loosening waits for the cooling-off, removing a limit is loosening too
    r = await client.post(f"{path}/rg", data={"csrf": csrf, "deposit_daily_limit": "none"})
    assert r.status_code == 303
    rg = body(await tenant.get("/v1/players/carol"))["player"]["rg"]
    assert rg["deposit_daily_limit"] == Decimal("50.00") and "deposit_daily_limit" in rg["pending"]
    for bad in ({"deposit_daily_limit": "-5"}, {"session_minutes_limit": "100000"},
                {"loss_daily_limit": "abc"}, {}):
        r = await client.post(f"{path}/rg", data={"csrf": csrf, **bad})
        assert r.status_code == 400, (bad, r.status_code)
    audit = body(await tenant.get("/v1/audit", params={"action": "player.rg_changed"}))["data"]
    assert {row["actor"]["type"] for row in audit} == {"operator"}
    async with other_client(app) as viewer:
        viewer_csrf = await signed_in_operator(app, viewer, tenant.id, "analyst")
        r = await viewer.post(f"{path}/rg", data={"csrf": viewer_csrf,
                                                  "deposit_daily_limit": "10"})
        assert r.status_code == 403
