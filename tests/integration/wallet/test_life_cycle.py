"""The white-label wallet end to end: a player deposits through the sandbox PSP (a real
separate process calling back over HTTP), withdraws, an operator approves or rejects,
the payout callback settles it; every balance and the ledger stay exact."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from tests.integration.support import assert_error, body
from tests.integration.wallet_support import (
    Player,
    Psp,
    count_rows,
    ledger_problems,
    new_player,
    real_balance,
    signed,
    system_balance,
    until_settled,
)
from tests.integration.wl_support import WhiteLabel
from tests.support.events import stored_events


async def deposit(player: Player, amount: str, method: str = "card", **extra: Any
                  ) -> dict[str, Any]:
    r = await player.post("/v1/player/deposits",
                          {"amount": amount, "currency": "USD", "method": method, **extra})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = body(r)
    return created


async def withdraw(player: Player, amount: str, **extra: Any) -> httpx.Response:
    return await player.post("/v1/player/withdrawals",
                             {"amount": amount, "currency": "USD", **extra})


async def test_a_card_deposit_is_credited_by_the_callback_and_a_declined_one_credits_nothing(
    wl: WhiteLabel, served: int, engine: Any, db_url: str,
) -> None:
    alice = await new_player(wl, "alice")
    made = await deposit(alice, "100.00")
    assert made["deposit"]["status"] == "pending"
    assert made["deposit"]["psp_reference"].startswith("sbx_pay_")
    assert made["deposit"]["redirect_url"].endswith(made["deposit"]["psp_reference"])
    assert made["deposit"]["reference"].startswith("dep_test_")
    done = await until_settled(wl, "deposit", made["deposit"]["id"])
    assert done["deposit"]["status"] == "completed", done
    assert [c["outcome"] for c in done["callbacks"]] == ["applied"]
    assert await real_balance(wl, "alice") == Decimal("100.00")

    declined = await deposit(alice, "40.00", method="card_declined")
    failed = await until_settled(wl, "deposit", declined["deposit"]["id"])
    assert failed["deposit"]["status"] == "failed"
    assert failed["deposit"]["failure_reason"] == "card_declined"
    assert await real_balance(wl, "alice") == Decimal("100.00")

    r = await alice.get(f"/v1/player/deposits/{made['deposit']['id']}")
    assert r.status_code == 200 and r.json()["deposit"]["status"] == "completed"
    assert "flag" not in r.json()["deposit"]
    assert await system_balance(engine, wl, "psp_clearing") == -10000
    assert await ledger_problems(engine, wl) == []
    events = [(t, d) for t, d in await stored_events(db_url) if t.startswith("deposit.")]
    assert [t for t, _ in events] == ["deposit.completed", "deposit.failed"]
    assert events[0][1]["first_deposit"] is True and events[0][1]["amount"] == 100


async def test_an_approved_withdrawal_is_paid_by_the_payout_callback(
    wl: WhiteLabel, served: int, engine: Any,
) -> None:
    alice = await new_player(wl, "alice")
    made = await deposit(alice, "100.00")
    await until_settled(wl, "deposit", made["deposit"]["id"])
    r = await withdraw(alice, "30.00")
    assert r.status_code == 201, r.text
    asked = body(r)
    assert asked["withdrawal"]["status"] == "pending" and asked["forfeited_bonuses"] == []
    assert asked["real_balance"] == Decimal("70.00")
    assert await real_balance(wl, "alice") == Decimal("70.00")
    assert await system_balance(engine, wl, "withdrawals_in_flight") == 3000
    withdrawal_id = asked["withdrawal"]["id"]

    queue = (await wl.get("/v1/withdrawals", params={"status": "pending"})).json()["data"]
    assert [w["id"] for w in queue] == [withdrawal_id]
    r = await wl.post(f"/v1/withdrawals/{withdrawal_id}/approve", {"reason": "looks fine"})
    assert r.status_code == 200, r.text
    approved = r.json()["withdrawal"]
    assert approved["status"] == "approved" and approved["psp_reference"].startswith("sbx_out_")
    assert approved["review"]["reason"] == "looks fine"
    paid = await until_settled(wl, "withdrawal", withdrawal_id, waiting=("approved",))
    assert paid["withdrawal"]["status"] == "completed", paid
    assert await real_balance(wl, "alice") == Decimal("70.00")
    assert await system_balance(engine, wl, "withdrawals_in_flight") == 0
    assert await system_balance(engine, wl, "psp_clearing") == -7000
    again = await wl.post(f"/v1/withdrawals/{withdrawal_id}/approve", {})
    assert_error(again, 409, "WITHDRAWAL_STATE")
    assert_error(await wl.post(f"/v1/withdrawals/{withdrawal_id}/reject", {"reason": "late"}),
                 409, "WITHDRAWAL_STATE")
    r = await alice.get("/v1/player/withdrawals")
    assert [w["status"] for w in r.json()["data"]] == ["completed"]
    assert await ledger_problems(engine, wl) == []


async def test_a_rejected_withdrawal_returns_its_funds(
    wl: WhiteLabel, served: int, engine: Any,
) -> None:
    alice = await new_player(wl, "alice", funds="50.00")
    r = await withdraw(alice, "50.00")
    assert r.status_code == 201, r.text
    withdrawal_id = r.json()["withdrawal"]["id"]
    assert await real_balance(wl, "alice") == Decimal("0.00")
    assert_error(await wl.post(f"/v1/withdrawals/{withdrawal_id}/reject", {}), 400)
    r = await wl.post(f"/v1/withdrawals/{withdrawal_id}/reject", {"reason": "bonus abuse"})
    assert r.status_code == 200, r.text
    assert r.json()["withdrawal"]["status"] == "rejected"
    assert r.json()["withdrawal"]["review"]["reason"] == "bonus abuse"
    assert await real_balance(wl, "alice") == Decimal("50.00")
    assert await system_balance(engine, wl, "withdrawals_in_flight") == 0
    assert_error(await wl.post(f"/v1/withdrawals/{withdrawal_id}/approve", {}),
                 409, "WITHDRAWAL_STATE")
    assert await ledger_problems(engine, wl) == []


async def test_a_callback_sent_twice_credits_once(
    wl: WhiteLabel, served: int, engine: Any, psp: Psp, db_url: str,
) -> None:
    alice = await new_player(wl, "alice")
    made = await deposit(alice, "25.00", method="card_twice")
    transaction = made["deposit"]["psp_reference"]
    await until_settled(wl, "deposit", made["deposit"]["id"])
    for _ in range(200):  # the PSP sends its second callback right after the first
        if (await psp.transaction(transaction))["callbacks_sent"] == 2:
            break
        await asyncio.sleep(0.05)
    assert (await psp.transaction(transaction))["callbacks_sent"] == 2
    assert await real_balance(wl, "alice") == Decimal("25.00")
    assert await count_rows(engine, "psp_callbacks", wl) == 1
    completed = [t for t, _ in await stored_events(db_url) if t == "deposit.completed"]
    assert completed == ["deposit.completed"]
    # a third, on demand: still a duplicate
    answered = await psp.notify(transaction, "completed")
    assert answered["callback_status"] == 200
    assert await real_balance(wl, "alice") == Decimal("25.00")
    assert await ledger_problems(engine, wl) == []


async def test_a_failure_after_completion_is_flagged_and_reverses_nothing(
    wl: WhiteLabel, served: int, engine: Any, psp: Psp,
) -> None:
    alice = await new_player(wl, "alice")
    made = await deposit(alice, "60.00")
    done = await until_settled(wl, "deposit", made["deposit"]["id"])
    answered = await psp.notify(done["deposit"]["psp_reference"], "failed", "chargeback")
    assert answered["callback_status"] == 200
    found = (await wl.get(f"/v1/deposits/{made['deposit']['id']}")).json()
    assert found["deposit"]["status"] == "completed"
    assert found["deposit"]["flag"] == "failed_after_completed"
    assert [(c["status"], c["outcome"]) for c in found["callbacks"]] == [
        ("completed", "applied"), ("failed", "flagged")]
    assert await real_balance(wl, "alice") == Decimal("60.00")
    flagged = (await wl.get("/v1/deposits", params={"flagged": "true"})).json()["data"]
    assert [d["id"] for d in flagged] == [made["deposit"]["id"]]
    audit = (await wl.get("/v1/audit", params={"action": "deposit.flagged"})).json()["data"]
    assert len(audit) == 1
    assert await ledger_problems(engine, wl) == []


async def test_a_callback_with_a_bad_signature_is_refused_and_records_nothing(
    wl: WhiteLabel, served: int, engine: Any, psp: Psp,
    client: httpx.AsyncClient,
) -> None:
    alice = await new_player(wl, "alice")
    r = await alice.post("/v1/player/deposits",
                         {"amount": "10.00", "currency": "USD", "method": "card_slow"})
    made = r.json()["deposit"]
    fields = {"transaction_id": made["psp_reference"], "reference": made["reference"],
              "type": "payment", "status": "completed", "amount": "10.00", "currency": "USD"}
    raw, headers = signed("not-the-secret", **fields)
    r = await client.post("/v1/psp/sandbox/callback", content=raw, headers=headers)
    assert_error(r, 401, "SIGNATURE_INVALID")
    r = await client.post("/v1/psp/sandbox/callback", content=raw,
                          headers={"Content-Type": "application/json"})
    assert_error(r, 401, "SIGNATURE_INVALID")
    raw, headers = signed(psp.secret, **{**fields, "amount": "10.00"})
    tampered = raw.replace(b'"10.00"', b'"1000.00"')
    r = await client.post("/v1/psp/sandbox/callback", content=tampered, headers=headers)
    assert_error(r, 401, "SIGNATURE_INVALID")
    assert await count_rows(engine, "psp_callbacks", wl) == 0
    assert (await wl.get(f"/v1/deposits/{made['id']}")).json()["deposit"]["status"] == "pending"
    assert await real_balance(wl, "alice") == Decimal("0")
    # what cannot be read is 400, what names nothing of ours 404
    for bad in (b"not json", b"[1, 2]", b'{"reference": 5}'):
        assert_error(await client.post("/v1/psp/sandbox/callback", content=bad), 400)
    raw, headers = signed(psp.secret, **{**fields, "reference": "dep_test_nothing"})
    assert_error(await client.post("/v1/psp/sandbox/callback", content=raw, headers=headers),
                 404)
    assert_error(await client.post("/v1/psp/nuvei/callback", content=raw, headers=headers), 404)
    # the same callback, signed right, is taken
    raw, headers = signed(psp.secret, **fields)
    r = await client.post("/v1/psp/sandbox/callback", content=raw, headers=headers)
    assert r.status_code == 200 and r.json()["outcome"] == "applied", r.text
    assert await real_balance(wl, "alice") == Decimal("10.00")
