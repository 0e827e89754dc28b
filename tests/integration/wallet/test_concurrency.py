"""The wallet under concurrency: many withdrawals against one balance, approve racing
reject, approve racing a payout callback, one callback delivered many times at once,
a replayed deposit request. Money never goes negative, is never paid twice, never lost."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from tests.integration.support import assert_error, body
from tests.integration.wallet_support import (
    Player,
    Psp,
    callbacks_until,
    count_rows,
    ledger_problems,
    new_player,
    real_balance,
    signed,
    system_balance,
    until_settled,
)
from tests.integration.wl_support import WhiteLabel


async def withdraw(player: Player, amount: str) -> httpx.Response:
    return await player.post("/v1/player/withdrawals", {"amount": amount, "currency": "USD"})


async def test_sixteen_concurrent_withdrawals_never_take_more_than_the_balance(
    wl: WhiteLabel, served: int, engine: Any,
) -> None:
    alice = await new_player(wl, "alice", funds="100.00")
    answers = await asyncio.gather(*(withdraw(alice, "10.00") for _ in range(16)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 10 + [402] * 6, [r.text for r in answers]
    for r in answers:
        if r.status_code == 402:
            assert_error(r, 402, "INSUFFICIENT_FUNDS")
    assert await real_balance(wl, "alice") == Decimal("0.00")
    assert await system_balance(engine, wl, "withdrawals_in_flight") == 10000
    listed = (await alice.get("/v1/player/withdrawals", limit=50)).json()["data"]
    assert len(listed) == 10 and {w["status"] for w in listed} == {"pending"}
    assert await ledger_problems(engine, wl) == []


async def test_approve_and_reject_racing_settle_each_withdrawal_once(
    wl: WhiteLabel, served: int, engine: Any,
) -> None:
    alice = await new_player(wl, "alice", funds="80.00")
    ids = []
    for _ in range(8):
        r = await withdraw(alice, "10.00")
        assert r.status_code == 201, r.text
        ids.append(r.json()["withdrawal"]["id"])
    paid = Decimal(0)
    for withdrawal_id in ids:
        approve, reject = await asyncio.gather(
            wl.post(f"/v1/withdrawals/{withdrawal_id}/approve", {}),
            wl.post(f"/v1/withdrawals/{withdrawal_id}/reject", {"reason": "race"}))
        assert sorted([approve.status_code, reject.status_code]) == [200, 409], (
            approve.text, reject.text)
        loser = approve if approve.status_code == 409 else reject
        assert_error(loser, 409, "WITHDRAWAL_STATE")
        if approve.status_code == 200:
            done = await until_settled(wl, "withdrawal", withdrawal_id, waiting=("approved",))
            assert done["withdrawal"]["status"] == "completed", done
            paid += Decimal("10.00")
        else:
            assert reject.json()["withdrawal"]["status"] == "rejected"
    assert await real_balance(wl, "alice") == Decimal("80.00") - paid
    assert await system_balance(engine, wl, "withdrawals_in_flight") == 0
    assert await system_balance(engine, wl, "psp_clearing") == int(paid * 100)
    assert await ledger_problems(engine, wl) == []


async def test_approve_racing_a_payout_callback_pays_once(
    wl: WhiteLabel, served: int, engine: Any, psp: Psp, client: httpx.AsyncClient,
) -> None:
    alice = await new_player(wl, "alice", funds="60.00")
    made = []
    for _ in range(6):
        r = await withdraw(alice, "10.00")
        made.append(r.json()["withdrawal"])
    for i, withdrawal in enumerate(made):
        raw, headers = signed(psp.secret, transaction_id=f"race-{i}",
                              reference=withdrawal["reference"], type="payout",
                              status="completed", amount="10.00", currency="USD")
        approve, callback = await asyncio.gather(
            wl.post(f"/v1/withdrawals/{withdrawal['id']}/approve", {}),
            client.post("/v1/psp/sandbox/callback", content=raw, headers=headers))
        assert approve.status_code == 200, approve.text
        assert callback.status_code == 200, callback.text
        done = await until_settled(wl, "withdrawal", withdrawal["id"],
                                   waiting=("pending", "approved"))
        assert done["withdrawal"]["status"] == "completed", done
    for withdrawal in made:
        # the PSP's own callback, when the payout was sent, arrives after ours: wait for it
        found = (await wl.get(f"/v1/withdrawals/{withdrawal['id']}")).json()
        if found["withdrawal"]["flag"] == "payout_not_requested":
            found["callbacks"] = await callbacks_until(wl, "withdrawal", withdrawal["id"], 2)
        applied = [c for c in found["callbacks"] if c["outcome"] == "applied"]
        assert len(applied) == 1, found
    await asyncio.sleep(0.3)  # any late PSP callback lands, and must change nothing
    assert await real_balance(wl, "alice") == Decimal("0.00")
    assert await system_balance(engine, wl, "withdrawals_in_flight") == 0
    assert await system_balance(engine, wl, "psp_clearing") == 6000
    assert await ledger_problems(engine, wl) == []


async def test_one_callback_delivered_many_times_at_once_credits_once(
    wl: WhiteLabel, served: int, engine: Any, psp: Psp, client: httpx.AsyncClient,
) -> None:
    alice = await new_player(wl, "alice")
    r = await alice.post("/v1/player/deposits",
                         {"amount": "15.00", "currency": "USD", "method": "card_slow"})
    deposit = r.json()["deposit"]
    raw, headers = signed(psp.secret, transaction_id=deposit["psp_reference"],
                          reference=deposit["reference"], type="payment", status="completed",
                          amount="15.00", currency="USD")
    answers = await asyncio.gather(*(
        client.post("/v1/psp/sandbox/callback", content=raw, headers=headers)
        for _ in range(8)))
    outcomes = sorted(a.json()["outcome"] for a in answers)
    assert outcomes == ["applied"] + ["duplicate"] * 7, [a.text for a in answers]
    assert await real_balance(wl, "alice") == Decimal("15.00")
    assert await count_rows(engine, "psp_callbacks", wl) == 1
    assert await ledger_problems(engine, wl) == []


async def test_a_replayed_deposit_request_makes_one_deposit_and_one_payment(
    wl: WhiteLabel, served: int, psp: Psp,
) -> None:
    alice = await new_player(wl, "alice")
    payload = {"amount": "20.00", "currency": "USD", "method": "card",
               "idempotency_key": "deposit-1"}
    first, second = await asyncio.gather(alice.post("/v1/player/deposits", payload),
                                         alice.post("/v1/player/deposits", payload))
    answers = sorted([first, second], key=lambda r: r.status_code)
    assert [r.status_code for r in answers] in ([200, 201], [201, 409]), [
        r.text for r in answers]
    created = body(answers[-1] if answers[-1].status_code == 201 else answers[0])
    await until_settled(wl, "deposit", created["deposit"]["id"])
    again = await alice.post("/v1/player/deposits", payload)
    assert again.status_code == 200 and again.json()["deduped"] is True
    assert again.json()["deposit"]["id"] == created["deposit"]["id"]
    assert again.json()["deposit"]["status"] == "completed"
    assert len((await wl.get("/v1/deposits")).json()["data"]) == 1
    assert (await psp.transaction(created["deposit"]["psp_reference"]))["callbacks_sent"] == 1
    assert await real_balance(wl, "alice") == Decimal("20.00")
    reused = await alice.post("/v1/player/deposits", {**payload, "amount": "21.00"})
    assert_error(reused, 422, "IDEMPOTENCY_KEY_REUSED")
