"""The compliance gate of the wallet: deposit limits (the player's RG limits and the
jurisdiction's monthly cap), KYC and holds for withdrawals, bonuses forfeited by a
withdrawal, and deposits feeding the spine (a first-deposit bonus)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from tests.integration.bonus_support import grant, template
from tests.integration.support import assert_error, assert_validation, body, outbox
from tests.integration.wallet_support import (
    Player,
    bonus_balance,
    ledger_problems,
    new_player,
    real_balance,
    until_settled,
)
from tests.integration.wl_support import WhiteLabel
from wowsino.kernel.clock import ManualClock, iso


async def deposit(player: Player, amount: str, method: str = "card", **extra: Any
                  ) -> Any:
    return await player.post("/v1/player/deposits",
                             {"amount": amount, "currency": "USD", "method": method, **extra})


async def test_a_deposit_over_a_daily_limit_is_refused_naming_the_limit_and_its_reset(
    wl: WhiteLabel, served: int, clock: ManualClock,
) -> None:
    alice = await new_player(wl, "alice")
    r = await wl.post("/v1/players/alice/rg", {"deposit_daily_limit": 100})
    assert r.status_code == 200, r.text
    first_at = clock.now()
    assert (await deposit(alice, "60.00")).status_code == 201
    clock.advance(timedelta(hours=1))
    r = await deposit(alice, "50.00", method="card_slow")  # pending deposits count too
    refusal = assert_error(r, 403, "DEPOSIT_LIMIT")
    details = refusal["details"]
    assert details["rule"] == details["limit"] == "deposit_daily_limit"
    assert (details["limit_amount"], details["used"], details["available"]) == (100, 60, 40)
    assert details["resets_at"] == iso(first_at + timedelta(hours=24))
    assert "deposit_daily_limit" in refusal["error"]
    made = body(await deposit(alice, "40.00", method="card_slow"))
    assert made["deposit"]["status"] == "pending"
    r = await deposit(alice, "0.01")
    assert assert_error(r, 403, "DEPOSIT_LIMIT")["details"]["resets_at"] == iso(
        first_at + timedelta(hours=24))
    over = assert_error(await deposit(alice, "100.01"), 403, "DEPOSIT_LIMIT")
    assert over["details"]["resets_at"] is None  # no wait makes room for more than the limit
    clock.advance(timedelta(hours=23, seconds=1))
    await alice.relogin()
    assert (await deposit(alice, "50.00")).status_code == 201
    audit = (await wl.get("/v1/audit", params={"action": "compliance.refused"})).json()["data"]
    assert len(audit) == 3 and audit[0]["after"]["action"] == "deposit"


async def test_weekly_and_monthly_limits_count_their_own_windows(
    wl: WhiteLabel, served: int, clock: ManualClock,
) -> None:
    alice = await new_player(wl, "alice")
    await wl.post("/v1/players/alice/rg", {"deposit_weekly_limit": 150,
                                           "deposit_monthly_limit": 200})
    start = clock.now()
    for day in range(3):
        clock.set(start + timedelta(days=day))
        await alice.relogin()
        assert (await deposit(alice, "50.00", method="card_slow")).status_code == 201
    refusal = assert_error(await deposit(alice, "10.00"), 403, "DEPOSIT_LIMIT")
    assert refusal["details"]["limit"] == "deposit_weekly_limit"
    assert refusal["details"]["resets_at"] == iso(start + timedelta(days=7))
    clock.set(start + timedelta(days=8))
    await alice.relogin()
    assert (await deposit(alice, "50.00", method="card_slow")).status_code == 201
    refusal = assert_error(await deposit(alice, "10.00"), 403, "DEPOSIT_LIMIT")
    assert refusal["details"]["limit"] == "deposit_monthly_limit"
    assert refusal["details"]["resets_at"] == iso(start + timedelta(days=30))


async def test_a_jurisdictions_monthly_cap_applies_per_calendar_month(
    wl: WhiteLabel, served: int, clock: ManualClock,
) -> None:
    alice = await new_player(wl, "alice")
    r = await wl.put("/v1/brands/main/jurisdiction", {
        "profile": "default", "overrides": {"deposit_cap_monthly": {"usd": "100"}}})
    assert r.status_code == 200, r.text
    assert body(r)["jurisdiction"]["rules"]["deposit_cap_monthly"] == {"USD": Decimal("100.00")}
    assert (await deposit(alice, "80.00")).status_code == 201
    refusal = assert_error(await deposit(alice, "30.00"), 403, "DEPOSIT_LIMIT")
    assert refusal["details"]["rule"] == "deposit_cap_monthly"
    assert refusal["details"]["profile"] == "default"
    assert refusal["details"]["resets_at"] == "2026-02-01T00:00:00Z"
    clock.set(clock.now().replace(month=2, day=1, hour=0))
    await alice.relogin()
    assert (await deposit(alice, "30.00")).status_code == 201
    # the German profile caps EUR deposits; a USD player there has no cap
    r = await wl.put("/v1/brands/main/jurisdiction", {"profile": "DE"})
    assert body(r)["jurisdiction"]["rules"]["deposit_cap_monthly"] == {"EUR": Decimal("1000.00")}
    assert (await deposit(alice, "5000.00")).status_code == 201
    for bad in ({"XYZ": 1}, {"USD": 0}, {"USD": "1.001"}, {"WINZ": 5}):
        r = await wl.put("/v1/brands/main/jurisdiction", {
            "profile": "default", "overrides": {"deposit_cap_monthly": bad}})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["details"]["field"].startswith("overrides.deposit_cap_monthly"), r.text


async def test_a_withdrawal_needs_an_approved_kyc_at_the_profiles_level(
    wl: WhiteLabel, served: int,
) -> None:
    bob = await new_player(wl, "bob", kyc=False, funds="50.00")
    refusal = assert_error(await bob.post("/v1/player/withdrawals",
                                          {"amount": "10", "currency": "USD"}),
                           403, "KYC_REQUIRED")
    assert refusal["details"]["required_level"] == 1
    assert refusal["details"]["kyc_status"] == "none"
    r = await wl.patch("/v1/players/bob/kyc", {"status": "pending", "reason": "documents sent"})
    assert r.status_code == 200 and r.json()["kyc"]["level"] == 0, r.text
    assert_validation(await wl.patch("/v1/players/bob/kyc", {
        "status": "approved", "reason": "no level"}), "level")
    assert_validation(await wl.patch("/v1/players/bob/kyc", {
        "status": "approved", "level": 4, "reason": "too high"}), "level")
    r = await wl.patch("/v1/players/bob/kyc", {"status": "approved", "level": 1,
                                               "reason": "passport checked"})
    assert r.status_code == 200, r.text
    assert r.json()["kyc"]["previous"] == {"status": "pending", "level": 0}
    dossier = (await wl.get("/v1/players/bob")).json()["player"]
    assert (dossier["kyc_status"], dossier["kyc_level"]) == ("approved", 1)
    assert (await bob.post("/v1/player/withdrawals",
                           {"amount": "10", "currency": "USD"})).status_code == 201
    r = await wl.put("/v1/brands/main/jurisdiction", {
        "profile": "GB", "overrides": {"withdrawal_kyc_level": 2}})
    assert r.status_code == 200, r.text
    refusal = assert_error(await bob.post("/v1/player/withdrawals",
                                          {"amount": "10", "currency": "USD"}),
                           403, "KYC_REQUIRED")
    assert (refusal["details"]["required_level"], refusal["details"]["profile"]) == (2, "GB")
    for bad in (0, 4, True):
        r = await wl.put("/v1/brands/main/jurisdiction", {
            "profile": "GB", "overrides": {"withdrawal_kyc_level": bad}})
        assert r.status_code == 400, (bad, r.text)
    decisions = (await wl.get("/v1/audit", params={"action": "kyc.decision"})).json()["data"]
    assert len(decisions) == 2


async def test_a_held_player_cannot_deposit_but_keeps_the_way_out_for_their_money(
    wl: WhiteLabel, served: int, clock: ManualClock,
) -> None:
    carol = await new_player(wl, "carol", funds="20.00")
    await wl.post("/v1/players/carol/rg", {"timeout_until": iso(clock.now() + timedelta(days=1))})
    refusal = assert_error(await deposit(carol, "5"), 403, "TIMED_OUT")
    assert refusal["details"]["rule"] == "timeout"
    # a time-out keeps the player from play and deposits, never from their own money
    r = await carol.post("/v1/player/withdrawals", {"amount": "5", "currency": "USD"})
    assert r.status_code == 201, r.text
    clock.advance(timedelta(days=1, seconds=1))
    await carol.relogin()
    r = await wl.patch("/v1/players/carol/status", {"status": "fraud_hold", "reason": "check"})
    assert r.status_code == 200, r.text
    assert_error(await carol.post("/v1/player/withdrawals",
                                  {"amount": "5", "currency": "USD"}), 403, "PLAYER_BLOCKED")
    assert_error(await deposit(carol, "5"), 403, "PLAYER_BLOCKED")
    r = await wl.patch("/v1/players/carol/status", {"status": "self_excluded", "reason": "check"})
    assert r.status_code == 200, r.text
    # a self-excluded player's session is closed to every request (the operator returns
    # the balance); the gate itself would let the withdrawal through
    for path, payload in (("/v1/player/deposits", {"amount": "5", "currency": "USD",
                                                   "method": "card"}),
                          ("/v1/player/withdrawals", {"amount": "5", "currency": "USD"})):
        assert_error(await carol.post(path, payload), 403, "SELF_EXCLUDED")
    assert await real_balance(wl, "carol") == Decimal("15.00")


async def test_a_withdrawal_forfeits_active_bonuses_and_pays_only_the_cash(
    wl: WhiteLabel, served: int, engine: Any,
) -> None:
    alice = await new_player(wl, "alice", funds="50.00")
    made = await template(wl, amount="10.00", wagering_multiple=30)
    bonus = (await grant(wl, made["id"]))["bonus"]
    assert await bonus_balance(wl, "alice") == Decimal("10.00")
    # bonus money is never withdrawable: more than the cash is refused, nothing forfeited
    assert_error(await alice.post("/v1/player/withdrawals",
                                  {"amount": "55.00", "currency": "USD"}),
                 402, "INSUFFICIENT_FUNDS")
    assert await bonus_balance(wl, "alice") == Decimal("10.00")
    r = await alice.post("/v1/player/withdrawals", {"amount": "50.00", "currency": "USD"})
    assert r.status_code == 201, r.text
    answer = body(r)
    assert answer["forfeited_bonuses"] == [{"bonus_id": bonus["id"], "type": "no_deposit",
                                            "currency": "USD",
                                            "amount_removed": Decimal("10.00")}]
    assert answer["withdrawal"]["forfeited_bonuses"] == answer["forfeited_bonuses"]
    assert answer["real_balance"] == Decimal("0.00")
    assert await bonus_balance(wl, "alice") == Decimal("0.00")
    r = await wl.get("/v1/players/alice/bonuses")
    assert [(b["status"], b["end_reason"]) for b in body(r)["data"]] == [
        ("forfeited", "withdrawal")]
    assert await ledger_problems(engine, wl) == []


async def test_a_deposit_in_another_currency_or_by_an_unknown_method_is_400(
    wl: WhiteLabel, served: int,
) -> None:
    alice = await new_player(wl, "alice")
    assert_error(await alice.post("/v1/player/deposits", {
        "amount": "5", "currency": "EUR", "method": "card"}), 400, "CURRENCY_MISMATCH")
    assert_validation(await deposit(alice, "5", method="bank_wire"), "method")
    for amount in ("0", "-5", "1.001", "1e30", "NaN"):
        assert_validation(await deposit(alice, amount), "amount")
    assert_validation(await alice.post("/v1/player/withdrawals", {
        "amount": "5", "currency": "USD", "method": "pigeon"}), "method")
    assert_validation(await alice.post("/v1/player/withdrawals", {
        "amount": "5", "currency": "WINZ"}), "currency")
    r = await wl.get("/v1/deposits")
    assert r.json()["data"] == []


async def test_a_first_deposit_earns_the_deposit_match_through_the_spine(
    wl: WhiteLabel, served: int, engine: Any,
) -> None:
    alice = await new_player(wl, "alice")
    await template(wl, type="deposit_match", amount=None, amount_pct=100, max_amount="50.00",
                   wagering_multiple=10, promo_code="WELCOME100")
    made = body(await deposit(alice, "80.00", promo_code="WELCOME100"))
    assert made["deposit"]["promo_code"] == "WELCOME100"
    await until_settled(wl, "deposit", made["deposit"]["id"])
    assert await real_balance(wl, "alice") == Decimal("80.00")
    assert await bonus_balance(wl, "alice") == Decimal("50.00")
    stats = (await wl.get("/v1/players/alice")).json()["player"]
    assert stats["active_bonuses"][0]["bonus_amount"] == 50
    r = await alice.get("/v1/player/transactions")
    kinds = [(t["type"], t["rail"], t["amount"], t["balance_after"]) for t in body(r)["data"]]
    assert ("deposit", "real", Decimal("80.00"), Decimal("80.00")) in kinds
    assert ("bonus", "bonus", Decimal("50.00"), Decimal("50.00")) in kinds
    assert await ledger_problems(engine, wl) == []


async def test_an_operator_pays_out_a_self_excluded_players_balance_through_the_gate(
    wl: WhiteLabel, served: int, engine: Any,
) -> None:
    dana = await new_player(wl, "dana", funds="40.00")
    r = await wl.patch("/v1/players/dana/status", {"status": "self_excluded",
                                                   "reason": "asked to close for a year"})
    assert r.status_code == 200, r.text
    assert_error(await dana.post("/v1/player/withdrawals", {"amount": "5", "currency": "USD"}),
                 403, "SELF_EXCLUDED")
    # the reason is required; bad amounts change nothing
    assert_validation(await wl.post("/v1/players/dana/withdrawals",
                                    {"amount": "40.00", "currency": "USD"}), "reason")
    for amount in ("0", "-1", "1.001", "1e30"):
        assert_validation(await wl.post("/v1/players/dana/withdrawals", {
            "amount": amount, "currency": "USD", "reason": "return"}), "amount")
    assert_error(await wl.post("/v1/players/dana/withdrawals", {
        "amount": "40.01", "currency": "USD", "reason": "return"}), 402, "INSUFFICIENT_FUNDS")
    assert_error(await wl.post("/v1/players/nobody/withdrawals", {
        "amount": "1", "currency": "USD", "reason": "return"}), 404, "NO_PLAYER")
    payload = {"amount": "40.00", "currency": "USD", "reason": "self-excluded: balance returned",
               "idempotency_key": "return-dana"}
    r = await wl.post("/v1/players/dana/withdrawals", payload)
    assert r.status_code == 201, r.text
    made = body(r)["withdrawal"]
    assert made["status"] == "approved" and made["auto_approved"] is False
    assert made["review"]["reason"] == "self-excluded: balance returned"
    assert made["review"]["by"].startswith("api_key:") and made["review"]["automatic"] is False
    replay = await wl.post("/v1/players/dana/withdrawals", payload)
    assert replay.status_code == 200 and body(replay)["withdrawal"]["id"] == made["id"]
    assert body(replay)["deduped"] is True
    done = await until_settled(wl, "withdrawal", made["id"], waiting=("pending", "approved"))
    assert done["withdrawal"]["status"] == "completed"
    assert await real_balance(wl, "dana") == Decimal("0.00")
    events = await outbox(engine, wl.id, "test", "withdrawal.requested")
    assert [(e["withdrawal_id"], e["requested_by"]) for e in events] == [
        (made["id"], "operator")]
    approved = (await wl.get("/v1/audit", params={"action": "withdrawal.approved"})).json()
    [row] = approved["data"]
    assert row["actor"]["type"] == "api_key" and row["after"]["requested_by"] == "operator"
    assert await ledger_problems(engine, wl) == []


async def test_an_operator_withdrawal_still_answers_to_the_gate(
    wl: WhiteLabel, served: int,
) -> None:
    await new_player(wl, "erin", kyc=False, funds="10.00")
    payload = {"amount": "10.00", "currency": "USD", "reason": "account closing"}
    assert_error(await wl.post("/v1/players/erin/withdrawals", payload), 403, "KYC_REQUIRED")
    await new_player(wl, "finn", funds="10.00")
    r = await wl.patch("/v1/players/finn/status", {"status": "fraud_hold", "reason": "check"})
    assert r.status_code == 200, r.text
    assert_error(await wl.post("/v1/players/finn/withdrawals", payload), 403, "PLAYER_BLOCKED")
    refused = (await wl.get("/v1/audit", params={"action": "compliance.refused"})).json()
    assert sorted(row["after"]["code"] for row in refused["data"]) == [
        "KYC_REQUIRED", "PLAYER_BLOCKED"]
    for name in ("erin", "finn"):
        assert await real_balance(wl, name) == Decimal("10.00")
