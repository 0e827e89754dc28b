"""The console's white-label work queues: withdrawals awaiting approval are approved or
rejected with a reason through the wallet's own services, KYC decisions and open
verifications are listed, and responsible-gambling alerts read as sentences."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.console_support import other_client, signed_in_operator
from tests.integration.support import assert_error, body
from tests.integration.wallet_support import (
    ledger_problems,
    new_player,
    real_balance,
    until_settled,
)
from tests.integration.wl_support import WhiteLabel

QUEUES = "/admin/tenants/casino/test/queues"


async def test_withdrawals_are_decided_from_the_queue(
    wl: WhiteLabel, served: int, client: httpx.AsyncClient, engine: Any, app: Any,
) -> None:
    alice = await new_player(wl, "alice", funds="100.00")
    asked = []
    for amount in ("30.00", "20.00"):
        r = await alice.post("/v1/player/withdrawals", {"amount": amount, "currency": "USD"})
        assert r.status_code == 201, r.text
        asked.append(body(r)["withdrawal"]["id"])
    r = await wl.post("/v1/players/alice/rg", {"deposit_daily_limit": 10})
    assert r.status_code == 200, r.text
    assert_error(await alice.post("/v1/player/deposits", {"amount": "25.00", "currency": "USD",
                                                          "method": "card"}),
                 403, "DEPOSIT_LIMIT")

    csrf = await signed_in_operator(app, client, wl.id, "compliance",
                                    email="carla@example.com")
    page = await client.get(QUEUES)
    assert page.status_code == 200, page.text
    for withdrawal_id in asked:
        assert f"/queues/withdrawals/{withdrawal_id}/approve" in page.text
    assert "30.00 USD" in page.text and "20.00 USD" in page.text
    assert "documents checked" in page.text  # alice's KYC decision
    assert "Refused by the compliance gate" in page.text and "DEPOSIT_LIMIT" in page.text
    assert "Limits · deposit daily limit: 10.00 USD" in re.sub(r"\s+", " ", re.sub(
        r"<[^>]+>", "", page.text)).replace(" :", ":")

    first, second = asked
    r = await client.post(f"{QUEUES}/withdrawals/{first}/approve",
                          data={"csrf": csrf, "reason": "documents match"})
    assert r.status_code == 303 and r.headers["location"].endswith("notice=withdrawal-approved")
    paid = await until_settled(wl, "withdrawal", first, waiting=("pending", "approved"))
    assert paid["withdrawal"]["status"] == "completed"
    assert paid["withdrawal"]["review"]["reason"] == "documents match"
    # a rejection needs its reason; without one nothing changes
    r = await client.post(f"{QUEUES}/withdrawals/{second}/reject", data={"csrf": csrf})
    assert r.status_code == 400 and "say why" in r.text
    r = await client.post(f"{QUEUES}/withdrawals/{second}/reject",
                          data={"csrf": csrf, "reason": "x" * 501})
    assert r.status_code == 400
    assert body(await wl.get(f"/v1/withdrawals/{second}"))["withdrawal"]["status"] == "pending"
    r = await client.post(f"{QUEUES}/withdrawals/{second}/reject",
                          data={"csrf": csrf, "reason": "card not in the player's name"})
    assert r.status_code == 303
    assert await real_balance(wl, "alice") == Decimal("70.00")
    # deciding twice, a forged form and an unknown withdrawal change nothing
    r = await client.post(f"{QUEUES}/withdrawals/{second}/approve", data={"csrf": csrf})
    assert r.status_code == 409 and "only a pending one" in r.text
    r = await client.post(f"{QUEUES}/withdrawals/{second}/reject", data={"reason": "forged"})
    assert r.status_code == 403
    r = await client.post(f"{QUEUES}/withdrawals/not-an-id/approve", data={"csrf": csrf})
    assert r.status_code == 404
    page = await client.get(QUEUES)
    assert "No withdrawal is waiting for a decision." in page.text
    audit = body(await wl.get("/v1/audit", params={"action": "withdrawal.rejected"}))["data"]
    assert [(a["actor"]["type"], a["after"]["reason"]) for a in audit] == [
        ("operator", "card not in the player's name")]
    # a support operator sees the queues but cannot decide
    other = other_client(app)
    async with other:
        support_csrf = await signed_in_operator(app, other, wl.id, "support")
        assert (await other.get(QUEUES)).status_code == 200
        r = await other.post(f"{QUEUES}/withdrawals/{second}/approve",
                             data={"csrf": support_csrf})
        assert r.status_code == 403
    assert await ledger_problems(engine, wl) == []


async def test_a_plug_in_tenant_has_no_queues(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    await signed_in_operator(app, client, tenant.id, "owner")
    r = await client.get("/admin/tenants/acme/test/queues")
    assert r.status_code == 404 and "white-label" in r.text
    r = await client.get("/admin/tenants/acme/test/players")
    assert "/queues" not in r.text
