"""A white-label dashboard counts the wallet's completed deposits and withdrawals on the
day they settled, and nothing that is still pending."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.console_support import signed_in_operator
from tests.integration.support import body
from tests.integration.test_console_dashboard import columns, daily
from tests.integration.wallet_support import new_player, until_settled
from tests.integration.wl_support import WhiteLabel
from wowsino.kernel.clock import ManualClock


async def test_deposits_and_withdrawals_count_once_completed(
    wl: WhiteLabel, served: int, client: httpx.AsyncClient, clock: ManualClock, app: Any,
) -> None:
    alice = await new_player(wl, "alice")
    for amount, method in (("50.00", "card"), ("7.00", "card_declined"),
                           ("9.00", "card_slow")):
        r = await alice.post("/v1/player/deposits", {"amount": amount, "currency": "USD",
                                                     "method": method})
        assert r.status_code == 201, r.text
        if method != "card_slow":
            await until_settled(wl, "deposit", body(r)["deposit"]["id"])
    r = await alice.post("/v1/player/withdrawals", {"amount": "20.00", "currency": "USD"})
    out = body(r)["withdrawal"]
    assert (await wl.post(f"/v1/withdrawals/{out['id']}/approve", {})).status_code == 200
    done = await until_settled(wl, "withdrawal", out["id"], waiting=("pending", "approved"))
    assert done["withdrawal"]["status"] == "completed"
    r = await alice.post("/v1/player/withdrawals", {"amount": "5.00", "currency": "USD"})
    assert body(r)["withdrawal"]["status"] == "pending"

    await signed_in_operator(app, client, wl.id, "analyst")
    r = await client.get("/admin/tenants/casino/test/dashboard", params={"period": "7d"})
    assert r.status_code == 200, r.text
    headers = columns(r.text)
    assert headers[-2:] == ["Deposits", "Withdrawals"]
    today = daily(r.text)[clock.now().date().isoformat()]
    assert today[-2:] == ["50.00", "20.00"]
    summary: dict[str, Any] = dict(zip(headers, today, strict=True))
    assert summary["New players"] == "1"
