"""``GET /v1/players/<key>/balances/<rail>/<asset>/explain``: the entries that made a
balance, newest first, with sources and running balances that end at the balance the
dossier shows, across pages; a source paid twice shows in ``duplicates``."""

from __future__ import annotations

import html
import itertools
import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx

from tests.conftest import ADMIN, Tenant
from tests.integration.bonus_support import bet, grant, template
from tests.integration.console_support import signed_in_operator
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    balances,
    bearer,
    body,
    create_key,
    create_player,
)
from tests.integration.vip_support import programme
from tests.integration.wl_support import make_white_label
from wowsino.kernel import fairness, ledger
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Mode, Realm

PRIZES = [{"segment_label": "ten", "weight": 3, "asset": "WINZ", "amount": 10},
          {"segment_label": "fifty", "weight": 1, "asset": "WINZ", "amount": 50}]


async def explain(tenant: Tenant, user: str, rail: str, asset: str, **query: Any
                  ) -> dict[str, Any]:
    r = await tenant.get(f"/v1/players/{user}/balances/{rail}/{asset}/explain", params=query)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = body(r)
    return result


async def whole_chain(tenant: Tenant, user: str, rail: str, asset: str, limit: int
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every entry, page by page, and every page."""
    pages, cursor = [], None
    while True:
        query: dict[str, Any] = {"limit": limit}
        if cursor:
            query["cursor"] = cursor
        page = await explain(tenant, user, rail, asset, **query)
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return [e for p in pages for e in p["data"]], pages


def check_running(entries: list[dict[str, Any]], shown_balance: Decimal) -> None:
    """Newest first: the first ends at the balance; each is the older one plus its amount;
    the oldest starts from zero; ids strictly decrease."""
    assert entries[0]["balance_after"] == shown_balance
    for newer, older in itertools.pairwise(entries):
        assert newer["entry_id"] > older["entry_id"]
        assert newer["balance_before"] == older["balance_after"]
        assert newer["balance_after"] == older["balance_after"] + newer["amount"]
        assert newer["balance_after_minor"] - newer["amount_minor"] == \
            older["balance_after_minor"]
    assert entries[-1]["balance_before"] == 0
    assert sum(e["amount"] for e in entries) == shown_balance


def realm_of(tenant: Tenant) -> Realm:
    return Realm(UUID(tenant.id), Mode.TEST)


async def test_flows_end_at_the_balance_the_dossier_shows(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", "25.00", reason="welcome gift")).status_code == 201
    assert (await adjust(tenant, "alice", "-5.50", reason="chargeback")).status_code == 201
    assert (await adjust(tenant, "alice", 500, rail="winz", asset="WINZ")).status_code == 201
    box = body(await tenant.post("/v1/lootbox", {"name": "Chest", "prize_table": PRIZES,
                                                 "cost_winz": 20}))["lootbox"]
    opens = []
    for _ in range(3):
        r = await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"})
        assert r.status_code == 201, r.text
        opens.append(body(r))
    welcome = await template(tenant, name="Welcome ten", promo_code="WELCOME10",
                             wagering_multiple=10)
    granted = await grant(tenant, "WELCOME10")

    shown = await balances(tenant, "alice")
    real = await explain(tenant, "alice", "real", "USD")
    assert real["balance"]["amount"] == shown["real"]["USD"] == Decimal("19.50")
    assert real["consistent"] is True and real["duplicates"] == []
    check_running(real["data"], shown["real"]["USD"])
    [debit, credit] = real["data"]
    assert debit["kind"] == "adjustment" and debit["amount"] == Decimal("-5.50")
    assert debit["amount_minor"] == -550
    assert debit["source"]["type"] == "adjustment" and debit["source"]["reason"] == "chargeback"
    assert debit["source"]["actor"].startswith("api_key:")
    assert credit["source"]["reason"] == "welcome gift"

    winz = await explain(tenant, "alice", "winz", "WINZ")
    check_running(winz["data"], shown["winz"]["WINZ"])
    assert winz["balance"]["amount"] == shown["winz"]["WINZ"]
    kinds = [e["kind"] for e in winz["data"]]
    assert kinds.count("lootbox.cost") == 3 and kinds.count("lootbox.open") == 3
    assert kinds[-1] == "adjustment"
    by_open = {e["source"]["open_id"]: e for e in winz["data"] if e["kind"] == "lootbox.open"}
    for opened in opens:
        source = by_open[opened["open_id"]]["source"]
        assert source["type"] == "lootbox_open" and source["lootbox_id"] == box["id"]
        assert source["segment_label"] == opened["reward"]["segment_label"]
        assert source["verify_url"] == opened["verify_url"]
        fields = {k: v[0] for k, v in parse_qs(urlsplit(source["verify_url"]).query).items()}
        assert urlsplit(source["verify_url"]).path == "/fairness/verify"
        assert fields["server_seed_hash"] == fairness.hash_seed(fields["server_seed"])
        weights = [int(w) for w in fields["weights"].split(",")]
        assert fairness.draw_weighted(fields["server_seed"], fields["client_seed"],
                                      weights) == int(fields["index"])
        assert fairness.prize_table_hash(json.loads(fields["prize_table"])) \
            == fields["prize_table_hash"] == box["prize_table_hash"]

    bonus = await explain(tenant, "alice", "bonus", "USD")
    check_running(bonus["data"], shown["bonus"]["USD"])
    [granted_entry] = bonus["data"]
    assert granted_entry["kind"] == "bonus.grant"
    assert granted_entry["source"] == {
        "type": "bonus", "ref_type": "bonus", "ref_id": granted["bonus"]["id"],
        "bonus_id": granted["bonus"]["id"], "template_id": welcome["id"],
        "template_name": "Welcome ten", "bonus_type": "no_deposit"}


async def test_a_raffle_prize_links_to_its_draw_proof(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", 100, rail="winz", asset="WINZ")).status_code == 201
    raffle = body(await tenant.post("/v1/raffles", {"name": "Weekly", "ticket_cost_winz": 10,
                                                    "prize_winz": 700}))["raffle"]
    r = await tenant.post(f"/v1/raffles/{raffle['id']}/enter", {"user_id": "alice",
                                                                "tickets": 3})
    assert r.status_code == 201, r.text
    drawn = body(await tenant.post(f"/v1/raffles/{raffle['id']}/draw", {}))
    assert drawn["verify_url"].startswith("/fairness/verify?game=raffle&")

    chain = await explain(tenant, "alice", "winz", "WINZ")
    check_running(chain["data"], (await balances(tenant, "alice"))["winz"]["WINZ"])
    prize, entry, _ = chain["data"]
    assert prize["kind"] == "raffle.prize" and prize["amount"] == 700
    assert prize["source"]["draw_id"] == drawn["draw_id"]
    assert prize["source"]["raffle_id"] == raffle["id"]
    assert prize["source"]["verify_url"] == drawn["verify_url"]
    fields = {k: v[0] for k, v in parse_qs(urlsplit(drawn["verify_url"]).query).items()}
    assert int(fields["tickets"]) == 3
    assert fairness.draw_uniform(fields["server_seed"], fields["client_seed"], 3) == \
        int(fields["index"]) == drawn["winning_ticket_idx"]
    assert entry["kind"] == "raffle.entry" and entry["amount"] == -30
    assert entry["source"]["type"] == "raffle_entry"


async def test_pages_keep_the_running_balance(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    amounts = ["10.00", "-3.25", "7.10", "0.01", "-1.00", "100.00", "-50.50", "2.22", "3.33"]
    for i, amount in enumerate(amounts):
        assert (await adjust(tenant, "alice", amount, reason=f"step {i}")).status_code == 201
    shown = (await balances(tenant, "alice"))["real"]["USD"]
    whole = (await explain(tenant, "alice", "real", "USD", limit=500))["data"]
    entries, pages = await whole_chain(tenant, "alice", "real", "USD", limit=2)
    assert len(pages) == 5 and [len(p["data"]) for p in pages] == [2, 2, 2, 2, 1]
    assert all(p["consistent"] for p in pages)
    assert all(p["balance"]["amount"] == shown for p in pages)
    assert entries == whole
    check_running(entries, shown)
    assert [e["source"]["reason"] for e in entries] == [f"step {i}" for i in range(8, -1, -1)]


async def test_a_source_paid_twice_shows_in_duplicates(tenant: Tenant, engine: Any,
                                                      clock: ManualClock) -> None:
    player = await create_player(tenant, "alice")
    realm = realm_of(tenant)
    mine = ledger.Account.player(UUID(player["user_id"]), Rail.REAL, "USD")
    clearing = ledger.Account.system(ledger.PSP_CLEARING, Rail.REAL, "USD")

    async def deposit(deposit_id: str, minor: int) -> int:
        async def post(conn: Any) -> int:
            entry = await ledger.post_entry(
                conn, realm=realm, kind="deposit.completed", at=clock.now(),
                ref_type="deposit", ref_id=deposit_id,
                postings=[ledger.Posting(mine, minor), ledger.Posting(clearing, -minor)])
            return entry.id

        return await unit_of_work(engine, post)

    once = await deposit("dep-1", 1000)
    first = await deposit("dep-2", 2500)
    second = await deposit("dep-2", 2500)  # the same deposit credited again
    assert (await adjust(tenant, "alice", "1.00", reason="a")).status_code == 201
    assert (await adjust(tenant, "alice", "1.00", reason="a")).status_code == 201

    chain = await explain(tenant, "alice", "real", "USD", limit=2)
    assert chain["duplicates"] == [{
        "source": {"type": "deposit", "ref_type": "deposit", "ref_id": "dep-2",
                   "deposit_id": "dep-2"},
        "kind": "deposit.completed", "entry_ids": [second, first],
        "total": Decimal("50.00"), "total_minor": 5000}]
    entries, pages = await whole_chain(tenant, "alice", "real", "USD", limit=2)
    assert pages[0]["duplicates"] == chain["duplicates"]
    assert all(p["duplicates"] is None for p in pages[1:])  # the first page carries them
    check_running(entries, (await balances(tenant, "alice"))["real"]["USD"])
    assert entries[-1]["entry_id"] == once
    assert entries[-1]["source"] == {"type": "deposit", "ref_type": "deposit",
                                     "ref_id": "dep-1", "deposit_id": "dep-1"}


async def test_an_empty_balance_has_an_empty_chain(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    for rail, asset in (("real", "USD"), ("bonus", "USD"), ("winz", "WINZ"), ("xp", "xp")):
        chain = await explain(tenant, "alice", rail, asset)
        assert chain == {
            "balance": {"user_id": chain["balance"]["user_id"], "rail": rail,
                        "asset": asset.upper(), "amount": 0, "amount_minor": 0},
            "data": [], "next_cursor": None, "consistent": True, "duplicates": []}


async def test_bad_input_answers_in_the_envelope(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    base = "/v1/players/alice/balances"
    assert_validation(await tenant.get(f"{base}/cash/USD/explain"), "rail")
    assert_validation(await tenant.get(f"{base}/real/DOGE/explain"), "asset")
    assert_validation(await tenant.get(f"{base}/winz/USD/explain"), "asset")
    assert_validation(await tenant.get(f"{base}/real/{'X' * 300}/explain"), "asset")
    assert_error(await tenant.get(f"{base}/real/EUR/explain"), 400, "CURRENCY_MISMATCH")
    assert_validation(await tenant.get(f"{base}/real/USD/explain?limit=0"), "limit")
    assert_validation(await tenant.get(f"{base}/real/USD/explain?limit=501"), "limit")
    assert_error(await tenant.get(f"{base}/real/USD/explain?cursor=not-a-cursor"), 400,
                 "VALIDATION_ERROR")
    assert_error(await tenant.get(f"{base}/real/USD/explain?cursor=" + "A" * 2000), 400,
                 "VALIDATION_ERROR")
    assert_error(await tenant.get("/v1/players/nobody/balances/real/USD/explain"), 404,
                 "NO_PLAYER")


async def test_a_deep_balance_chains_over_every_page(tenant: Tenant, engine: Any,
                                                    clock: ManualClock) -> None:
    """2,000 entries in pages of 500: every page chains, the walk ends at zero (the timing
    of 10,000 entries is measured by ``python -m bench --only explain``)."""
    player = await create_player(tenant, "whale")
    realm = realm_of(tenant)
    mine = ledger.Account.player(UUID(player["user_id"]), Rail.WINZ, "WINZ")
    mint = ledger.Account.system(ledger.WINZ_ISSUANCE, Rail.WINZ, "WINZ")

    async def post_many(conn: Any) -> None:
        for i in range(2_000):
            await ledger.post_entry(conn, realm=realm, kind="probe.credit", at=clock.now(),
                                    ref_type="wager", ref_id=f"w-{i}",
                                    postings=[ledger.Posting(mine, 1 + i % 7),
                                              ledger.Posting(mint, -(1 + i % 7))])

    await unit_of_work(engine, post_many)
    shown = (await balances(tenant, "whale"))["winz"]["WINZ"]
    assert shown == sum(1 + i % 7 for i in range(2_000))
    entries, pages = await whole_chain(tenant, "whale", "winz", "WINZ", limit=500)
    assert len(pages) == 4 and len(entries) == 2_000
    assert all(p["consistent"] for p in pages)
    assert pages[0]["duplicates"] == [] and all(p["duplicates"] is None for p in pages[1:])
    check_running(entries, shown)
    assert [e["source"]["wager_id"] for e in entries[:2]] == ["w-1999", "w-1998"]


async def test_the_console_links_each_draw_to_the_verifier(
    tenant: Tenant, client: httpx.AsyncClient, app: Any,
) -> None:
    await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", 100, rail="winz", asset="WINZ")).status_code == 201
    box = body(await tenant.post("/v1/lootbox", {"name": "Chest", "prize_table": PRIZES,
                                                 "cost_winz": 20}))["lootbox"]
    opened = body(await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"}))
    await signed_in_operator(app, client, tenant.id, "support")
    page = await client.get("/admin/tenants/acme/test/players/main/alice")
    assert page.status_code == 200, page.text
    shown = html.escape(opened["verify_url"], quote=True)
    # the prize and the cost of the open: one link each, the adjustment none
    assert page.text.count(f'href="{shown}"') == 2
    assert page.text.count("Verify the draw") == 2


async def test_wagers_explain_the_xp_and_bonus_balances(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await tenant.put("/v1/vip", programme())
    assert r.status_code == 200, r.text
    await template(tenant, name="Play money", promo_code="PLAY", wagering_multiple=20)
    granted = await grant(tenant, "PLAY")
    await bet(tenant, "cash-1", "3.00")  # real play: 30 XP
    await bet(tenant, "bonus-1", "4.00", funding="bonus", win_amount="1.50")
    await bet(tenant, "cash-2", "2.00")  # 20 XP more
    await bet(tenant, "cash-3", "1.00")  # 10 XP, then voided
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "cash-3"})
    assert r.status_code in (200, 201), r.text

    shown = await balances(tenant, "alice")
    xp = await explain(tenant, "alice", "xp", "XP")
    check_running(xp["data"], shown["xp"]["XP"])
    voided, *earned = xp["data"]
    assert voided["amount"] == -10 and voided["kind"] == "vip.xp_reversal"
    assert voided["source"]["wager_id"] == "cash-3"  # the voided wager, not a duplicate
    assert [(e["amount"], e["source"]["type"], e["source"]["wager_id"]) for e in earned] \
        == [(10, "wager", "cash-3"), (20, "wager", "cash-2"), (30, "wager", "cash-1")]
    assert xp["consistent"] and xp["duplicates"] == []

    bonus = await explain(tenant, "alice", "bonus", "USD")
    check_running(bonus["data"], shown["bonus"]["USD"])
    played, credited = bonus["data"]
    assert played["kind"] == "bonus.play" and played["amount"] == Decimal("-2.50")
    assert played["source"]["wager_id"] == "bonus-1"
    assert credited["kind"] == "bonus.grant"
    assert credited["source"]["bonus_id"] == granted["bonus"]["id"]


async def test_a_mystery_jackpot_win_links_to_its_drop_point_proof(
        client: httpx.AsyncClient) -> None:
    casino = await make_white_label(client)  # the win is credited to the player's cash
    await create_player(casino, "alice", country_code="MT", date_of_birth="1990-01-01")
    r = await casino.post("/v1/jackpots", {"name": "Mystery", "currency": "USD",
                                           "seed_usd": 10, "must_drop_at": 12, "mystery": True})
    assert r.status_code == 201, r.text
    pool = body(r)["jackpot"]
    dropped = None
    for i in range(9):  # 8 × 0.25 covers the whole range (10, 12]
        answer = body(await casino.post(f"/v1/jackpots/{pool['id']}/contribute", {
            "user_id": "alice", "source_wager_id": f"w{i}", "amount": "0.25"}))
        if answer["dropped"] is not None:
            dropped = answer["dropped"]
            break
    assert dropped is not None and dropped["trigger_reason"] == "mystery"
    reveal = dropped["mystery"]
    fields = {k: v[0] for k, v in parse_qs(urlsplit(reveal["verify_url"]).query).items()}
    assert (fields["game"], fields["range_from"], fields["range_to"]) == ("mystery", "1000",
                                                                          "1200")
    assert int(fields["index"]) == 1000 + 1 + fairness.draw_uniform(
        reveal["server_seed"], reveal["client_seed"], 200) == round(dropped["amount"] * 100)

    chain = await explain(casino, "alice", "real", "USD")
    check_running(chain["data"], (await balances(casino, "alice"))["real"]["USD"])
    [won] = chain["data"]
    assert won["kind"] == "jackpot.drop" and won["amount"] == dropped["amount"]
    assert won["source"]["drop_id"] == dropped["drop_id"]
    assert won["source"]["jackpot_id"] == pool["id"]
    assert won["source"]["verify_url"] == reveal["verify_url"]


async def test_another_brand_or_mode_sees_nothing(tenant: Tenant,
                                                  client: httpx.AsyncClient) -> None:
    """The isolation probes cover other tenants and modes; here also the same tenant's
    other brand, by username and by id."""
    alice = await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", "9.00", reason="secret")).status_code == 201
    r = await client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                          json={"slug": "other", "name": "Other"})
    assert r.status_code == 201, r.text
    other = bearer((await create_key(client, tenant, ["*"], brand="other"))["key"])
    for ref in ("alice", alice["user_id"]):
        path = f"/v1/players/{ref}/balances/real/USD/explain"
        answer = await client.get(path, headers=other)
        assert_error(answer, 404, "NO_PLAYER")
        assert "secret" not in answer.text
        live = await tenant.get(path, mode="live")
        assert_error(live, 404, "NO_PLAYER")
        assert "secret" not in live.text
