"""The public verifier page (``/fairness/verify``) in a real browser: real draws made
through the API (a lootbox open, a mini-game play, a raffle draw, a mystery jackpot's
drop point) verify from their
``verify_url``; a tampered field fails; the test vectors of docs/fairness.md verify;
every control is labelled, the page works from the keyboard and fits 390 px."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from wowsino.kernel import fairness

pytestmark = pytest.mark.browser
SCREENSHOT = Path(tempfile.gettempdir()) / "fairness-verify.png"
DOC = Path(__file__).resolve().parents[2] / "docs" / "fairness.md"
TABLE = [{"segment_label": "dix « ✨ »", "weight": 5, "asset": "WINZ", "amount": 10},
         {"segment_label": "hundred", "weight": 2, "asset": "WINZ", "amount": 100},
         {"segment_label": "xp", "weight": 1, "asset": "XP", "amount": 25}]
VERIFIED = re.compile(r"^✓ Verified")
FAILED = re.compile(r"^✗ Does not verify")


def vectors() -> dict[str, Any]:
    block = re.search(r"```json\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/fairness.md has no JSON test vectors"
    return dict(json.loads(block.group(1)))


def real_draws(server: LiveServer) -> dict[str, dict[str, Any]]:
    """A plug-in tenant's player opens a box, plays a wheel and wins a raffle."""
    with server.admin() as admin:
        r = admin.post("/tenants", json={"slug": "fair", "name": "Fair", "service_mode": "plug_in",
                                         "brand": {"slug": "main", "name": "Main"}})
        assert r.status_code == 201, r.text
        key = r.json()["keys"]["test"]
    with server.api(key) as api:
        assert api.post("/v1/players", json={"username": "alice",
                                             "email": "alice@example.com"}).status_code == 201
        assert api.post("/v1/players/alice/adjustments", json={
            "rail": "winz", "asset": "WINZ", "amount": 100, "reason": "seed"}).status_code == 201
        box = api.post("/v1/lootbox", json={"name": "Chest", "prize_table": TABLE}).json()
        opened = api.post(f"/v1/lootbox/{box['lootbox']['id']}/open",
                          json={"user_id": "alice", "client_seed": "my own seed ✨"}).json()
        wheel = api.post("/v1/mini-games", json={"name": "Wheel", "kind": "wheel",
                                                 "prize_table": TABLE}).json()
        played = api.post(f"/v1/mini-games/{wheel['mini_game']['id']}/play",
                          json={"user_id": "alice"}).json()
        raffle = api.post("/v1/raffles", json={"name": "Weekly", "ticket_cost_winz": 5,
                                                "prize_winz": 50}).json()["raffle"]
        assert api.post(f"/v1/raffles/{raffle['id']}/enter",
                        json={"user_id": "alice", "tickets": 4}).status_code == 201
        drawn = api.post(f"/v1/raffles/{raffle['id']}/draw", json={}).json()
        tickets = api.get(f"/v1/raffles/{raffle['id']}/tickets").json()
        # the prizes went to WINZ or XP, as drawn: both balances explain them
        explained = [api.get(f"/v1/players/alice/balances/{rail}/explain").json()
                     for rail in ("winz/WINZ", "xp/XP")]
        pool = api.post("/v1/jackpots", json={"name": "Mystery", "currency": "USD",
                                              "seed_usd": 10, "must_drop_at": 12,
                                              "mystery": True}).json()["jackpot"]
        dropped = None
        for i in range(9):  # 8 × 0.25 covers the whole range (10, 12]
            answer = api.post(f"/v1/jackpots/{pool['id']}/contribute", json={
                "user_id": "alice", "source_wager_id": f"w{i}", "amount": 0.25}).json()
            if answer["dropped"] is not None:
                dropped = answer["dropped"]
                break
        assert dropped is not None and dropped["trigger_reason"] == "mystery"
    sources = [e["source"] for page in explained for e in page["data"]
               if "verify_url" in e["source"]]
    assert {s["verify_url"] for s in sources} >= {opened["verify_url"], played["verify_url"],
                                                  drawn["verify_url"]}
    return {"lootbox": opened, "mini_game": played, "raffle": {**drawn, **tickets},
            "mystery": dropped["mystery"]}


def verdict(page: Page) -> Any:
    return page.locator("#verdict")


def labelled(page: Page, label: str) -> Any:
    """The control whose label starts with ``label``."""
    return page.get_by_label(re.compile(r"^\s*" + re.escape(label)))


