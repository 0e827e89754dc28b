"""Audit rows and the player's timeline read as sentences with amounts in their
currency's unit: never minor units, never raw JSON."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.bonus_support import template
from tests.integration.console_support import signed_in_operator
from tests.integration.support import adjust, create_player
from tests.integration.test_jackpots import make_jackpot
from wowsino.console.sentences import describe
from wowsino.kernel.money import ASSETS

RAW_JSON = re.compile(r'[{\[]\s*"')


def visible(page: str) -> str:
    """The page's text as a reader sees it (tags dropped)."""
    body = unescape(re.sub(r"<[^>]+>", " ", page[page.index("<main>"):]))
    return re.sub(r"\s+:", ":", " ".join(body.split()))


async def test_the_audit_log_speaks_in_sentences_and_currency_units(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    await make_jackpot(tenant, name="Mega", seed_usd=1000, must_drop_at=5000)
    await create_player(tenant, "alice", currency="EUR")
    r = await tenant.post("/v1/players/alice/rg", {"deposit_daily_limit": 250})
    assert r.status_code == 200, r.text
    assert (await adjust(tenant, "alice", "12.34", asset="EUR")).status_code == 201
    await template(tenant, name="Match", type="deposit_match", amount=None, amount_pct=50,
                   max_amount="75.00", wagering_multiple=20)
    await signed_in_operator(app, client, tenant.id, "owner")
    r = await client.get("/admin/tenants/acme/test/audit")
    assert r.status_code == 200, r.text
    text = visible(r.text)
    for shown in ("Jackpot created", "Seed: 1,000.00 USD", "Must drop at: 5,000.00 USD",
                  "Responsible-gaming limits changed",
                  "Limits · deposit daily limit: 250.00 EUR", "Balance adjusted by hand",
                  "Amount: 12.34 EUR", "Bonus template created",
                  "Terms · max amount: 75.00 USD"):
        assert shown in text, shown
    assert not RAW_JSON.search(text), RAW_JSON.search(text)
    for minor in ("100000", "500000", "25000", "1234", "7500"):
        assert not re.search(rf"\b{minor}\b", text), minor

    r = await client.get("/admin/tenants/acme/test/players")
    link = re.search(r'href="(/admin/tenants/acme/test/players/[^"]+)"', r.text)
    assert link is not None
    page = visible((await client.get(link.group(1))).text)
    assert "Limits · deposit daily limit: 250.00 EUR" in page
    assert not RAW_JSON.search(page) and "25000" not in page


def test_a_change_shows_what_was_and_what_is() -> None:
    found = describe("player.rg_changed",
                     {"limits": {"deposit_daily_limit": 5000, "session_minutes_limit": 60}},
                     {"limits": {"deposit_daily_limit": 2000, "session_minutes_limit": 60},
                      "pending": {"loss_daily_limit": {"value": 10000,
                                                       "applies_at": "2026-01-02T12:00:00Z"}}},
                     currency=ASSETS["EUR"])
    assert found.sentence == "Responsible-gaming limits changed"
    assert [(c.label, c.before, c.after) for c in found.changes] == [
        ("Limits · deposit daily limit", "50.00 EUR", "20.00 EUR"),
        ("Pending · loss daily limit · value", None, "100.00 EUR"),
        ("Pending · loss daily limit · applies at", None, "2026-01-02 12:00 UTC")]


def test_amounts_already_in_units_stay_and_secrets_never_show() -> None:
    found = describe("psp.configured", None, {
        "currency": "USD", "amount": Decimal("10.00"), "credentials": {"api_key": "s3cret"},
        "auto_approve_below": {"EUR": 5000}, "contribution_pct": Decimal("1.5"),
        "enabled": True, "prizes": [{"type": "winz", "amount": 100}]})
    shown = {c.label: c.after for c in found.changes}
    assert shown == {"Currency": "USD", "Amount": "10.00 USD", "Credentials": "(hidden)",
                     "Auto approve below": "50.00 EUR", "Contribution pct": "1.5%",
                     "Enabled": "yes", "Prizes": "type winz; amount 100 WINZ"}
    assert describe("jackpot.created", None, {"seed": 100000}).changes[0].after == "100,000"
    assert describe("tenant.updated", {"status": "active", "name": "A"},
                    {"status": "suspended", "name": "A"}).changes[0].label == "Status"
