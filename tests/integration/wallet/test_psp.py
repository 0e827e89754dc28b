"""A brand's PSP: its configuration (secrets write-only), auto-approval, and what happens
when the PSP is down or refuses — a pending deposit without a PSP reference is harmless
and a replay starts it; a payout the PSP did not take is sent again, once."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from tests.integration.support import assert_error, assert_validation, body
from tests.integration.wallet_support import (
    Psp,
    ledger_problems,
    new_player,
    real_balance,
    start_psp,
    system_balance,
    until_settled,
)
from tests.integration.wl_support import WhiteLabel
from tests.support.live_server import free_port
from wowsino.kernel.clock import ManualClock
from wowsino.worker import Worker


async def test_the_psp_configuration_shows_which_secrets_are_set_never_their_values(
    wl: WhiteLabel, served: int,
) -> None:
    r = await wl.get("/v1/brands/main/psp")
    assert r.status_code == 200, r.text
    assert r.json()["psp"] == {"brand": "main", "adapter": "sandbox", "configured": False,
                               "credentials_set": [], "auto_approve_below": {}, "version": 0,
                               "updated_at": None}
    secret = "a-brand-secret-never-shown"
    r = await wl.put("/v1/brands/main/psp", {"adapter": "sandbox",
                                             "credentials": {"secret": secret},
                                             "auto_approve_below": {"usd": "50.00"}})
    assert r.status_code == 200, r.text
    shown = body(r)["psp"]
    assert shown["credentials_set"] == ["secret"] and shown["version"] == 1
    assert shown["auto_approve_below"] == {"USD": Decimal("50.00")}
    assert secret not in r.text
    # omitted credentials stay while the adapter stays
    r = await wl.put("/v1/brands/main/psp", {"adapter": "sandbox",
                                             "auto_approve_below": {"USD": "20"}})
    assert body(r)["psp"]["credentials_set"] == ["secret"] and body(r)["psp"]["version"] == 2
    for text_ in ((await wl.get("/v1/brands/main/psp")).text,
                  (await wl.get("/v1/audit", params={"action": "psp.configured"})).text):
        assert secret not in text_
    assert_validation(await wl.put("/v1/brands/main/psp", {"adapter": "nuvei"}), "adapter")
    assert_validation(await wl.put("/v1/brands/main/psp", {
        "adapter": "sandbox", "credentials": {"api_key": "x"}}), "credentials")
    assert_validation(await wl.put("/v1/brands/main/psp", {
        "adapter": "sandbox", "credentials": {"Bad Name": "x"}}), "credentials")
    assert_validation(await wl.put("/v1/brands/main/psp", {
        "adapter": "sandbox", "auto_approve_below": {"USD": "0.001"}}),
        "auto_approve_below.USD")
    assert_validation(await wl.put("/v1/brands/main/psp", {
        "adapter": "sandbox", "auto_approve_below": {"XP": "5"}}), "auto_approve_below.XP")
    assert_error(await wl.get("/v1/brands/nowhere/psp"), 404, "NOT_FOUND")


async def test_a_withdrawal_below_the_threshold_is_paid_without_an_operator(
    wl: WhiteLabel, served: int, engine: Any,
) -> None:
    await wl.put("/v1/brands/main/psp", {"adapter": "sandbox",
                                         "auto_approve_below": {"USD": "25.00"}})
    alice = await new_player(wl, "alice", funds="100.00")
    r = await alice.post("/v1/player/withdrawals", {"amount": "24.99", "currency": "USD"})
    assert r.status_code == 201, r.text
    small = r.json()["withdrawal"]
    assert small["status"] == "approved" and small["auto_approved"] is True
    assert small["psp_reference"].startswith("sbx_out_")
    done = await until_settled(wl, "withdrawal", small["id"], waiting=("approved",))
    assert done["withdrawal"]["status"] == "completed"
    r = await alice.post("/v1/player/withdrawals", {"amount": "25.00", "currency": "USD"})
    assert r.json()["withdrawal"]["status"] == "pending"
    assert await real_balance(wl, "alice") == Decimal("50.01")
    assert await ledger_problems(engine, wl) == []


async def test_a_deposit_the_psp_did_not_answer_is_harmless_and_a_replay_starts_it(
    wl: WhiteLabel, served: int, app: Any, psp: Psp,
) -> None:
    platform = app.state.platform
    up = platform.settings
    platform.settings = dataclasses.replace(up, sandbox_psp_url=f"http://127.0.0.1:{free_port()}")
    alice = await new_player(wl, "alice")
    payload = {"amount": "30.00", "currency": "USD", "method": "card",
               "idempotency_key": "dep-down"}
    r = await alice.post("/v1/player/deposits", payload)
    assert_error(r, 503, "SERVICE_UNAVAILABLE")
    [stuck] = (await wl.get("/v1/deposits")).json()["data"]
    assert (stuck["status"], stuck["psp_reference"]) == ("pending", None)
    assert await real_balance(wl, "alice") == Decimal("0")
    platform.settings = up
    r = await alice.post("/v1/player/deposits", payload)
    assert r.status_code == 200 and r.json()["deduped"] is True, r.text
    assert r.json()["deposit"]["id"] == stuck["id"]
    assert r.json()["deposit"]["psp_reference"].startswith("sbx_pay_")
    done = await until_settled(wl, "deposit", stuck["id"])
    assert done["deposit"]["status"] == "completed"
    assert await real_balance(wl, "alice") == Decimal("30.00")


async def test_a_payout_the_psp_did_not_take_is_sent_again_by_the_worker_once(
    wl: WhiteLabel, served: int, app: Any, psp: Psp, clock: ManualClock, engine: Any,
) -> None:
    platform = app.state.platform
    up = platform.settings
    alice = await new_player(wl, "alice", funds="40.00")
    r = await alice.post("/v1/player/withdrawals", {"amount": "40.00", "currency": "USD"})
    withdrawal_id = r.json()["withdrawal"]["id"]
    platform.settings = dataclasses.replace(up, sandbox_psp_url=f"http://127.0.0.1:{free_port()}")
    r = await wl.post(f"/v1/withdrawals/{withdrawal_id}/approve", {})
    assert r.status_code == 200, r.text
    assert (r.json()["withdrawal"]["status"], r.json()["withdrawal"]["psp_reference"]) == (
        "approved", None)
    worker = Worker(platform)
    assert (await worker.tick())["payouts_sent"] == 0  # too young: it may still be sending
    clock.advance(timedelta(minutes=2))
    assert (await worker.tick())["payouts_sent"] == 0  # the PSP is still down
    platform.settings = up
    assert (await worker.tick())["payouts_sent"] == 1
    done = await until_settled(wl, "withdrawal", withdrawal_id, waiting=("approved",))
    assert done["withdrawal"]["status"] == "completed"
    assert (await worker.tick())["payouts_sent"] == 0
    r = await wl.post(f"/v1/withdrawals/{withdrawal_id}/approve", {})
    assert_error(r, 409, "WITHDRAWAL_STATE")
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"{psp.url}/healthz")).json()
    assert health["status"] == "ok"
    assert await system_balance(engine, wl, "psp_clearing") == 4000
    assert await ledger_problems(engine, wl) == []


async def test_a_psp_that_refuses_fails_the_deposit_and_returns_the_payout(
    wl: WhiteLabel, served: int, engine: Any,
) -> None:
    alice = await new_player(wl, "alice", funds="35.00")
    r = await alice.post("/v1/player/withdrawals", {"amount": "35.00", "currency": "USD"})
    withdrawal_id = r.json()["withdrawal"]["id"]
    # credentials the PSP does not know: it refuses every request (401)
    r = await wl.put("/v1/brands/main/psp", {"adapter": "sandbox",
                                             "credentials": {"secret": "wrong"}})
    assert r.status_code == 200, r.text
    r = await alice.post("/v1/player/deposits", {"amount": "10.00", "currency": "USD",
                                                 "method": "card"})
    assert r.status_code == 201, r.text
    assert r.json()["deposit"]["status"] == "failed"
    assert "signature" in r.json()["deposit"]["failure_reason"]
    r = await wl.post(f"/v1/withdrawals/{withdrawal_id}/approve", {})
    assert r.status_code == 200, r.text
    assert r.json()["withdrawal"]["status"] == "failed"
    assert await real_balance(wl, "alice") == Decimal("35.00")
    assert await system_balance(engine, wl, "withdrawals_in_flight") == 0
    assert await ledger_problems(engine, wl) == []


async def test_transactions_list_every_money_movement_with_its_balance_in_pages(
    wl: WhiteLabel, served: int,
) -> None:
    alice = await new_player(wl, "alice", funds="10.00")
    r = await alice.post("/v1/player/deposits", {"amount": "90.00", "currency": "USD",
                                                 "method": "card"})
    await until_settled(wl, "deposit", r.json()["deposit"]["id"])
    r = await alice.post("/v1/player/withdrawals", {"amount": "25.00", "currency": "USD"})
    await wl.post(f"/v1/withdrawals/{r.json()['withdrawal']['id']}/reject",
                  {"reason": "test"})
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = body(await alice.get("/v1/player/transactions", **params))
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in seen] == [
        ("withdrawal.returned", Decimal("25.00"), Decimal("100.00")),
        ("withdrawal.requested", Decimal("-25.00"), Decimal("75.00")),
        ("deposit.completed", Decimal("90.00"), Decimal("100.00")),
        ("adjustment", Decimal("10.00"), Decimal("10.00"))]
    assert seen[2]["type"] == "deposit" and seen[2]["reference"]["type"] == "deposit"
    operator = body(await wl.get("/v1/players/alice/transactions", params={"rail": "real"}))
    assert [t["entry_id"] for t in operator["data"]] == [t["entry_id"] for t in seen]
    assert body(await wl.get("/v1/players/alice/transactions",
                             params={"rail": "bonus"}))["data"] == []
    assert_validation(await alice.get("/v1/player/transactions", rail="winz"), "rail")
    assert_validation(await alice.get("/v1/player/transactions", cursor="garbage"), "cursor")


async def test_the_sandbox_moves_no_live_money_in_production(
    wl: WhiteLabel, served: int, app: Any, engine: Any,
) -> None:
    platform = app.state.platform
    platform.settings = dataclasses.replace(platform.settings, env="production")
    alice = await new_player(wl, "alice", mode="live")
    r = await alice.post("/v1/player/deposits", {"amount": "10.00", "currency": "USD",
                                                 "method": "card"})
    assert_error(r, 409, "PSP_NOT_CONFIGURED")
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM deposits")) == 0


async def test_the_sandbox_fails_card_payments_at_its_failure_rate(
    wl: WhiteLabel, served: int, app: Any,
) -> None:
    failing = start_psp("--delay", "0.05", "--failure-rate", "1", "--seed", "7")
    try:
        platform = app.state.platform
        platform.settings = dataclasses.replace(platform.settings, sandbox_psp_url=failing.url)
        alice = await new_player(wl, "alice")
        r = await alice.post("/v1/player/deposits", {"amount": "10.00", "currency": "USD",
                                                     "method": "card"})
        done = await until_settled(wl, "deposit", r.json()["deposit"]["id"])
        assert (done["deposit"]["status"], done["deposit"]["failure_reason"]) == (
            "failed", "random_failure")
        assert await real_balance(wl, "alice") == Decimal("0")
    finally:
        failing.stop()
