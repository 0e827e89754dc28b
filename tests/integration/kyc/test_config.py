"""A brand's KYC vendor: chosen per brand and world, credentials write-only and audited
without their values, the sandbox refused for live players in production."""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.integration.support import assert_error, assert_validation
from tests.integration.wallet_support import new_player
from tests.integration.wl_support import WhiteLabel


async def test_a_brand_uses_the_sandbox_until_it_chooses_a_vendor(wl: WhiteLabel) -> None:
    r = await wl.get("/v1/brands/main/kyc")
    assert r.status_code == 200, r.text
    assert r.json()["kyc"] == {"brand": "main", "adapter": "sandbox", "configured": False,
                               "credentials_set": [], "level": 1, "version": 0,
                               "updated_at": None}
    r = await wl.put("/v1/brands/main/kyc", {
        "adapter": "sumsub", "level": 2,
        "credentials": {"app_token": "sbx:token", "secret_key": "the-secret-key",
                        "webhook_secret": "the-webhook-secret", "level_name": "basic-kyc"}})
    assert r.status_code == 200, r.text
    shown = r.json()["kyc"]
    assert (shown["adapter"], shown["level"], shown["configured"]) == ("sumsub", 2, True)
    assert shown["credentials_set"] == ["app_token", "level_name", "secret_key",
                                        "webhook_secret"]
    # the same adapter again without credentials keeps them
    r = await wl.put("/v1/brands/main/kyc", {"adapter": "sumsub", "level": 3})
    assert r.json()["kyc"]["credentials_set"] == shown["credentials_set"]
    assert r.json()["kyc"]["version"] == 2
    everything = (await wl.get("/v1/brands/main/kyc")).text + (await wl.get("/v1/audit")).text
    for secret in ("the-secret-key", "the-webhook-secret", "sbx:token"):
        assert secret not in everything
    [configured, *_] = (await wl.get("/v1/audit", params={"action": "kyc.configured"})
                        ).json()["data"]
    assert configured["after"]["adapter"] == "sumsub"
    # live keeps its own: still the sandbox
    assert (await wl.get("/v1/brands/main/kyc", mode="live")).json()["kyc"]["adapter"] == \
        "sandbox"


async def test_a_bad_configuration_is_refused_and_changes_nothing(wl: WhiteLabel) -> None:
    for payload, field in (
            ({"adapter": "onfido"}, "adapter"),
            ({"adapter": "sumsub"}, "credentials"),
            ({"adapter": "sumsub", "credentials": {"app_token": "t"}}, "credentials"),
            ({"adapter": "sandbox", "credentials": {"api_key": "x"}}, "credentials"),
            ({"adapter": "sandbox", "credentials": {"Secret": "x"}}, "credentials"),
            ({"adapter": "sandbox", "level": 0}, "level"),
            ({"adapter": "sandbox", "level": 4}, "level"),
            ({"adapter": "sandbox", "level": "2"}, "level"),
            ({}, "adapter")):
        assert_validation(await wl.put("/v1/brands/main/kyc", payload), field)
    assert_error(await wl.put("/v1/brands/nowhere/kyc", {"adapter": "sandbox"}), 404,
                 "NOT_FOUND")
    assert_error(await wl.get("/v1/brands/nowhere/kyc"), 404, "NOT_FOUND")
    assert (await wl.get("/v1/brands/main/kyc")).json()["kyc"]["configured"] is False


async def test_in_production_the_sandbox_verifies_no_live_player(
    wl: WhiteLabel, app: Any,
) -> None:
    platform = app.state.platform
    platform.settings = dataclasses.replace(platform.settings, env="production")
    await new_player(wl, "paula", kyc=False, mode="live")
    assert_error(await wl.post("/v1/players/paula/kyc/start", {}, mode="live"), 409,
                 "KYC_NOT_CONFIGURED")
