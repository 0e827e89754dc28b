"""KYC with a vendor end to end: a player (or an operator) starts a verification at the
brand's vendor — the sandbox KYC vendor, a real separate process — the applicant completes
it on the vendor's page, the vendor's signed webhook records the decision, and the
withdrawal gate reads the level it raised."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from tests.integration.kyc_support import Vendor, kyc_of, until_decided
from tests.integration.support import assert_error, assert_validation
from tests.integration.wallet_support import Player, new_player
from tests.integration.wl_support import WhiteLabel
from tests.support.events import check_all, stored_events
from tests.support.live_server import free_port


async def withdraw(player: Player, amount: str = "10.00") -> httpx.Response:
    return await player.post("/v1/player/withdrawals", {"amount": amount, "currency": "USD"})


async def start_own(player: Player, payload: dict[str, Any] | None = None,
                    **headers: str) -> dict[str, Any]:
    r = await player.post("/v1/player/kyc/start", payload or {}, **headers)
    assert r.status_code == 201, r.text
    started: dict[str, Any] = r.json()["kyc_session"]
    return started


async def start_for(wl: WhiteLabel, username: str, payload: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    r = await wl.post(f"/v1/players/{username}/kyc/start", payload or {})
    assert r.status_code == 201, r.text
    started: dict[str, Any] = r.json()["kyc_session"]
    return started


async def test_a_verified_player_passes_the_withdrawal_gate(
    wl: WhiteLabel, served: int, vendor: Vendor, db_url: str,
) -> None:
    alice = await new_player(wl, "alice", kyc=False, funds="50.00")
    assert_error(await withdraw(alice), 403, "KYC_REQUIRED")

    started = await start_own(alice, {"idempotency_key": "verify-me"})
    assert started["status"] == "pending" and started["adapter"] == "sandbox"
    assert started["level"] == 1 and started["user"]["username"] == "alice"
    assert started["verification_url"].startswith(f"{vendor.url}/verify/")
    assert started["expires_at"] > started["created_at"]
    assert started["reference"].startswith("kyc_test_")
    # the same request again: the same session, nothing new at the vendor
    r = await alice.post("/v1/player/kyc/start", {"idempotency_key": "verify-me"})
    assert r.status_code == 200 and r.json()["deduped"] is True, r.text
    assert r.json()["kyc_session"]["id"] == started["id"]
    assert r.json()["kyc_session"]["verification_url"] == started["verification_url"]

    await vendor.complete(started["verification_url"], "Doe")
    found = await until_decided(wl, "alice")
    assert (found["status"], found["level"]) == ("approved", 1), found
    [session] = found["sessions"]
    assert (session["status"], session["rejection"]) == ("approved", None)
    assert [d["outcome"] for d in found["decisions"]] == ["applied"]
    assert found["decisions"][0]["source"] == "sandbox"

    r = await withdraw(alice)
    assert r.status_code == 201, r.text
    assert r.json()["withdrawal"]["status"] == "pending"
    stored = await stored_events(db_url)
    assert check_all(stored) == []
    decisions = [d for t, d in stored if t == "kyc.decision"]
    assert len(decisions) == 1
    assert decisions[0]["decision"] == "approved" and decisions[0]["level"] == 1
    assert decisions[0]["source"] == "sandbox"
    assert decisions[0]["kyc_session_id"] == started["id"]
    assert decisions[0]["user"]["username"] == "alice"


async def test_a_retry_rejection_lets_the_player_verify_again(
    wl: WhiteLabel, served: int, vendor: Vendor,
) -> None:
    await new_player(wl, "bob", kyc=False)
    first = await start_for(wl, "bob")
    await vendor.complete(first["verification_url"], "Retry")
    found = await until_decided(wl, "bob")
    assert (found["status"], found["level"], found["rejection"]) == ("rejected", 0, "retry")
    assert found["sessions"][0]["status"] == "rejected"
    assert found["sessions"][0]["reason"] == "document_unreadable"

    second = await start_for(wl, "bob")
    assert second["id"] != first["id"]
    await vendor.complete(second["verification_url"], "Smith")
    found = await until_decided(wl, "bob", 2)
    assert (found["status"], found["level"], found["rejection"]) == ("approved", 1, None)
    assert [s["status"] for s in found["sessions"]] == ["approved", "rejected"]


async def test_a_final_rejection_refuses_new_starts_until_an_operator_decides(
    wl: WhiteLabel, served: int, vendor: Vendor,
) -> None:
    carol = await new_player(wl, "carol", kyc=False, funds="20.00")
    started = await start_own(carol)
    await vendor.complete(started["verification_url"], "Reject")
    found = await until_decided(wl, "carol")
    assert (found["status"], found["rejection"]) == ("rejected", "final")
    assert_error(await carol.post("/v1/player/kyc/start", {}), 409, "KYC_REJECTED_FINAL")
    assert_error(await wl.post("/v1/players/carol/kyc/start", {}), 409, "KYC_REJECTED_FINAL")
    # the vendor's page takes no second answer either
    async with httpx.AsyncClient() as http:
        r = await http.post(started["verification_url"], json={"last_name": "Doe"})
    assert r.status_code == 409
    assert_error(await withdraw(carol), 403, "KYC_REQUIRED")

    r = await wl.patch("/v1/players/carol/kyc", {"status": "pending",
                                                 "reason": "documents re-checked by phone"})
    assert r.status_code == 200, r.text
    again = await start_own(carol)
    await vendor.complete(again["verification_url"], "Doe")
    found = await until_decided(wl, "carol", 3)
    assert (found["status"], found["level"]) == ("approved", 1)
    assert (await withdraw(carol)).status_code == 201


async def test_a_player_approved_at_the_level_is_refused_and_a_failed_level_up_keeps_it(
    wl: WhiteLabel, served: int, vendor: Vendor,
) -> None:
    dan = await new_player(wl, "dan", funds="20.00")  # approved at level 1 by an operator
    refused = assert_error(await dan.post("/v1/player/kyc/start", {}), 409,
                           "KYC_ALREADY_APPROVED")
    assert refused["details"]["kyc_level"] == 1
    # the brand's vendor verifies to level 1: level 2 is more than it can
    payload = assert_validation(await dan.post("/v1/player/kyc/start", {"level": 2}), "level")
    assert payload["details"]["vendor_level"] == 1
    r = await wl.put("/v1/brands/main/kyc", {"adapter": "sandbox", "level": 2})
    assert r.status_code == 200, r.text

    upgrade = await start_own(dan)
    assert upgrade["level"] == 2
    await vendor.complete(upgrade["verification_url"], "Retry")
    found = await until_decided(wl, "dan", 2)
    # the level-up failed: the approval at level 1 stays, and so does the way out
    assert (found["status"], found["level"], found["rejection"]) == ("approved", 1, "retry")
    assert (await withdraw(dan)).status_code == 201
    again = await start_own(dan, {"level": 2})
    await vendor.complete(again["verification_url"], "Doe")
    found = await until_decided(wl, "dan", 3)
    assert (found["status"], found["level"]) == ("approved", 2)
    assert_error(await dan.post("/v1/player/kyc/start", {"level": 1}), 409,
                 "KYC_ALREADY_APPROVED")


async def test_a_self_excluded_player_may_still_be_verified_by_an_operator(
    wl: WhiteLabel, served: int, vendor: Vendor,
) -> None:
    erin = await new_player(wl, "erin", kyc=False)
    r = await erin.post("/v1/player/self-exclude", {"period": "6m"})
    assert r.status_code == 200, r.text
    # the exclusion ended the player's sessions: verifying is the operator's to start
    assert_error(await erin.post("/v1/player/kyc/start", {}), 403, "SELF_EXCLUDED")
    started = await start_for(wl, "erin")
    await vendor.complete(started["verification_url"], "Doe")
    found = await until_decided(wl, "erin")
    assert (found["status"], found["level"]) == ("approved", 1)


async def test_bad_input_is_refused_and_changes_nothing(
    wl: WhiteLabel, served: int, vendor: Vendor,
) -> None:
    frank = await new_player(wl, "frank", kyc=False)
    for payload, field in (({"level": 0}, "level"), ({"level": 4}, "level"),
                           ({"level": "1"}, "level"), ({"level": 1.5}, "level"),
                           ({"colour": "red"}, "colour")):
        assert_validation(await frank.post("/v1/player/kyc/start", payload), field)
        assert_validation(await wl.post("/v1/players/frank/kyc/start", payload), field)
    r = await frank.tenant.client.post("/v1/player/kyc/start", content=b"[1",
                                       headers={**frank.headers,
                                                "Content-Type": "application/json"})
    assert_error(r, 400, "VALIDATION_ERROR")
    assert_error(await wl.post("/v1/players/nobody/kyc/start", {}), 404, "NO_PLAYER")
    assert_error(await wl.get("/v1/players/nobody/kyc"), 404, "NO_PLAYER")
    found = await kyc_of(wl, "frank")
    assert found["sessions"] == [] and found["decisions"] == []
    assert (found["status"], found["level"]) == ("none", 0)


async def test_a_vendor_outage_leaves_the_session_pending_and_a_replay_finishes_it(
    wl: WhiteLabel, served: int, vendor: Vendor, app: Any,
) -> None:
    gina = await new_player(wl, "gina", kyc=False)
    platform = app.state.platform
    working = platform.settings
    platform.settings = dataclasses.replace(
        working, sandbox_kyc_url=f"http://127.0.0.1:{free_port()}")
    r = await gina.post("/v1/player/kyc/start", {"idempotency_key": "outage"})
    assert_error(r, 503, "SERVICE_UNAVAILABLE")
    [pending] = (await kyc_of(wl, "gina"))["sessions"]
    assert (pending["status"], pending["verification_url"]) == ("pending", None)

    platform.settings = working
    r = await gina.post("/v1/player/kyc/start", {"idempotency_key": "outage"})
    assert r.status_code == 200 and r.json()["deduped"] is True, r.text
    finished = r.json()["kyc_session"]
    assert finished["id"] == pending["id"]
    assert finished["verification_url"].startswith(f"{vendor.url}/verify/")
    assert len((await kyc_of(wl, "gina"))["sessions"]) == 1
