"""The console's engine pages in Chromium: the prize-table editor previews and saves
without any script, and on a 390 px phone nothing in a page's content is wider than the
screen but a table, which scrolls inside its own region."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_console import make_tenant, sign_in_operator

pytestmark = pytest.mark.browser

TABLE = [{"segment_label": "pocket change", "weight": 70, "asset": "WINZ", "amount": 10},
         {"segment_label": "big win", "weight": 25, "asset": "WINZ", "amount": 100},
         {"segment_label": "xp boost", "weight": 5, "asset": "XP", "amount": 50}]
# the right edge of every element of <main> outside a table's scrolling region
OVERFLOW = """() => [...document.querySelectorAll('main *')]
  .filter(e => !e.closest('.tablewrap') && e.getBoundingClientRect().right
               > document.documentElement.clientWidth + 1)
  .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 40))"""


def seed(server: LiveServer) -> dict[str, str]:
    """One of everything the engine pages show, made through the API."""
    created = make_tenant(server, "casino")
    now = datetime.now(UTC)
    with server.api(created["keys"]["test"]) as api:
        def made(path: str, payload: dict[str, Any], key: str) -> str:
            r = api.post(path, json=payload)
            assert r.status_code == 201, r.text
            return str(r.json()[key]["id"])

        assert api.post("/v1/players", json={"username": "alice",
                                             "email": "alice@example.com"}).status_code == 201
        box = made("/v1/lootbox", {"name": "Daily chest", "prize_table": TABLE,
                                   "cost_winz": 25}, "lootbox")
        wheel = made("/v1/mini-games", {"name": "Wheel", "kind": "wheel", "prize_table": TABLE},
                     "mini_game")
        jackpot = made("/v1/jackpots", {"name": "Mega", "currency": "USD", "seed_usd": 100,
                                        "must_drop_at": 1000}, "jackpot")
        raffle = made("/v1/raffles", {"name": "Weekly raffle", "ticket_cost_winz": 0,
                                      "prize_winz": 1000}, "raffle")
        assert api.post(f"/v1/raffles/{raffle}/enter", json={"user_id": "alice",
                                                             "tickets": 3}).status_code == 201
        race = made("/v1/tournaments", {
            "name": "Weekend race", "scoring": "sum_wagered",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(), "prize_table": [
                {"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 1000}}]},
            "tournament")
        bonus = made("/v1/bonus-templates", {"name": "Welcome", "type": "no_deposit",
                                             "amount": "20.00", "wagering_multiple": 30},
                     "template")
        journey = made("/v1/journeys", {"name": "Welcome mission", "entry_trigger": "signup",
                                        "steps": [{"trigger": "wager", "count": 3}],
                                        "reward_winz": 100}, "journey")
        assert api.put("/v1/vip", json={
            "xp_per_unit": 10, "xp_daily_cap": 10_000, "timezone": "UTC",
            "cashback_period": "daily", "cashback_as": "real", "levels": [
                {"level": 1, "name": "Bronze", "xp_required": 0, "cashback_pct": 0},
                {"level": 2, "name": "Silver", "xp_required": 100, "cashback_pct": 5}]},
        ).status_code == 200
        segment = made("/v1/segments", {"name": "Everyone", "expression": "true"}, "segment")
        campaign = made("/v1/campaigns", {"name": "Friday WINZ", "segment_id": segment,
                                          "action": {"type": "grant_winz", "amount": 100}},
                        "campaign")
    return {"key": created["keys"]["test"], "tenant_id": created["tenant"]["id"],
            "box": box, "wheel": wheel, "jackpot": jackpot, "raffle": raffle, "race": race,
            "bonus": bonus, "journey": journey, "campaign": campaign}


def test_the_prize_table_editor_previews_and_saves_without_script(
    page: Page, live_server: LiveServer,
) -> None:
    ids = seed(live_server)
    base = "/admin/tenants/casino/test/engines"
    page.route("**/prize-editor.js", lambda route: route.abort())  # as if scripts were off
    sign_in_operator(page, live_server, live_server.make_owner("casino"), f"{base}/lootboxes/{ids['box']}")
    expect(page.locator("#live-odds")).to_be_hidden()
    expect(page.locator(".odds .ev").first).to_have_text("32.00 WINZ and 2.50 XP")
    page.get_by_label("Prize 1 weight").fill("1")
    page.get_by_label("Prize 2 weight").fill("1")
    page.get_by_label("Prize 3 label").fill("")  # removes the XP prize
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("Preview — not saved")).to_be_visible()
    expect(page.locator(".preview .ev")).to_have_text("55.00 WINZ")
    expect(page.locator(".preview .rtp")).to_have_text("220.00 %")
    page.get_by_label("Prize 1 weight").fill("0")
    page.get_by_label("Prize 2 weight").fill("0")
    page.get_by_role("button", name="Save prize table").click()
    expect(page.get_by_role("alert")).to_contain_text("the weights must sum to more than zero")
    page.get_by_label("Prize 1 weight").fill("1")
    page.get_by_label("Prize 2 weight").fill("1")
    page.get_by_role("button", name="Save prize table").click()
    expect(page.get_by_role("status").first).to_contain_text("The prize table was saved")
    expect(page.locator(".odds .ev").first).to_have_text("55.00 WINZ")


def test_the_odds_follow_the_typing_when_scripts_run(
    page: Page, live_server: LiveServer,
) -> None:
    ids = seed(live_server)
    sign_in_operator(page, live_server, live_server.make_owner("casino"),
                     f"/admin/tenants/casino/test/engines/lootboxes/{ids['box']}")
    live = page.locator("#live-odds")
    expect(live).to_have_text("As typed — Expected value per draw: 32.00 WINZ and 2.50 XP, "
                              "RTP 128.00 % (not saved).")
    page.get_by_label("Prize 1 weight").fill("1")
    page.get_by_label("Prize 2 weight").fill("2")
    page.get_by_label("Prize 3 label").fill("")
    expect(live).to_have_text("As typed — Expected value per draw: 70.00 WINZ, RTP 280.00 % "
                              "(not saved).")
    page.get_by_label("Prize 2 weight").fill("x")
    expect(live).to_have_text("Fill every prize's weight and amount to see its odds.")
    page.get_by_label("Prize 2 weight").fill("2")
    page.get_by_role("button", name="Preview").click()  # the server agrees
    expect(page.locator(".preview .ev")).to_have_text("70.00 WINZ")
    expect(page.locator(".preview .rtp")).to_have_text("280.00 %")


def test_no_engine_page_is_wider_than_a_phone(page: Page, live_server: LiveServer) -> None:
    ids = seed(live_server)
    base = "/admin/tenants/casino/test/engines"
    paths = ["", "/lootboxes", f"/lootboxes/{ids['box']}", "/mini-games",
             f"/mini-games/{ids['wheel']}", "/jackpots", f"/jackpots/{ids['jackpot']}",
             "/raffles", f"/raffles/{ids['raffle']}", f"/raffles/{ids['raffle']}/draw",
             "/tournaments", f"/tournaments/{ids['race']}", f"/tournaments/{ids['race']}/close",
             "/bonuses", f"/bonuses/{ids['bonus']}", "/journeys", f"/journeys/{ids['journey']}",
             "/vip", "/crm", f"/crm/main/campaigns/{ids['campaign']}"]
    sign_in_operator(page, live_server, live_server.make_owner("casino"), base)
    page.set_viewport_size({"width": 390, "height": 844})
    problems = []
    for path in paths:
        response = page.goto(live_server.url + base + path)
        assert response is not None and response.status == 200, path
        wide = page.evaluate(OVERFLOW)
        if wide:
            problems.append(f"{path or '/'}: {wide[:3]}")
    assert problems == [], "\n".join(problems)