def test_real_draws_verify_from_their_links_and_a_tampered_field_fails(
    page: Page, live_server: LiveServer
) -> None:
    draws = real_draws(live_server)
    for name, drawn in draws.items():
        url = drawn["verify_url"]
        assert url.startswith("/fairness/verify?"), (name, url)
        page.goto(live_server.url + url)
        expect(verdict(page)).to_have_text(VERIFIED)
        expect(page.locator("#steps li.fail")).to_have_count(0)
        # the commitment step shows the published hash, and the HMAC step the first block
        expect(page.locator("#steps")).to_contain_text(drawn["server_seed_hash"])

    # the lootbox's link carries the table: its hash and the won segment's label are shown
    page.goto(live_server.url + draws["lootbox"]["verify_url"])
    expect(verdict(page)).to_contain_text(draws["lootbox"]["reward"]["segment_label"])
    expect(page.locator("#steps li.pass")).to_have_count(3)  # commitment, table, result

    # one changed character of the revealed seed: the commitment no longer holds
    seed = draws["lootbox"]["server_seed"]
    labelled(page, "Server seed (").fill(
        ("0" if seed[0] != "0" else "1") + seed[1:])
    page.get_by_role("button", name="Verify").click()
    expect(verdict(page)).to_have_text(FAILED)
    expect(verdict(page)).to_contain_text("Commitment")

    # a published result that is not the draw's fails too, the seeds being right
    page.goto(live_server.url + draws["raffle"]["verify_url"])
    expect(verdict(page)).to_have_text(VERIFIED)
    other = (draws["raffle"]["winning_ticket_idx"] + 1) % draws["raffle"]["total_tickets"]
    labelled(page, "Published result").fill(str(other))
    page.get_by_role("button", name="Verify").click()
    expect(verdict(page)).to_have_text(FAILED)
    expect(verdict(page)).to_contain_text("Published result")

    # a mystery drop point one cent off fails
    mystery = draws["mystery"]
    page.goto(live_server.url + mystery["verify_url"])
    expect(verdict(page)).to_have_text(VERIFIED)
    expect(verdict(page)).to_contain_text(f"drop point {round(mystery['drop_point'] * 100)}")
    labelled(page, "Published result").fill(str(round(mystery["drop_point"] * 100) + 1))
    page.get_by_role("button", name="Verify").click()
    expect(verdict(page)).to_have_text(FAILED)

    # the raffle's published ticket list is its client seed, and names the holder
    page.goto(live_server.url + draws["raffle"]["verify_url"])
    labelled(page, "Ticket list").fill(draws["raffle"]["ticket_list"])
    page.get_by_role("button", name="Verify").click()
    expect(verdict(page)).to_have_text(VERIFIED)
    expect(page.locator("#steps")).to_contain_text(draws["raffle"]["winner"]["holder_id"])
    labelled(page, "Ticket list").fill(draws["raffle"]["ticket_list"].replace("4", "5", 1))
    page.get_by_role("button", name="Verify").click()
    expect(verdict(page)).to_have_text(FAILED)


