"""Bonuses over HTTP: templates, each type's grant, wagering, conversion, forfeits,
expiry and the player's view."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import Tenant
from tests.integration.bonus_support import (
    bet,
    bonuses_of,
    entries,
    grant,
    ledger_problems,
    template,
)
from tests.integration.support import (
    assert_error,
    assert_validation,
    balances,
    body,
    create_player,
)
from wowsino.kernel.clock import ManualClock


async def test_template_validation_names_the_field(tenant: Tenant) -> None:
    post = tenant.post
    base = {"name": "T", "type": "no_deposit", "amount": "10.00"}
    assert_validation(await post("/v1/bonus-templates", {**base, "type": "bogus"}), "type")
    assert_validation(await post("/v1/bonus-templates", {**base, "amount": "1.001"}), "amount")
    assert_validation(await post("/v1/bonus-templates", {**base, "amount": None}), "amount")
    assert_validation(await post("/v1/bonus-templates", {**base, "wagering_multiple": 1000}),
                      "wagering_multiple")
    assert_validation(await post("/v1/bonus-templates",
                                 {**base, "game_weights": {"slots": 11}}), "game_weights.slots")
    assert_validation(await post("/v1/bonus-templates",
                                 {**base, "game_weights": {"bingo": 1}}),
                      "game_weights.bingo.[key]")
    assert_validation(await post("/v1/bonus-templates", {**base, "type": "deposit_match"}),
                      "amount_pct")
    assert_validation(await post("/v1/bonus-templates", {**base, "currency": "WINZ"}),
                      "currency")
    assert_validation(await post("/v1/bonus-templates", {**base, "expires_in_hours": 0}),
                      "expires_in_hours")
    made = await template(tenant, promo_code="HELLO")
    assert made["amount"] == Decimal("10.00") and made["lint"] == []
    assert_error(await post("/v1/bonus-templates", {**base, "promo_code": "hello"}), 409,
                 "PROMO_CODE_TAKEN")
    r = await tenant.patch(f"/v1/bonus-templates/{made['id']}", {"max_bet": "5.00"})
    assert r.status_code == 200 and body(r)["template"]["max_bet"] == Decimal("5.00")
    listed = body(await tenant.get("/v1/bonus-templates"))["data"]
    assert [t["id"] for t in listed] == [made["id"]]


async def test_wagering_weights_progress_and_conversion_in_one_balanced_entry(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    made = await template(tenant, amount="10.00", wagering_multiple=5, max_conversion="8.00",
                          game_weights={"slots": 1, "table": "0.1"}, expires_in_hours=48)
    granted = await grant(tenant, made["id"])
    bonus = granted["bonus"]
    assert (bonus["status"], bonus["bonus_amount"], bonus["wagering_required"]) == (
        "active", Decimal("10.00"), Decimal("50.00"))
    assert (await balances(tenant, "alice"))["bonus"]["USD"] == Decimal("10.00")
    [active] = body(await tenant.get("/v1/players/alice"))["player"]["active_bonuses"]
    assert (active["id"], active["balance"]) == (bonus["id"], Decimal("10.00"))
    done = await bet(tenant, "w1", "100.00", game_category="table")
    [effect] = done["effects"]["bonus_wagering"]
    assert effect["added"] == Decimal("10.00")
    await bet(tenant, "w2", "5.00", game_category="live")  # weight 0: nothing
    [view] = await bonuses_of(tenant)
    assert view["progress_by_category"] == {"table": Decimal("10.00")}
    assert view["remaining_turnover"] == Decimal("40.00")
    assert view["forfeit_if_withdrawn_now"] == Decimal("10.00")
    assert view["time_left_seconds"] == 48 * 3600
    done = await bet(tenant, "w3", "40.00", game_category="slots")
    assert any(e.get("converted") for e in done["effects"]["bonus_wagering"])
    [view] = await bonuses_of(tenant)
    assert view["status"] == "completed" and view["real_credited"] == Decimal("8.00")
    assert view["forfeit_if_withdrawn_now"] == Decimal("0.00")
    player = view["player_id"]
    [entry] = await entries(engine, "bonus.convert")
    # plug-in: the operator pays the real money; the excess stays with bonus_liability
    assert entry["postings"] == {f"{player} bonus USD": -1000,
                                 "bonus_liability bonus USD": 200,
                                 "operator_payouts real USD": 800}
    assert (await balances(tenant, "alice"))["bonus"]["USD"] == Decimal("0.00")
    assert body(await tenant.get("/v1/players/alice"))["player"]["active_bonuses"] == []
    assert await ledger_problems(engine) == []


async def test_a_stake_above_max_bet_forfeits_the_bonus(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    made = await template(tenant, wagering_multiple=10, max_bet="2.00")
    await grant(tenant, made["id"])
    await bet(tenant, "w1", "2.00")
    done = await bet(tenant, "w2", "2.01")
    assert done["effects"]["bonus_wagering"] == [
        {"bonus_id": done["effects"]["bonus_wagering"][0]["bonus_id"], "forfeited": True,
         "reason": "max_bet", "amount_removed": Decimal("10.00")}]
    [view] = await bonuses_of(tenant)
    assert (view["status"], view["end_reason"]) == ("forfeited", "max_bet")
    assert view["wagering_completed"] == Decimal("2.00")
    assert len(await entries(engine, "bonus.forfeit")) == 1


async def test_terminal_states_are_kept_by_the_database(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    made = await template(tenant, wagering_multiple=10)
    bonus = (await grant(tenant, made["id"]))["bonus"]
    r = await tenant.post(f"/v1/bonuses/{bonus['id']}/forfeit", {"reason": "abuse"})
    assert r.status_code == 200 and body(r)["bonus"]["status"] == "forfeited"
    assert_error(await tenant.post(f"/v1/bonuses/{bonus['id']}/forfeit", {"reason": "again"}),
                 409, "NOT_ACTIVE")
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError, match="terminal state"):
            await conn.execute(text("UPDATE bonuses SET status = 'active' WHERE id = :id"),
                               {"id": bonus["id"]})


async def test_expiry_removes_what_is_left(app: Any, tenant: Tenant, clock: ManualClock,
                                           engine: Any) -> None:
    from wowsino.worker import Worker

    await create_player(tenant, "alice")
    made = await template(tenant, wagering_multiple=10, expires_in_hours=1)
    await grant(tenant, made["id"])
    assert (await Worker(app.state.platform).tick())["bonuses_expired"] == 0
    clock.advance(timedelta(hours=1))
    assert (await Worker(app.state.platform).tick())["bonuses_expired"] == 1
    [view] = await bonuses_of(tenant)
    assert view["status"] == "expired"
    assert (await balances(tenant, "alice"))["bonus"]["USD"] == Decimal("0.00")
    async with engine.connect() as conn:
        types = (await conn.execute(text("SELECT type FROM outbox_events ORDER BY created_at, "
                                         "type"))).scalars().all()
    assert "bonus.expired" in types and "bonus.granted" in types


async def test_free_spins_start_pending_and_their_win_becomes_bonus_money(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    made = await template(tenant, type="free_spins", amount=None, free_spin_count=20,
                          free_spin_value="0.10", wagering_multiple=3,
                          eligible_games=["starburst"])
    bonus = (await grant(tenant, made["id"]))["bonus"]
    assert bonus["status"] == "pending"
    r = await tenant.post(f"/v1/bonuses/{bonus['id']}/free-spins/settle", {"win_amount": "4.50"})
    assert r.status_code == 200, r.text
    settled = body(r)["bonus"]
    assert (settled["status"], settled["bonus_amount"], settled["wagering_required"]) == (
        "active", Decimal("4.50"), Decimal("13.50"))
    assert_error(await tenant.post(f"/v1/bonuses/{bonus['id']}/free-spins/settle",
                                   {"win_amount": "1.00"}), 409, "NOT_PENDING")
    assert_error(await tenant.post(f"/v1/bonuses/{bonus['id']}/cancel", {}), 409,
                 "NOT_PENDING")
    other = (await grant(tenant, made["id"]))["bonus"]
    r = await tenant.post(f"/v1/bonuses/{other['id']}/cancel", {})
    assert r.status_code == 200 and body(r)["bonus"]["status"] == "cancelled"


async def test_deposit_match_by_promo_code_on_a_deposit_event(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    await template(tenant, type="deposit_match", amount=None, amount_pct=100,
                   max_amount="50.00", wagering_multiple=10,
                   wagering_basis="bonus_plus_deposit", promo_code="WELCOME100")
    r = await tenant.post("/v1/events/deposit", {"user_id": "alice", "source_deposit_id": "d1",
                                                 "amount": "80.00", "currency": "USD",
                                                 "promo_code": "welcome100"})
    assert r.status_code == 201, r.text
    [effect] = body(r)["effects"]["bonuses"]
    assert effect["granted"] is True and effect["bonus_amount"] == Decimal("50.00")
    [view] = await bonuses_of(tenant)
    assert view["wagering_required"] == Decimal("1300.00")  # 10 × (50 + 80)


async def test_reload_needs_an_earlier_deposit_and_auto_grants_apply(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    reload = await template(tenant, type="reload", amount=None, amount_pct=50,
                            auto_grant=True, min_deposit="10.00", wagering_multiple=5)
    assert_error(await tenant.post("/v1/bonuses/grant", {
        "player_id": "alice", "template": reload["id"], "deposit_amount": "20.00"}),
        409, "NOT_ELIGIBLE")
    deposit = {"user_id": "alice", "amount": "20.00", "currency": "USD"}
    r = await tenant.post("/v1/events/deposit", {**deposit, "source_deposit_id": "d1"})
    assert body(r)["effects"]["bonuses"] == []
    r = await tenant.post("/v1/events/deposit", {**deposit, "source_deposit_id": "d2"})
    [effect] = body(r)["effects"]["bonuses"]
    assert effect["bonus_amount"] == Decimal("10.00")
    r = await tenant.post("/v1/events/deposit", {**deposit, "source_deposit_id": "d3",
                                                 "amount": "5.00"})
    assert body(r)["effects"]["bonuses"] == []  # under min_deposit


async def test_cashback_lossback_and_rakeback_come_from_the_activity_stats(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    cashback = await template(tenant, type="cashback", amount=None, amount_pct=10)
    assert_error(await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                         "template": cashback["id"]}),
                 409, "NO_BASIS")
    await bet(tenant, "w1", "100.00", win_amount="40.00", game_category="slots")
    await bet(tenant, "w2", "50.00", game_category="table", funding="bonus")  # not real
    granted = await grant(tenant, cashback["id"])
    assert granted["bonus"]["bonus_amount"] == Decimal("6.00")  # 10% of 60
    rakeback = await template(tenant, type="rakeback", amount=None, amount_pct=50,
                              house_edge_pct={"slots": 4})
    granted = await grant(tenant, rakeback["id"])
    assert granted["bonus"]["bonus_amount"] == Decimal("2.00")  # 50% of 100 × 4%
    lossback = await template(tenant, type="lossback", amount=None, amount_pct=100,
                              period_hours=24)
    assert_validation(await tenant.post("/v1/bonuses/grant", {
        "player_id": "alice", "template": lossback["id"]}), "opted_in_at")
    opted = (clock.now() - timedelta(hours=1)).isoformat()
    granted = await grant(tenant, lossback["id"], opted_in_at=opted)
    assert granted["bonus"]["bonus_amount"] == Decimal("60.00")


async def test_referral_goes_to_the_referrer_on_a_big_enough_first_deposit(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    assert_validation(await tenant.post("/v1/players", {"username": "bob",
                                                        "email": "bob@example.com",
                                                        "referred_by": "nobody"}),
                      "referred_by")
    await create_player(tenant, "bob", referred_by="alice")
    await template(tenant, type="referral", amount="5.00", min_deposit="20.00")
    r = await tenant.post("/v1/events/deposit", {"user_id": "bob", "source_deposit_id": "d1",
                                                 "amount": "25.00", "currency": "USD"})
    [effect] = body(r)["effects"]["bonuses"]
    assert effect["granted"] is True and effect["type"] == "referral"
    [view] = await bonuses_of(tenant, "alice")
    assert view["type"] == "referral" and view["bonus_amount"] == Decimal("5.00")
    assert await bonuses_of(tenant, "bob") == []


async def test_manual_needs_a_reason_and_vip_comp_takes_any_amount(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    manual = await template(tenant, type="manual", amount=None)
    assert_validation(await tenant.post("/v1/bonuses/grant", {
        "player_id": "alice", "template": manual["id"], "amount": "3.00"}), "reason")
    granted = await grant(tenant, manual["id"], amount="3.00", reason="sorry for the outage")
    assert granted["bonus"]["status"] == "completed"  # no wagering: converted at once
    comp = await template(tenant, type="vip_comp", amount=None, wagering_multiple=1)
    granted = await grant(tenant, comp["id"], amount="7.00")
    assert granted["bonus"]["bonus_amount"] == Decimal("7.00")


async def test_a_ticket_bonus_grants_raffle_entries(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/raffles", {"name": "Car", "ticket_cost_winz": 10,
                                          "prize_winz": 1000})
    raffle_id = r.json()["raffle"]["id"]
    made = await template(tenant, type="ticket", amount=None, raffle_id=raffle_id, tickets=3)
    granted = await grant(tenant, made["id"])
    assert granted["raffle_entry"]["tickets"] == 3
    assert granted["bonus"]["status"] == "completed"
    assert (await balances(tenant, "alice"))["winz"]["WINZ"] == 0


async def test_a_paused_template_is_not_granted_and_a_limit_holds(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    made = await template(tenant, max_grants_per_player=1)
    r = await tenant.post(f"/v1/bonus-templates/{made['id']}/pause", {})
    assert body(r)["template"]["status"] == "paused"
    assert_error(await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                         "template": made["id"]}),
                 409, "NOT_ACTIVE")
    await tenant.post(f"/v1/bonus-templates/{made['id']}/resume", {})
    await grant(tenant, made["id"])
    assert_error(await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                         "template": made["id"]}),
                 409, "MAX_GRANTS")
    assert_error(await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                         "template": "NOPE"}),
                 404, "NO_TEMPLATE")


async def test_a_rollback_takes_progress_back_from_an_active_bonus_only(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    made = await template(tenant, wagering_multiple=2)
    await grant(tenant, made["id"])
    await bet(tenant, "w1", "5.00")
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "w1"})
    assert body(r)["effects"]["bonus_wagering"][0]["reversed"] is True
    [view] = await bonuses_of(tenant)
    assert view["wagering_completed"] == Decimal("0.00") and view["progress_by_category"] == {}
    await bet(tenant, "w2", "20.00")  # completes
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "w2"})
    assert body(r)["effects"]["bonus_wagering"][0]["reversed"] is False
    [view] = await bonuses_of(tenant)
    assert view["status"] == "completed"


async def test_drops_are_provably_fair_and_stop_when_the_pool_is_exhausted(
    tenant: Tenant,
) -> None:
    from wowsino.bonuses.drops import wins
    from wowsino.kernel import fairness

    await create_player(tenant, "alice")
    made = await template(tenant, type="drops", amount=None, drop_rate="0.2",
                          prizes=[{"amount": "1.00", "count": 2}, {"amount": "5.00",
                                                                    "count": 1}],
                          game_weights={"slots": 1})
    committed = made["drops"]["server_seed_hash"]
    assert made["drops"]["server_seed"] is None and made["drops"]["remaining"] == [2, 1]
    assert_error(await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                         "template": made["id"]}),
                 409, "NOT_GRANTABLE")
    assert_validation(await tenant.patch(f"/v1/bonus-templates/{made['id']}",
                                         {"drop_rate": "0.5"}), "drop_rate")
    won: list[str] = []
    for n in range(200):
        done = await bet(tenant, f"w{n}", "1.00", game_category="slots")
        won += [f"w{n}" for e in done["effects"]["drops"] if e["granted"]]
        if len(won) == 3:
            break
    assert len(won) == 3
    shown = body(await tenant.get(f"/v1/bonus-templates/{made['id']}"))["template"]["drops"]
    assert shown["remaining"] == [0, 0] and shown["wins"] == 3
    seed = shown["server_seed"]
    assert fairness.hash_seed(seed) == committed  # the committed seed, revealed
    # anyone can recompute which wagers won
    recomputed = [f"w{n}" for n in range(int(won[-1][1:]) + 1)
                  if wins(seed, f"w{n}", Decimal("0.2")) is not None]
    assert recomputed == won
    prizes = sorted(v["bonus_amount"] for v in await bonuses_of(tenant))
    assert prizes == [Decimal("1.00"), Decimal("1.00"), Decimal("5.00")]
    after = await bet(tenant, "w-late", "1.00", game_category="slots")
    assert after["effects"]["drops"] == []
    # the winning wagers are published, newest first, a page at a time
    first = body(await tenant.get(f"/v1/bonus-templates/{made['id']}/drops/wins?limit=2"))
    rest = body(await tenant.get(f"/v1/bonus-templates/{made['id']}/drops/wins?limit=2"
                                 f"&cursor={first['next_cursor']}"))
    listed = first["data"] + rest["data"]
    assert [w["source_wager_id"] for w in listed] == won[::-1]
    assert sorted(w["amount"] for w in listed) == prizes
    assert {w["user"]["username"] for w in listed} == {"alice"}
    assert {w["bonus_id"] for w in listed} == {v["id"] for v in await bonuses_of(tenant)}
    assert all(w["amount"] == (Decimal("1.00"), Decimal("5.00"))[int(w["prize_index"])]
               for w in listed)
    not_drops = await template(tenant, name="Plain")
    assert_error(await tenant.get(f"/v1/bonus-templates/{not_drops['id']}/drops/wins"),
                 409, "NOT_DROPS")


async def test_white_label_conversion_credits_the_players_real_rail_from_the_house(
    client: Any, engine: Any,
) -> None:
    from tests.conftest import make_tenant

    casino = await make_tenant(client, "casino", service_mode="white_label")
    await create_player(casino, "alice")
    made = await template(casino, amount="10.00", wagering_multiple=1)
    await grant(casino, made["id"])
    await bet(casino, "w1", "10.00", game_category="slots")
    assert (await balances(casino, "alice"))["real"]["USD"] == Decimal("10.00")
    [entry] = await entries(engine, "bonus.convert")
    assert entry["postings"]["house real USD"] == -1000
    assert entry["postings"]["bonus_liability bonus USD"] == 1000
    assert await ledger_problems(engine) == []


async def test_whole_number_terms_come_back_as_plain_numbers(tenant: Tenant) -> None:
    made = await template(tenant, type="deposit_match", amount=None, amount_pct=100,
                          max_amount="50.00", wagering_multiple=10,
                          game_weights={"slots": 1, "table": "0.10"})
    shown = repr(made)
    assert "E+" not in shown, shown
    assert Decimal(str(made["amount_pct"])) == 100
    assert Decimal(str(made["game_weights"]["table"])) == Decimal("0.1")


async def test_a_bonus_in_another_currency_than_the_players_is_refused(tenant: Tenant) -> None:
    await create_player(tenant, "alice")  # a USD player
    euros = await template(tenant, name="Euro gift", currency="EUR")
    assert_error(await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                         "template": euros["id"]}),
                 400, "CURRENCY_MISMATCH")
    assert await bonuses_of(tenant) == []


async def test_a_promo_code_of_another_currency_grants_nothing_on_a_deposit(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    await template(tenant, name="Euro match", type="deposit_match", currency="EUR",
                   amount=None, amount_pct=100, max_amount="50.00", promo_code="EUROMATCH")
    r = await tenant.post("/v1/events/deposit", {
        "user_id": "alice", "source_deposit_id": "d-1", "amount": "20.00", "currency": "USD",
        "promo_code": "EUROMATCH"})
    assert r.status_code == 201, r.text
    assert "NOT_ELIGIBLE" in r.text, r.text
    assert await bonuses_of(tenant) == []
