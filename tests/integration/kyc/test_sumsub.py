"""The Sumsub-style adapter against a local HTTP server standing in for Sumsub's API (it
checks the App Token request signature as Sumsub documents it), and webhooks recorded
from Sumsub's public documentation (tests/fixtures/sumsub_webhooks.json), signed with
``X-Payload-Digest``."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import ADMIN_TOKEN
from tests.integration.kyc_support import kyc_of
from tests.integration.support import assert_error
from tests.integration.wallet_support import new_player
from tests.integration.wl_support import WhiteLabel
from tests.support.live_server import free_port, serving
from wowsino.kernel.config import Settings
from wowsino.kyc.adapters.sumsub import payload_digest, vendor_time

FIXTURE = Path(__file__).parents[2] / "fixtures" / "sumsub_webhooks.json"
CREDENTIALS = {"app_token": "sbx:uY0CgwELmgUAEyl4hNWxLngb.0WSeQeiYny4WEqmAALEAiK2qTC96fBad",
               "secret_key": "Hej2ch71kG2kTd1iIUDZFNsO5C1lh5Gq",
               "webhook_secret": "whk-sumsub-tests", "level_name": "basic-kyc-level"}
LINK = "/resources/sdkIntegrations/levels/-/websdkLink"


class StandIn:
    """Sumsub's API as far as the adapter uses it: the WebSDK permalink."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        return Starlette(routes=[Route(LINK, self.link, methods=["POST"])])

    async def link(self, request: Request) -> Response:
        raw = await request.body()
        ts, signature = request.headers.get("x-app-access-ts", ""), request.headers.get(
            "x-app-access-sig", "")
        self.requests.append({"path": request.url.path, "headers": dict(request.headers),
                              "body": json.loads(raw)})
        if request.headers.get("x-app-token") != CREDENTIALS["app_token"]:
            return _error(401, "App token not found")
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        expected = hmac.new(CREDENTIALS["secret_key"].encode(),
                            ts.encode() + b"POST" + path.encode() + raw,
                            hashlib.sha256).hexdigest()
        if not ts.isdigit() or not hmac.compare_digest(expected, signature):
            return _error(401, "Request signature mismatch")
        level = json.loads(raw).get("levelName")
        if level != CREDENTIALS["level_name"]:
            return _error(404, f"Level '{level}' not found")
        return JSONResponse({"url": f"https://in.sumsub.com/websdk/p/sbx_{len(self.requests)}"})


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse({"description": description, "code": code,
                         "correlationId": "req-standin", "errorCode": code}, status_code=code)


@pytest.fixture
async def sumsub() -> AsyncIterator[tuple[StandIn, str]]:
    stand_in = StandIn()
    async with serving(stand_in.app()) as port:
        yield stand_in, f"http://127.0.0.1:{port}"


@pytest.fixture
def settings(sumsub: tuple[StandIn, str]) -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=10, sumsub_url=sumsub[1],
                    sandbox_kyc_url=f"http://127.0.0.1:{free_port()}",
                    rate_limit_burst=100_000)


def recorded(name: str, reference: str) -> bytes:
    webhooks = json.loads(FIXTURE.read_text())["webhooks"]
    return json.dumps(webhooks[name]).replace("{reference}", reference).encode()


def digest_headers(raw: bytes, alg: str = "HMAC_SHA256_HEX",
                   secret: str = CREDENTIALS["webhook_secret"]) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Payload-Digest-Alg": alg,
            "X-Payload-Digest": payload_digest(secret, raw, alg)}


async def configured(wl: WhiteLabel, level_name: str = CREDENTIALS["level_name"]) -> None:
    r = await wl.put("/v1/brands/main/kyc", {
        "adapter": "sumsub", "level": 2,
        "credentials": {**CREDENTIALS, "level_name": level_name}})
    assert r.status_code == 200, r.text


async def started(wl: WhiteLabel, username: str) -> dict[str, Any]:
    await new_player(wl, username, kyc=False)
    r = await wl.post(f"/v1/players/{username}/kyc/start", {})
    assert r.status_code == 201, r.text
    session: dict[str, Any] = r.json()["kyc_session"]
    return session


async def send(client: httpx.AsyncClient, raw: bytes, **headers: str) -> httpx.Response:
    return await client.post("/v1/kyc/sumsub/callback", content=raw, headers=headers)


