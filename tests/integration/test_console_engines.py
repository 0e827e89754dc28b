"""The console's engine pages: each engine's configuration read through the engine's own
services, and every change (a prize table, a raffle draw, a tournament's close) made
through the engine's own service, validated and audited as the API's would be."""

from __future__ import annotations

import html
import re
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import ADMIN, Tenant, make_tenant
from tests.integration.bonus_support import template
from tests.integration.console_support import signed_in_operator
from tests.integration.crm_support import campaign, segment
from tests.integration.support import balances, body, create_player
from tests.integration.test_jackpots import contribute, make_jackpot
from tests.integration.test_journeys import event, journey
from tests.integration.test_lootbox import TABLE, make_box
from tests.integration.test_raffles import enter, funded_player, new_raffle
from tests.integration.test_tournament_close import played
from tests.integration.tournament_support import make_tournament, wager
from tests.integration.vip_support import configure
from tests.integration.vip_support import wager as vip_wager
from wowsino.kernel import fairness
from wowsino.kernel.clock import ManualClock

ENGINES = "/admin/tenants/acme/test/engines"


def text_of(page: str) -> str:
    """The page's text without tags, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def expected_value(table: list[dict[str, Any]], asset: str) -> Decimal:
    """Σ weight × amount ÷ Σ weight over the prizes in ``asset``, to two decimals."""
    total = sum(int(s["weight"]) for s in table)
    mean = sum((Fraction(int(s["weight"])) * Fraction(str(s["amount"]))
                for s in table if s["asset"] == asset), Fraction(0)) / total
    return (Decimal(mean.numerator) / Decimal(mean.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def editor_form(csrf: str, table: list[dict[str, Any]], cost: Any,
                action: str = "save") -> dict[str, str]:
    form = {"csrf": csrf, "rows": str(len(table)), "cost_winz": str(cost), "action": action}
    for i, s in enumerate(table):
        form |= {f"label_{i}": s["segment_label"], f"weight_{i}": str(s["weight"]),
                 f"asset_{i}": s["asset"], f"amount_{i}": str(s["amount"])}
    return form


async def test_the_engines_index_counts_each_engine_and_the_subnav_links_to_it(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    await make_box(tenant)
    paused = await make_box(tenant)
    assert (await tenant.post(f"/v1/lootbox/{paused['id']}/pause")).status_code == 200
    await signed_in_operator(app, client, tenant.id, "marketing")
    page = await client.get(ENGINES)
    assert page.status_code == 200, page.text
    assert f'href="{ENGINES}"' in page.text  # the tenant sub-navigation
    shown = text_of(page.text)
    assert "Lootboxes prize tables opened for WINZ 2 1" in shown
    assert "Mini-games wheels, scratch cards and picks 0 0" in shown
    players = await client.get("/admin/tenants/acme/test/players")
    assert f'href="{ENGINES}"' in players.text
    # live is another world: nothing configured there
    live = text_of((await client.get("/admin/tenants/acme/live/engines")).text)
    assert "Lootboxes prize tables opened for WINZ 0 0" in live


async def test_a_lootbox_shows_each_prizes_probability_and_the_expected_value(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    box = await make_box(tenant, cost_winz=25)
    await signed_in_operator(app, client, tenant.id, "marketing")
    listing = await client.get(f"{ENGINES}/lootboxes")
    assert listing.status_code == 200
    assert f'href="{ENGINES}/lootboxes/{box["id"]}"' in listing.text
    ev = expected_value(TABLE, "WINZ")  # 0.7 × 10 + 0.25 × 100 = 32.00
    xp = expected_value(TABLE, "XP")  # 0.05 × 50 = 2.50
    assert (ev, xp) == (Decimal("32.00"), Decimal("2.50"))
    page = await client.get(f"{ENGINES}/lootboxes/{box['id']}")
    assert page.status_code == 200, page.text
    shown = text_of(page.text)
    assert "pocket change 10 WINZ 70 70.00 %" in shown
    assert "big win 100 WINZ 25 25.00 %" in shown
    assert "xp boost 50 XP 5 5.00 %" in shown
    rtp = (ev / 25 * 100).quantize(Decimal("0.01"))
    assert (f"Cost per open 25 WINZ Expected value per open {ev} WINZ and {xp} XP "
            f"RTP {rtp} %") in shown
    # the API shows the same figures, from the same function
    odds = body(await tenant.get(f"/v1/lootbox/{box['id']}"))["lootbox"]["odds"]
    assert Decimal(str(odds["expected_value"]["WINZ"])) == ev
    assert Decimal(str(odds["rtp_pct"])) == rtp
    assert '"prize_table"' not in page.text  # never raw JSON
    # the editor's page may load the console's own script (live odds), no other page may
    assert re.findall(r"<script[^>]*>", page.text) == [
        '<script src="/admin/static/prize-editor.js" defer>']
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert "script-src" not in listing.headers["content-security-policy"]


async def test_the_prize_table_editor_saves_valid_weights_through_the_engine(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    box = await make_box(tenant, cost_winz=10)
    csrf = await signed_in_operator(app, client, tenant.id, "marketing")
    path = f"{ENGINES}/lootboxes/{box['id']}"
    new = [{"segment_label": "pocket change", "weight": 1, "asset": "WINZ", "amount": 3},
           {"segment_label": "big win", "weight": 2, "asset": "WINZ", "amount": 30}]
    # a preview prices the table without saving it
    r = await client.post(f"{path}/prize-table", data=editor_form(csrf, new, 20, "preview"))
    assert r.status_code == 200, r.text
    ev = expected_value(new, "WINZ")  # (3 + 60) / 3 = 21.00
    assert "Preview — not saved" in r.text
    assert f"Expected value per open {ev} WINZ" in text_of(r.text)
    assert body(await tenant.get(f"/v1/lootbox/{box['id']}"))["lootbox"]["prize_table_hash"] \
        == box["prize_table_hash"]
    # saving goes through the engine's update: new hash, audited with the admin as actor
    r = await client.post(f"{path}/prize-table", data=editor_form(csrf, new, 20))
    assert r.status_code == 303 and r.headers["location"] == f"{path}?notice=prize-table-saved"
    saved = body(await tenant.get(f"/v1/lootbox/{box['id']}"))["lootbox"]
    assert [(s["segment_label"], s["weight"]) for s in saved["prize_table"]] == [
        ("pocket change", 1), ("big win", 2)]
    assert saved["cost_winz"] == 20 and saved["prize_table_hash"] != box["prize_table_hash"]
    page = await client.get(r.headers["location"])
    assert "The prize table was saved" in page.text
    assert f"Expected value per open {ev} WINZ RTP 105.00 %" in text_of(page.text)
    audit = body(await tenant.get("/v1/audit", params={"action": "lootbox.updated"}))["data"]
    assert [a["actor"]["type"] for a in audit] == ["operator"]


async def test_the_editor_refuses_invalid_weights_with_a_message_and_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    box = await make_box(tenant)
    csrf = await signed_in_operator(app, client, tenant.id, "marketing")
    path = f"{ENGINES}/lootboxes/{box['id']}/prize-table"
    zero = [{**s, "weight": 0} for s in TABLE]
    cases = [
        (zero, "the weights must sum to more than zero"),
        ([{**TABLE[0], "weight": -1}], "weight: a whole number from 0 to 1,000,000,000"),
        ([{**TABLE[0], "weight": "1.5"}], "weight: a whole number"),
        ([{**TABLE[0], "weight": "ten"}], "weight: a whole number"),
        ([{**TABLE[0], "amount": "0.5"}], "amount"),
        ([{**TABLE[0], "asset": "USD"}], "asset: one of WINZ, XP"),
        ([{**TABLE[0], "segment_label": "x" * 65}], "label: at most 64 characters"),
        ([{**TABLE[0], "segment_label": ""}], "at least one prize"),
    ]
    for table, message in cases:
        r = await client.post(path, data=editor_form(csrf, table, 0))
        assert r.status_code == 400, (table, r.text)
        assert message in html.unescape(r.text), (message, r.text)
        assert '<form method="post"' in r.text  # the form again, as posted
    r = await client.post(path, data={**editor_form(csrf, TABLE, 0), "cost_winz": "-5"})
    assert r.status_code == 400 and "cost per draw (WINZ)" in r.text
    r = await client.post(path, data={**editor_form(csrf, TABLE, 0), "rows": "100000"})
    assert r.status_code == 400 and "rows" in r.text
    after = body(await tenant.get(f"/v1/lootbox/{box['id']}"))["lootbox"]
    assert after["prize_table_hash"] == box["prize_table_hash"]
    assert body(await tenant.get("/v1/audit", params={"action": "lootbox.updated"}))["data"] == []
    # a forged form is refused; an unknown box or engine is a 404 page
    r = await client.post(path, data={k: v for k, v in editor_form(csrf, TABLE, 0).items()
                                      if k != "csrf"})
    assert r.status_code == 403
    for unknown in (f"{ENGINES}/lootboxes/not-an-id", f"{ENGINES}/lootboxes/{'0' * 8}-0000-"
                    "0000-0000-000000000000", f"{ENGINES}/slots", f"{ENGINES}/mini-games/"
                    f"{box['id']}", "/admin/tenants/nobody/test/engines"):
        r = await client.get(unknown)
        assert r.status_code == 404 and "Not found" in r.text, unknown
    r = await client.post(f"{ENGINES}/lootboxes/not-an-id/prize-table",
                          data=editor_form(csrf, TABLE, 0))
    assert r.status_code == 404


async def test_a_mini_game_page_shows_its_kind_and_daily_plays(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    r = await tenant.post("/v1/mini-games", {"name": "Lucky wheel", "kind": "wheel",
                                             "prize_table": TABLE, "plays_per_day": 3})
    assert r.status_code == 201, r.text
    game = body(r)["mini_game"]
    csrf = await signed_in_operator(app, client, tenant.id, "marketing")
    listing = text_of((await client.get(f"{ENGINES}/mini-games")).text)
    assert "Lucky wheel wheel active 3" in listing and "free" in listing
    page = await client.get(f"{ENGINES}/mini-games/{game['id']}")
    shown = text_of(page.text)
    assert "Kind wheel Plays per player per day 3" in shown
    assert "Cost per play 0 WINZ Expected value per play 32.00 WINZ and 2.50 XP" in shown
    r = await client.post(f"{ENGINES}/mini-games/{game['id']}/prize-table",
                          data=editor_form(csrf, TABLE[:2], 5))
    assert r.status_code == 303
    saved = body(await tenant.get(f"/v1/mini-games/{game['id']}"))["mini_game"]
    assert len(saved["prize_table"]) == 2 and saved["plays_per_day"] == 3


async def test_jackpot_pools_show_amount_seed_cap_headroom_and_drops_with_their_proof(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    plain = await make_jackpot(tenant, name="Daily", seed_usd=100, must_drop_at=1000,
                               contribution_pct=1.5)
    mystery = await make_jackpot(tenant, name="Mystery", seed_usd=10, must_drop_at=12,
                                 mystery=True)
    await create_player(tenant, "alice")
    assert (await contribute(tenant, plain["id"], "alice", "p1", "250.25")).status_code == 201
    dropped = None
    for i in range(9):  # 8 × 0.25 covers the whole range (10, 12]
        answer = body(await contribute(tenant, mystery["id"], "alice", f"m{i}", "0.25"))
        if answer["dropped"] is not None:
            dropped = answer["dropped"]
            break
    assert dropped is not None
    await signed_in_operator(app, client, tenant.id, "marketing")
    listing = await client.get(f"{ENGINES}/jackpots")
    assert listing.status_code == 200, listing.text
    shown = text_of(listing.text)
    # the pool took 250.25 USD; 649.75 USD left below the must-drop cap
    assert "Daily active 350.25 USD 100.00 USD 1,000.00 USD 649.75 USD 1.5 % never" in shown
    assert "Mystery mystery active 10.00 USD 10.00 USD 12.00 USD 2.00 USD" in shown
    page = await client.get(f"{ENGINES}/jackpots/{mystery['id']}")
    assert page.status_code == 200, page.text
    reveal = dropped["mystery"]
    shown = text_of(page.text)
    assert f"alice {Decimal(str(dropped['amount'])):.2f} USD mystery" in shown
    for field in ("server_seed", "server_seed_hash", "client_seed"):
        assert reveal[field] in page.text
    link = re.search(r'href="(/fairness/verify\?[^"]+)"', page.text)
    assert link is not None
    query = {k: v[0] for k, v in parse_qs(urlsplit(html.unescape(link.group(1))).query).items()}
    point = int(Decimal(str(reveal["drop_point"])) * 100)
    assert query == {"game": "mystery", "server_seed": reveal["server_seed"],
                     "server_seed_hash": reveal["server_seed_hash"],
                     "client_seed": reveal["client_seed"], "range_from": "1000",
                     "range_to": "1200", "index": str(point)}
    for unknown in (f"{ENGINES}/jackpots/nope", f"{ENGINES}/jackpots/{plain['id']}"[:-4] + "0000"):
        assert (await client.get(unknown)).status_code == 404


async def test_a_raffle_is_drawn_from_the_console_after_a_confirmation(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    raffle = await new_raffle(tenant, name="Weekly raffle")
    await funded_player(tenant, "alice")
    await funded_player(tenant, "bob")
    for user, tickets in (("alice", 2), ("bob", 3), ("alice", 1)):
        assert (await enter(tenant, raffle["id"], user, tickets)).status_code == 201
    csrf = await signed_in_operator(app, client, tenant.id, "marketing")
    path = f"{ENGINES}/raffles/{raffle['id']}"
    listing = text_of((await client.get(f"{ENGINES}/raffles")).text)
    assert "Weekly raffle active 10 WINZ 1,000 WINZ 6 by hand" in listing
    page = await client.get(path)
    assert page.status_code == 200, page.text
    shown = text_of(page.text)
    assert "3 entries by 2 players." in shown
    assert "#0–#1 2 alice" in shown and "#2–#4 3 bob" in shown and "#5 1 alice" in shown
    assert f'href="{path}/draw"' in page.text
    # the confirmation step changes nothing; the draw needs its form
    confirm = await client.get(f"{path}/draw")
    assert confirm.status_code == 200 and "This cannot be undone" in confirm.text
    assert body(await tenant.get(f"/v1/raffles/{raffle['id']}"))["raffle"]["status"] == "active"
    assert (await client.post(f"{path}/draw", data={})).status_code == 403
    assert body(await tenant.get(f"/v1/raffles/{raffle['id']}"))["raffle"]["draw"] is None
    r = await client.post(f"{path}/draw", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{path}?notice=raffle-drawn"
    # the API reports the same draw, recomputable from its published inputs
    drawn = body(await tenant.get(f"/v1/raffles/{raffle['id']}"))["raffle"]
    d = drawn["draw"]
    assert drawn["status"] == "completed" and d["trigger"] == "manual"
    assert d["winning_ticket_idx"] == fairness.draw_uniform(d["server_seed"], d["client_seed"], 6)
    winner = "bob" if 2 <= d["winning_ticket_idx"] <= 4 else "alice"
    page = await client.get(r.headers["location"])
    shown = text_of(page.text)
    assert "The raffle was drawn" in page.text
    assert (f"Winner {winner} {d['winner']['holder_id']} Prize paid 1,000 WINZ "
            f"Winning ticket #{d['winning_ticket_idx']} of 6") in shown
    for field in ("server_seed", "server_seed_hash", "client_seed"):
        assert d[field] in page.text
    link = re.search(r'href="(/fairness/verify\?[^"]+)"', page.text)
    assert link is not None
    query = {k: v[0] for k, v in parse_qs(urlsplit(html.unescape(link.group(1))).query).items()}
    assert query == {"game": "raffle", "server_seed": d["server_seed"],
                     "server_seed_hash": d["server_seed_hash"], "client_seed": d["client_seed"],
                     "tickets": "6", "index": str(d["winning_ticket_idx"])}
    audit = body(await tenant.get("/v1/audit", params={"action": "raffle.drawn"}))["data"]
    assert [(a["actor"]["type"], a["after"]["winning_ticket_idx"]) for a in audit] == [
        ("operator", d["winning_ticket_idx"])]
    # a second draw is the engine's refusal, shown as a page; nothing more is paid
    again = await client.post(f"{path}/draw", data={"csrf": csrf})
    assert again.status_code == 409
    assert "Draw…" not in page.text
    for unknown in (f"{ENGINES}/raffles/nope", f"{ENGINES}/raffles/nope/draw",
                    f"{path}?after=-1"):
        assert (await client.get(unknown)).status_code == 404, unknown
    assert (await client.post(f"{ENGINES}/raffles/nope/draw",
                              data={"csrf": csrf})).status_code == 404


async def test_the_ticket_list_pages_in_ticket_order(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    raffle = await new_raffle(tenant, ticket_cost_winz=0)
    await funded_player(tenant, "alice", winz=0)
    for _ in range(52):
        assert (await enter(tenant, raffle["id"], "alice", 1)).status_code == 201
    await signed_in_operator(app, client, tenant.id, "marketing")
    path = f"{ENGINES}/raffles/{raffle['id']}"
    first = await client.get(path)
    assert "#49 1 alice" in text_of(first.text) and "#50 " not in text_of(first.text)
    assert 'href="?after=49"' in first.text
    second = text_of((await client.get(f"{path}?after=49")).text)
    assert "#50 1 alice" in second and "#51 1 alice" in second and "#49 " not in second


def payouts_of(page: str) -> str:
    """The text of the payouts section."""
    start = page.index('<h2 id="payouts-h">')
    return text_of(page[start:page.index('<section class="card" aria-labelledby="board-h"')])


async def test_a_tournament_is_closed_from_the_console_after_a_confirmation(
    client: httpx.AsyncClient, tenant: Tenant, clock: ManualClock, app: Any,
) -> None:
    race = await played(tenant, clock)
    csrf = await signed_in_operator(app, client, tenant.id, "marketing")
    listing = text_of((await client.get(f"{ENGINES}/tournaments")).text)
    assert "Weekend race active running sum wagered" in listing
    path = f"{ENGINES}/tournaments/{race['id']}"
    page = await client.get(path)
    assert page.status_code == 200, page.text
    shown = text_of(page.text)
    assert "1 carol 9.00 USD 2 alice 5.00 USD 3 bob 1.00 USD" in shown
    assert "rank 1: 1,000 WINZ; rank 2: 50.00 USD; ranks 3–5: 100 XP" in shown
    assert f'href="{path}/close"' in page.text
    confirm = await client.get(f"{path}/close")
    assert confirm.status_code == 200 and "This cannot be undone" in confirm.text
    assert (await client.post(f"{path}/close", data={})).status_code == 403
    assert body(await tenant.get(f"/v1/tournaments/{race['id']}"))["tournament"]["status"] \
        == "active"
    r = await client.post(f"{path}/close", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{path}?notice=tournament-closed"
    # the API reports the close the console made
    closed = body(await tenant.get(f"/v1/tournaments/{race['id']}"))["tournament"]
    assert closed["status"] == "closed" and closed["close_trigger"] == "manual"
    assert closed["total_paid"] == {"USD": Decimal("50.00"), "WINZ": 1000, "XP": 100}
    page = await client.get(r.headers["location"])
    assert "The tournament was closed" in page.text and f'href="{path}/close"' not in page.text
    # plug-in: the operator pays the real-money prize from its own wallet
    assert payouts_of(page.text) == ("Payouts Rank Player Score Prize Paid "
                                     "1 carol 9.00 USD 1,000 WINZ paid "
                                     "2 alice 5.00 USD 50.00 USD paid by the operator "
                                     "3 bob 1.00 USD 100 XP paid")
    audit = body(await tenant.get("/v1/audit", params={"action": "tournament.closed"}))["data"]
    assert [(a["actor"]["type"], a["after"]["trigger"]) for a in audit] == [
        ("operator", "manual")]
    again = await client.post(f"{path}/close", data={"csrf": csrf})
    assert again.status_code == 409
    for unknown in (f"{ENGINES}/tournaments/nope", f"{ENGINES}/tournaments/nope/close",
                    f"{path}?cursor=forged"):
        assert (await client.get(unknown)).status_code in (400, 404), unknown
    assert (await client.post(f"{ENGINES}/tournaments/nope/close",
                              data={"csrf": csrf})).status_code == 404


async def test_a_white_label_tournament_pays_real_money_prizes_from_the_wallet(
    client: httpx.AsyncClient, clock: ManualClock, app: Any,
) -> None:
    casino = await make_tenant(client, "casino", service_mode="white_label")
    await create_player(casino, "alice")
    race = await make_tournament(casino, clock, prize_table=[
        {"rank_from": 1, "rank_to": 1, "prize": {"asset": "USD", "amount": "50.00"}}])
    await wager(casino, "alice", "w-1", "5.00")
    csrf = await signed_in_operator(app, client, casino.id, "marketing")
    path = f"/admin/tenants/casino/test/engines/tournaments/{race['id']}"
    r = await client.post(f"{path}/close", data={"csrf": csrf})
    assert r.status_code == 303, r.text
    page = await client.get(path)
    assert payouts_of(page.text).endswith("1 alice 5.00 USD 50.00 USD paid into the wallet")
    assert (await balances(casino, "alice"))["real"]["USD"] == Decimal("50.00")


async def test_a_bonus_template_shows_the_linter_per_brand_and_runs_the_cost_simulator(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    r = await client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                          json={"slug": "uk", "name": "Acme UK"})
    assert r.status_code == 201, r.text
    r = await tenant.client.put("/v1/brands/uk/jurisdiction", headers=tenant.headers(),
                                json={"profile": "GB"})
    assert r.status_code == 200, r.text
    made = await template(tenant, name="Welcome", amount="20.00", wagering_multiple=35,
                          max_conversion="100.00")
    csrf = await signed_in_operator(app, client, tenant.id, "marketing")
    listing = text_of((await client.get(f"{ENGINES}/bonuses")).text)
    assert "Welcome no deposit active — USD" in listing
    path = f"{ENGINES}/bonuses/{made['id']}"
    page = await client.get(path)
    assert page.status_code == 200, page.text
    shown = text_of(page.text)
    assert "amount 20.00 USD" in shown and "max conversion 100.00 USD" in shown
    assert "Main main allowed" in shown
    assert ("Acme UK uk breaks max wagering multiple wagering_multiple 35 exceeds 10 "
            "(profile GB)") in shown
    ask = {"players": "500", "game_category": "slots", "rtp": "0.96", "volatility": "3",
           "bet_size": "1.00", "seed": "42", "max_spins": "20000", "deposit_amount": ""}
    r = await client.post(f"{path}/simulate", data={**ask, "csrf": csrf})
    assert r.status_code == 200, r.text
    api = body(await tenant.post(f"/v1/bonus-templates/{made['id']}/simulate",
                                 {k: v for k, v in ask.items() if v}))["simulation"]
    shown = text_of(r.text)
    assert f"Expected cost per grant {api['expected_converted_real']:.2f} USD" in shown
    assert (f"Players who convert {Decimal(str(api['completion_rate'])) * 100:.2f} % "
            "of 500") in shown
    # refused assumptions show the form again with the reason
    for field, value, message in (("players", "20001", "Simulated players"),
                                  ("rtp", "2", "Game RTP"), ("bet_size", "x" * 25, "Bet size"),
                                  ("bet_size", "", "bet_size")):
        r = await client.post(f"{path}/simulate", data={**ask, field: value, "csrf": csrf})
        assert r.status_code == 400 and message in r.text, (field, r.text)
        assert 'action="' + path + '/simulate"' in r.text
    assert (await client.post(f"{path}/simulate", data=ask)).status_code == 403
    assert (await client.get(f"{ENGINES}/bonuses/nope")).status_code == 404


async def test_journeys_and_the_vip_ladder_read_as_configured(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    mission = await journey(tenant, name="Welcome mission", steps=[
        {"trigger": "deposit", "min_amount": 20, "within_hours": 48},
        {"trigger": "wager", "count": 3}])
    await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    await event(tenant, "signup", "alice")
    await configure(tenant)
    await vip_wager(tenant, "w-1", "20.00", "alice")  # 200 XP: Silver
    await signed_in_operator(app, client, tenant.id, "marketing")
    index = text_of((await client.get(ENGINES)).text)
    assert "Journeys steps a player completes for a reward 1 1" in index
    assert "VIP ladder levels climbed with XP, each with its cashback 3 levels" in index
    listing = text_of((await client.get(f"{ENGINES}/journeys")).text)
    assert "Welcome mission active signup 2 100 WINZ 1 0" in listing
    page = await client.get(f"{ENGINES}/journeys/{mission['id']}")
    assert page.status_code == 200, page.text
    shown = text_of(page.text)
    assert "Reward on completion 100 WINZ" in shown
    assert "Players 1 on it, 0 completed, 0 ran out of time" in shown
    assert ("1 deposit 1 20 (in the event's currency) 48 hours 2 wager 3 — —") in shown
    vip = text_of((await client.get(f"{ENGINES}/vip")).text)
    assert "XP 10 per unit wagered, at most 10,000 XP a day" in vip
    assert "1 Bronze 0 XP 0 % nothing 0" in vip
    assert "2 Silver 100 XP 5 % 50 WINZ 1" in vip
    assert "3 Gold 1,000 XP 10 % 200 WINZ 0" in vip
    assert (await client.get(f"{ENGINES}/journeys/nope")).status_code == 404
    # live has no programme
    live = text_of((await client.get("/admin/tenants/acme/live/engines/vip")).text)
    assert "No VIP programme in this mode" in live


async def test_crm_shows_segments_live_counts_and_a_campaigns_dry_runs_and_runs(
    client: httpx.AsyncClient, tenant: Tenant, clock: ManualClock, app: Any,
) -> None:
    for name in ("ann", "ben", "cid"):
        await create_player(tenant, name)
    everyone = await segment(tenant, "true", name="Everyone")
    made = await campaign(tenant, everyone["id"], {"type": "grant_winz", "amount": 100},
                          schedule={"weekly": {"day": "fri", "time": "10:00",
                                               "tz": "Europe/Malta"}}, name="Friday WINZ")
    csrf = await signed_in_operator(app, client, tenant.id, "marketing")
    crm = await client.get(f"{ENGINES}/crm")
    assert crm.status_code == 200, crm.text
    shown = text_of(crm.text)
    assert "Everyone true 3" in shown  # the live count
    assert "Friday WINZ active Everyone grant 100 WINZ every fri at 10:00 (Europe/Malta)" in shown
    path = f"{ENGINES}/crm/main/campaigns/{made['id']}"
    page = await client.get(path)
    assert page.status_code == 200, page.text
    assert "Everyone true : 3 players now" in text_of(page.text)
    assert "No dry run yet." in page.text and "This campaign has not run yet." in page.text
    # a dry run through the engine: audited with the admin as actor, nothing granted
    assert (await client.post(f"{path}/dry-run", data={})).status_code == 403
    r = await client.post(f"{path}/dry-run", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{path}?notice=dry-run-recorded"
    api = body(await tenant.post(f"/v1/campaigns/{made['id']}/dry-run"))
    page = await client.get(r.headers["location"])
    shown = text_of(page.text)
    assert "The dry run is done" in shown
    assert api["count"] == 3 and api["total_cost"] == {"WINZ": 300}
    assert "operator 3 300 WINZ none" in shown
    audit = body(await tenant.get("/v1/audit", params={"action": "campaign.dry_run"}))["data"]
    assert sorted(a["actor"]["type"] for a in audit) == ["api_key", "operator"]
    assert (await balances(tenant, "ann"))["winz"]["WINZ"] == 0
    # a run made through the API appears in the run history
    r = await tenant.post(f"/v1/campaigns/{made['id']}/run", {})
    assert r.status_code == 201, r.text
    shown = text_of((await client.get(path)).text)
    assert "completed manual 3 3 300 WINZ none" in shown
    for unknown in (f"{ENGINES}/crm/main/campaigns/nope", f"{ENGINES}/crm/nobrand/campaigns/"
                    f"{made['id']}", f"{ENGINES}/crm?brand=nobrand"):
        assert (await client.get(unknown)).status_code == 404, unknown


async def test_a_campaign_is_backtested_from_its_page_as_the_api_backtests_it(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    from tests.integration.crm_support import campaign, segment

    await create_player(tenant, "ann")
    everyone = await segment(tenant, "true")
    weekly = await campaign(tenant, everyone["id"], {"type": "grant_winz", "amount": 50},
                            {"weekly": {"day": "fri", "time": "10:00", "tz": "UTC"}})
    once = await campaign(tenant, everyone["id"], {"type": "grant_winz", "amount": 50})
    await signed_in_operator(app, client, tenant.id, "analyst")
    page = f"{ENGINES}/crm/main/campaigns"
    r = await client.get(f"{page}/{weekly['id']}", params={"backtest_days": "30"})
    assert r.status_code == 200, r.text
    api = body(await tenant.post(f"/v1/campaigns/{weekly['id']}/backtest", {"days": 30}))
    runs = api["backtest"]["runs"]
    assert len(runs) >= 4
    shown = text_of(r.text)
    assert f"{len(runs)} scheduled runs" in shown and f"{api['backtest']['count']} grants" in shown
    r = await client.get(f"{page}/{once['id']}", params={"backtest_days": "30"})
    assert r.status_code == 200 and "once campaign has no scheduled times" in r.text
    for bad in ("0", "91", "abc"):
        r = await client.get(f"{page}/{weekly['id']}", params={"backtest_days": bad})
        assert r.status_code == 200 and "a whole number from 1 to 90" in r.text
    grants = body(await tenant.get("/v1/audit", params={"action": "campaign.run_started"}))
    assert grants["data"] == []  # a backtest changes nothing


async def test_a_lootbox_page_lists_its_latest_opens_each_with_its_proof(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    box = await make_box(tenant)
    await create_player(tenant, "alice")
    opened = []
    for _ in range(3):
        r = await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"})
        assert r.status_code == 201, r.text
        opened.append(body(r))
    await signed_in_operator(app, client, tenant.id, "analyst")
    r = await client.get(f"{ENGINES}/lootboxes/{box['id']}")
    assert r.status_code == 200, r.text
    links = re.findall(r'href="(/fairness/verify\?[^"]+)"', r.text)
    assert len(links) == 3
    assert {html.unescape(link) for link in links} == {o["verify_url"] for o in opened}
    assert "Latest opens" in r.text and "Verify this open" in r.text