def test_the_published_test_vectors_verify(page: Page, live_server: LiveServer) -> None:
    v = vectors()
    page.goto(live_server.url + "/fairness/verify")
    expect(page.get_by_role("heading", name="Verify a provably fair draw")).to_be_visible()
    expect(page.locator("#result")).to_be_hidden()

    def fill(game: str, client_seed: str, index: int, **fields: str) -> None:
        labelled(page, "Prize table (lootbox" if game == "weighted" else "Raffle").check()
        labelled(page, "Server seed (").fill(v["server_seed"])
        labelled(page, "Server seed hash").fill(v["server_seed_hash"])
        labelled(page, "Client seed").fill(client_seed)
        for label, value in fields.items():
            labelled(page, label).fill(value)
        labelled(page, "Published result").fill(str(index))
        page.get_by_role("button", name="Verify").click()

    for pick in v["weighted_pick"]:
        fill("weighted", pick["client_seed"], pick["index"],
             Weights=",".join(map(str, pick["weights"])))
        expect(verdict(page)).to_have_text(VERIFIED)
    labelled(page, "Weights").fill("")
    for draw in v["uniform_int"]:
        fill("raffle", draw["client_seed"], draw["result"], **{"Total tickets": str(draw["n"])})
        expect(verdict(page)).to_have_text(VERIFIED)
        if "rejected" in draw.get("note", ""):
            expect(page.locator("#steps")).to_contain_text("rejected, read the next 4 bytes")

    # a raffle that skipped a blocked holder's ticket: the stream's first draw is the
    # skipped ticket, the next one wins; the skipped tickets out of order fail
    stream = fairness.ByteStream(v["server_seed"], "abc")
    first, second, third = (fairness.uniform_int(stream, 1000) for _ in range(3))
    fill("raffle", "abc", third, **{"Total tickets": "1000", "Skipped tickets": f"{first},{second}"})
    expect(verdict(page)).to_have_text(VERIFIED)
    expect(page.locator("#steps")).to_contain_text("Skipped tickets")
    fill("raffle", "abc", third, **{"Total tickets": "1000", "Skipped tickets": f"{second},{first}"})
    expect(verdict(page)).to_have_text(FAILED)
    expect(verdict(page)).to_contain_text("Skipped tickets")
    labelled(page, "Skipped tickets").fill("")

    # the byte stream's first 32 bytes are shown as the first HMAC block
    stream = v["stream_first_32_bytes"]
    fill("weighted", stream["client_seed"], 0, Weights="50,30,15,5")
    expect(page.locator("#steps")).to_contain_text(stream["hex"])

    # the prize table vector: its canonical JSON hashes to the published hash
    table = v["prize_table"]
    index = fairness.draw_weighted(v["server_seed"], "player-seed",
                                   [s["weight"] for s in table["table"]])
    labelled(page, "Weights").fill("")
    fill("weighted", "player-seed", index, **{"Prize table (optional": json.dumps(table["table"]),
                                              "Prize table hash": table["prize_table_hash"]})
    expect(verdict(page)).to_have_text(VERIFIED)
    expect(page.locator("#steps li.pass").first).to_contain_text("Commitment")
    expect(page.locator("#steps")).to_contain_text(table["prize_table_hash"])

    # each test vector is offered as a link too
    links = page.get_by_role("link", name=re.compile(r"^(Weighted pick|Uniform)"))
    expect(links).to_have_count(5)
    for i in range(5):
        page.goto(live_server.url + "/fairness/verify")
        page.get_by_role("link", name=re.compile(r"^(Weighted pick|Uniform)")).nth(i).click()
        expect(verdict(page)).to_have_text(VERIFIED)


def test_labelled_keyboard_usable_and_fits_a_phone(page: Page, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    v = vectors()
    pick = v["weighted_pick"][0]
    page.goto(live_server.url + "/fairness/verify")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, textarea, button')]
        .filter(e => e.type !== 'hidden' && e.labels !== null && e.labels.length === 0
                     && !(e.tagName === 'BUTTON' && e.textContent.trim()))
        .map(e => e.name || e.id)""")
    assert unlabelled == []
    # keyboard only: focus the seed field, type, tab on, submit with Enter
    labelled(page, "Server seed (").focus()
    page.keyboard.type(v["server_seed"])
    page.keyboard.press("Tab")
    page.keyboard.type(v["server_seed_hash"])
    page.keyboard.press("Tab")
    page.keyboard.type(pick["client_seed"])
    page.keyboard.press("Tab")
    page.keyboard.type(",".join(map(str, pick["weights"])))
    labelled(page, "Published result").focus()
    page.keyboard.type(str(pick["index"]))
    page.keyboard.press("Enter")
    expect(verdict(page)).to_have_text(VERIFIED)
    # a bad seed: the verdict says why and the field is marked and focused
    labelled(page, "Server seed (").fill("not hex")
    page.keyboard.press("Enter")
    expect(verdict(page)).to_contain_text("64 hexadecimal characters")
    expect(labelled(page, "Server seed (")).to_be_focused()
    expect(labelled(page, "Server seed (")).to_have_attribute("aria-invalid", "true")
    labelled(page, "Server seed (").fill(v["server_seed"])
    page.keyboard.press("Enter")
    expect(verdict(page)).to_have_text(VERIFIED)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px: {width}"
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_the_page_needs_no_sign_in_and_loads_nothing_from_elsewhere(
    page: Page, live_server: LiveServer
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto(live_server.url + "/fairness/verify?server_seed=" + "ab" * 40)
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    expect(page.get_by_role("alert")).to_contain_text("server_seed")  # too long: left out
    assert all(url.startswith(live_server.url) for url in requested), requested
    script = page.request.get(live_server.url + "/fairness/static/verify.js")
    assert script.status == 200 and "crypto.subtle" in script.text()
