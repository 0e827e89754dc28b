"""The vendor's webhooks: verified on the raw body with the brand's secret, recorded once,
ordered by the vendor's time of the decision — a repeat changes nothing, an older decision
arriving after a newer one is kept but changes nothing, concurrent deliveries make one
effect — and refused with the PSP callback's codes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import make_tenant
from tests.integration.kyc_support import Vendor, kyc_of, webhook
from tests.integration.support import assert_error
from tests.integration.wallet_support import new_player
from tests.integration.wl_support import WhiteLabel, make_white_label
from tests.support.events import stored_events
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.vendors import sign

CALLBACK = "/v1/kyc/sandbox/callback"


async def pending_session(wl: WhiteLabel, username: str) -> dict[str, Any]:
    """A player with a session started at the vendor and not completed."""
    await new_player(wl, username, kyc=False)
    r = await wl.post(f"/v1/players/{username}/kyc/start", {})
    assert r.status_code == 201, r.text
    started: dict[str, Any] = r.json()["kyc_session"]
    return started


async def deliver(client: httpx.AsyncClient, raw: bytes, headers: dict[str, str],
                  path: str = CALLBACK) -> httpx.Response:
    return await client.post(path, content=raw, headers=headers)


async def kyc_events(db_url: str) -> list[dict[str, Any]]:
    return [d for t, d in await stored_events(db_url) if t == "kyc.decision"]


async def test_an_older_decision_arriving_after_a_newer_one_is_kept_and_changes_nothing(
    wl: WhiteLabel, vendor: Vendor, db_url: str,
) -> None:
    session = await pending_session(wl, "alice")
    now = datetime.now(UTC)
    newer = webhook(vendor.secret, reference=session["reference"], event_id="evt-2",
                    decision="approved", decided_at=now)
    older = webhook(vendor.secret, reference=session["reference"], event_id="evt-1",
                    decision="rejected", rejection="retry", reason="blurry",
                    decided_at=now - timedelta(minutes=5))
    r = await deliver(wl.client, *newer)
    assert r.status_code == 200 and r.json()["outcome"] == "applied", r.text
    r = await deliver(wl.client, *older)
    assert r.status_code == 200 and r.json()["outcome"] == "stale", r.text

    found = await kyc_of(wl, "alice")
    assert (found["status"], found["level"], found["rejection"]) == ("approved", 1, None)
    assert [(d["decision"], d["outcome"]) for d in found["decisions"]] == [
        ("rejected", "stale"), ("approved", "applied")]
    assert found["sessions"][0]["status"] == "approved"
    assert [e["decision"] for e in await kyc_events(db_url)] == ["approved"]


async def test_decisions_arriving_in_order_each_apply(
    wl: WhiteLabel, vendor: Vendor, db_url: str,
) -> None:
    session = await pending_session(wl, "bob")
    now = datetime.now(UTC)
    for event_id, decision, rejection, at in (
            ("evt-1", "rejected", "retry", now - timedelta(minutes=5)),
            ("evt-2", "approved", None, now)):
        raw, headers = webhook(vendor.secret, reference=session["reference"],
                               event_id=event_id, decision=decision, rejection=rejection,
                               decided_at=at)
        r = await deliver(wl.client, raw, headers)
        assert r.json()["outcome"] == "applied", r.text
    found = await kyc_of(wl, "bob")
    assert (found["status"], found["level"]) == ("approved", 1)
    assert [e["decision"] for e in await kyc_events(db_url)] == ["rejected", "approved"]


async def test_a_repeated_decision_answers_200_and_changes_nothing(
    wl: WhiteLabel, served: int, vendor: Vendor, db_url: str,
) -> None:
    session = await pending_session(wl, "carol")
    raw, headers = webhook(vendor.secret, reference=session["reference"], event_id="evt-1",
                           decision="approved", decided_at=datetime.now(UTC))
    outcomes = [(await deliver(wl.client, raw, headers)).json()["outcome"] for _ in range(3)]
    assert outcomes == ["applied", "duplicate", "duplicate"]
    # the vendor sending its own webhook twice, over HTTP
    vendor_session = session["verification_url"].rsplit("/", 1)[-1]
    r = await vendor.signed_post(f"/sessions/{vendor_session}/notify", {
        "decision": "rejected", "rejection": "retry", "reason": "glare"})
    assert r.status_code == 200 and r.json()["callback_status"] == 200, r.text
    r = await vendor.signed_post(f"/sessions/{vendor_session}/resend")
    assert r.status_code == 200 and r.json()["callback_status"] == 200, r.text
    found = await kyc_of(wl, "carol")
    assert [d["outcome"] for d in found["decisions"]] == ["applied", "applied"]
    assert (found["status"], found["rejection"]) == ("rejected", "retry")
    assert [e["decision"] for e in await kyc_events(db_url)] == ["approved", "rejected"]


async def test_sixteen_concurrent_deliveries_of_one_webhook_make_one_effect(
    wl: WhiteLabel, served: int, vendor: Vendor, db_url: str,
) -> None:
    session = await pending_session(wl, "dan")
    raw, headers = webhook(vendor.secret, reference=session["reference"], event_id="evt-1",
                           decision="approved", decided_at=datetime.now(UTC))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{served}", timeout=30) as http:
        answers = await asyncio.gather(*(http.post(CALLBACK, content=raw, headers=headers)
                                         for _ in range(16)))
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    outcomes = sorted(r.json()["outcome"] for r in answers)
    assert outcomes == ["applied"] + ["duplicate"] * 15
    found = await kyc_of(wl, "dan")
    assert len(found["decisions"]) == 1 and (found["status"], found["level"]) == ("approved", 1)
    assert len(await kyc_events(db_url)) == 1
    r = await wl.get("/v1/audit", params={"action": "kyc.decision"})
    assert len(r.json()["data"]) == 1


async def test_a_webhook_that_does_not_verify_or_route_is_refused_and_leaves_no_trace(
    wl: WhiteLabel, vendor: Vendor, db_url: str,
) -> None:
    session = await pending_session(wl, "erin")
    reference = session["reference"]
    raw, headers = webhook(vendor.secret, reference=reference, event_id="evt-1",
                           decision="approved", decided_at=datetime.now(UTC))
    tampered = raw.replace(b'"approved"', b'"rejected"')
    assert_error(await deliver(wl.client, tampered, headers), 401, "SIGNATURE_INVALID")
    assert_error(await deliver(wl.client, raw, {"X-Signature": sign("other", raw)}), 401,
                 "SIGNATURE_INVALID")
    assert_error(await deliver(wl.client, raw, {}), 401, "SIGNATURE_INVALID")
    assert_error(await deliver(wl.client, raw, headers, "/v1/kyc/nobody/callback"), 404,
                 "NOT_FOUND")
    # a session of the sandbox is not Sumsub's
    assert_error(await deliver(wl.client, dumps({"externalUserId": reference}).encode(),
                               {}, "/v1/kyc/sumsub/callback"), 404, "NOT_FOUND")
    for unknown in (reference[:-1] + ("0" if reference[-1] != "0" else "1"),
                    reference.replace("kyc_test_", "kyc_live_"), "kyc_nothing"):
        other, signed = webhook(vendor.secret, reference=unknown, event_id="evt-x",
                                decision="approved", decided_at=datetime.now(UTC))
        assert_error(await deliver(wl.client, other, signed), 404, "NOT_FOUND")
    for bad in (b"not json", b"[]", b'{"event_id": "x"}'):
        assert_error(await deliver(wl.client, bad, {"X-Signature": sign(vendor.secret, bad)}),
                     400, "VALIDATION_ERROR")
    # signed, but not a decision the platform can read
    for fields in ({"decision": "maybe"}, {"decision": "rejected", "rejection": "later"},
                   {"decided_at": "yesterday"}, {"decided_at": "2026-01-01T00:00:00"},
                   {"decided_at": "0001-01-01T00:00:00+14:00"}):
        document = {"event_id": "evt-bad", "reference": reference, "decision": "approved",
                    "decided_at": datetime.now(UTC).isoformat(), **fields}
        bad = dumps(document).encode()
        assert_error(await deliver(wl.client, bad, {"X-Signature": sign(vendor.secret, bad)}),
                     400, "VALIDATION_ERROR")
    found = await kyc_of(wl, "erin")
    assert found["decisions"] == [] and (found["status"], found["level"]) == ("none", 0)
    assert await kyc_events(db_url) == []


async def test_a_brand_verifies_webhooks_with_its_own_secret(
    wl: WhiteLabel, vendor: Vendor,
) -> None:
    session = await pending_session(wl, "gina")
    r = await wl.put("/v1/brands/main/kyc", {"adapter": "sandbox",
                                             "credentials": {"secret": "brand-own-secret"}})
    assert r.status_code == 200, r.text
    raw, headers = webhook(vendor.secret, reference=session["reference"], event_id="evt-1",
                           decision="approved", decided_at=datetime.now(UTC))
    assert_error(await deliver(wl.client, raw, headers), 401, "SIGNATURE_INVALID")
    raw, headers = webhook("brand-own-secret", reference=session["reference"],
                           event_id="evt-1", decision="approved", decided_at=datetime.now(UTC))
    assert (await deliver(wl.client, raw, headers)).json()["outcome"] == "applied"
    # a vendor that does not share the brand's secret refuses to start: the session fails
    await new_player(wl, "hal", kyc=False)
    r = await wl.post("/v1/players/hal/kyc/start", {})
    assert r.status_code == 201, r.text
    assert r.json()["kyc_session"]["status"] == "failed"
    assert "signature" in r.json()["kyc_session"]["reason"]


async def test_one_tenant_never_starts_or_decides_for_another_ones_players(
    wl: WhiteLabel, vendor: Vendor, client: httpx.AsyncClient,
) -> None:
    session = await pending_session(wl, "ivan")
    other = await make_white_label(client, "othercasino")
    assert_error(await other.post("/v1/players/ivan/kyc/start", {}), 404, "NO_PLAYER")
    assert_error(await other.post(f"/v1/players/{session['user']['user_id']}/kyc/start", {}),
                 404, "NO_PLAYER")
    assert_error(await other.get("/v1/players/ivan/kyc"), 404, "NO_PLAYER")
    # live and test are separate worlds: the test player is unknown to a live key
    assert_error(await wl.post("/v1/players/ivan/kyc/start", {}, mode="live"), 404,
                 "NO_PLAYER")
    # another tenant's secret, even a configured one, signs nothing for this brand
    r = await other.put("/v1/brands/main/kyc", {"adapter": "sandbox",
                                                "credentials": {"secret": "other-secret"}})
    assert r.status_code == 200, r.text
    raw, headers = webhook("other-secret", reference=session["reference"], event_id="evt-1",
                           decision="approved", decided_at=datetime.now(UTC))
    assert_error(await deliver(wl.client, raw, headers), 401, "SIGNATURE_INVALID")
    assert (await kyc_of(wl, "ivan"))["decisions"] == []
    # a plug-in tenant has no KYC vendor routes at all
    plugged = await make_tenant(client, "plugged")
    assert_error(await plugged.post("/v1/players/ivan/kyc/start", {}), 403, "SCOPE_DENIED")