async def test_a_sumsub_verification_from_its_link_to_its_reviews(
    wl: WhiteLabel, sumsub: tuple[StandIn, str],
) -> None:
    stand_in, _ = sumsub
    await configured(wl)
    session = await started(wl, "alice")
    assert session["adapter"] == "sumsub" and session["level"] == 2
    assert session["verification_url"] == "https://in.sumsub.com/websdk/p/sbx_1"
    [asked] = stand_in.requests
    assert asked["body"]["userId"] == session["reference"]
    assert asked["body"]["levelName"] == "basic-kyc-level"
    assert 60 <= asked["body"]["ttlInSecs"] <= 3600
    assert abs(int(asked["headers"]["x-app-access-ts"]) - datetime.now(UTC).timestamp()) < 60

    reference = session["reference"]
    outcomes = []
    for name in ("pending", "red_retry", "green", "green", "red_final_earlier"):
        raw = recorded(name, reference)
        r = await send(wl.client, raw, **digest_headers(raw))
        assert r.status_code == 200, r.text
        outcomes.append(r.json()["outcome"])
    assert outcomes == ["ignored", "applied", "applied", "duplicate", "stale"]
    found = await kyc_of(wl, "alice")
    assert (found["status"], found["level"], found["rejection"]) == ("approved", 2, None)
    assert [(d["decision"], d["rejection"], d["outcome"]) for d in found["decisions"]] == [
        ("rejected", "final", "stale"), ("approved", None, "applied"),
        ("rejected", "retry", "applied")]
    assert found["decisions"][2]["reason"] == "BAD_PROOF_OF_IDENTITY, LOW_QUALITY"
    assert found["decisions"][1]["decided_at"].startswith("2026-03-02T11:02:19.004")
    assert found["sessions"][0]["status"] == "approved"


async def test_a_final_red_review_refuses_a_new_verification(
    wl: WhiteLabel, sumsub: tuple[StandIn, str],
) -> None:
    await configured(wl)
    session = await started(wl, "bob")
    raw = recorded("red_final", session["reference"])
    assert (await send(wl.client, raw, **digest_headers(raw))).json()["outcome"] == "applied"
    found = await kyc_of(wl, "bob")
    assert (found["status"], found["rejection"]) == ("rejected", "final")
    assert found["decisions"][0]["reason"] == "AGE_REQUIREMENT_MISMATCH"
    assert_error(await wl.post("/v1/players/bob/kyc/start", {}), 409, "KYC_REJECTED_FINAL")


async def test_a_webhook_needs_its_payload_digest(
    wl: WhiteLabel, sumsub: tuple[StandIn, str],
) -> None:
    await configured(wl)
    session = await started(wl, "carol")
    raw = recorded("green", session["reference"])
    for headers in ({}, {"X-Payload-Digest": "00" * 32},
                    digest_headers(raw, secret="not-the-webhook-secret"),
                    {**digest_headers(raw), "X-Payload-Digest-Alg": "HMAC_MD5_HEX"},
                    digest_headers(raw + b" ")):
        assert_error(await send(wl.client, raw, **headers), 401, "SIGNATURE_INVALID")
    # a digest with bytes no hex digest has (a header may carry any) is refused the same way
    r = await wl.client.post("/v1/kyc/sumsub/callback", content=raw,
                             headers=[(b"x-payload-digest", "é".encode("latin-1") * 64)])
    assert_error(r, 401, "SIGNATURE_INVALID")
    assert (await kyc_of(wl, "carol"))["decisions"] == []
    for alg in ("HMAC_SHA512_HEX", "HMAC_SHA1_HEX"):
        r = await send(wl.client, raw, **digest_headers(raw, alg))
        assert r.status_code == 200, r.text
    assert [d["outcome"] for d in (await kyc_of(wl, "carol"))["decisions"]] == ["applied"]
    for broken in ({"type": "applicantReviewed", "externalUserId": session["reference"]},
                   {"type": "applicantReviewed", "externalUserId": session["reference"],
                    "applicantId": "a1", "reviewResult": {"reviewAnswer": "YELLOW"},
                    "createdAtMs": "2026-03-02 11:02:19.004"},
                   {"type": "applicantReviewed", "externalUserId": session["reference"],
                    "applicantId": "a1", "reviewResult": {"reviewAnswer": "GREEN"},
                    "createdAtMs": "soon"}):
        bad = json.dumps(broken).encode()
        assert_error(await send(wl.client, bad, **digest_headers(bad)), 400, "VALIDATION_ERROR")


async def test_a_level_sumsub_does_not_know_fails_the_session(
    wl: WhiteLabel, sumsub: tuple[StandIn, str],
) -> None:
    await configured(wl, level_name="no-such-level")
    session = await started(wl, "dan")
    assert (session["status"], session["verification_url"]) == ("failed", None)
    assert session["reason"] == "Level 'no-such-level' not found"


def test_sumsubs_review_times_read_as_utc() -> None:
    expected = datetime(2020, 2, 21, 13, 23, 19, 321000, tzinfo=UTC)
    assert vendor_time("2020-02-21 13:23:19.321") == expected
    assert vendor_time("2020-02-21T13:23:19.321Z") == expected
    assert vendor_time(int(expected.timestamp() * 1000)) == expected
