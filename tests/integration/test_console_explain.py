"""Explain this balance in the console: from a balance on the player's page to the
entries that made it, each with its source and the balance after it, ending at the
balance; the "paid twice?" answer; refusals as pages."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.console_support import signed_in_operator
from tests.integration.support import adjust, body, create_player


def text_of(page: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page[page.index("<main>"):])).split())


async def test_a_balance_is_explained_entry_by_entry(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    await create_player(tenant, "alice", currency="EUR")
    for amount, reason in (("100.00", "welcome"), ("-30.50", "chargeback"),
                           ("12.25", "goodwill")):
        r = await adjust(tenant, "alice", amount, asset="EUR", reason=reason)
        assert r.status_code == 201, r.text
    await signed_in_operator(app, client, tenant.id, "analyst")
    players = await client.get("/admin/tenants/acme/test/players")
    dossier = re.search(r'href="(/admin/tenants/acme/test/players/main/[^"]+)"', players.text)
    assert dossier is not None
    page = await client.get(dossier.group(1))
    link = re.search(r'href="([^"]+/balances/real/EUR)"', page.text)
    assert link is not None, "the player's page links each balance to its explanation"
    r = await client.get(link.group(1))
    assert r.status_code == 200, r.text
    shown = text_of(r.text)
    assert "real EUR: 81.75 EUR" in shown and "consistent" in shown
    assert "No: no two entries of this balance share a source." in shown
    rows = re.findall(r"adjustment .*? (-?[\d,]+\.\d\d) EUR ([\d,]+\.\d\d) EUR", shown)
    assert rows == [("12.25", "81.75"), ("-30.50", "69.50"), ("100.00", "100.00")], shown
    for reason in ("goodwill", "chargeback", "welcome"):
        assert f"reason {reason}" in shown
    # the API explains the same balance with the same figures
    api = body(await tenant.get("/v1/players/alice/balances/real/EUR/explain"))
    assert [str(e["balance_after"]) for e in api["data"]] == ["81.75", "69.50", "100.00"]
    # an empty balance, a wrong rail, another currency, an unknown player
    base = link.group(1).rsplit("/balances/", 1)[0]
    empty = text_of((await client.get(f"{base}/balances/winz/WINZ")).text)
    assert "Nothing has moved this balance yet." in empty
    assert (await client.get(f"{base}/balances/gold/EUR")).status_code == 404
    assert (await client.get(f"{base}/balances/real/WINZ")).status_code == 400
    assert (await client.get(f"{base}/balances/real/USD")).status_code == 400
    missing = base.rsplit("/", 1)[0] + "/nobody/balances/real/EUR"
    assert (await client.get(missing)).status_code == 404
