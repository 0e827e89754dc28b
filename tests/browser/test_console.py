"""The operator console in a real browser: sign-in (the platform admin and operators,
with an invitation and two-factor sign-in), tenants, keys, suspension, players, webhook
redelivery, sign-out, and CSRF refusal."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OWNER_PASSWORD, LiveServer
from tests.conftest import ADMIN_TOKEN
from tests.support.receiver import receiver

pytestmark = pytest.mark.browser
# Where a person can look at the player page after a run.
SCREENSHOT = Path(tempfile.gettempdir()) / "console-player.png"


def sign_in(page: Page, server: LiveServer, path: str = "/admin/tenants") -> None:
    """Sign in as the platform admin."""
    page.goto(server.url + path)
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Use admin token").click()
    expect(page).to_have_url(re.compile(re.escape(server.url + path) + r"$"))


def sign_in_operator(page: Page, server: LiveServer, email: str, path: str,
                     password: str = OWNER_PASSWORD) -> None:
    """Sign in as an operator without two-factor sign-in (skipping its set-up)."""
    page.goto(server.url + path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    page.get_by_role("link", name="Not now").click()
    expect(page).to_have_url(re.compile(re.escape(server.url + path) + r"$"))


def make_tenant(server: LiveServer, slug: str) -> dict[str, Any]:
    with server.admin() as admin:
        r = admin.post("/tenants", json={"slug": slug, "name": slug.title(),
                                         "service_mode": "white_label",
                                         "brand": {"slug": "main", "name": "Main"}})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_sign_in_refuses_a_wrong_token_and_admits_the_admin_token(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/admin/tenants")
    expect(page).to_have_url(re.compile(r"/admin/sign-in\?next=/admin/tenants$"))
    page.get_by_label("Admin token").fill("not-the-token")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Use admin token").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_contain_text("not the admin token")
    assert page.context.cookies() == []

    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Use admin token").click()
    expect(page).to_have_url(live_server.url + "/admin/tenants")
    expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    [cookie] = page.context.cookies()
    assert cookie["name"] == "wowsino_console" and cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    assert ADMIN_TOKEN not in cookie["value"]


def test_creating_a_tenant_shows_its_two_keys_once(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    expect(page.get_by_text("No tenants yet")).to_be_visible()
    page.get_by_label("Slug", exact=True).fill("acme")
    page.get_by_label("Name", exact=True).fill("Acme Casino")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("heading", name="Tenant Acme Casino created")).to_be_visible()
    live_key = page.locator("#live-key").inner_text()
    test_key = page.locator("#test-key").inner_text()
    assert live_key.startswith("wsk_live_") and test_key.startswith("wsk_test_")
    with live_server.api(test_key) as api:
        me = api.get("/v1/me").json()
    assert me["tenant"]["slug"] == "acme" and me["tenant"]["key_mode"] == "test"

    page.get_by_role("link", name="Go to Acme Casino").click()
    expect(page.get_by_role("heading", name="Owners")).to_be_visible()
    assert live_key not in page.content() and test_key not in page.content()

    page.get_by_role("button", name="Sign out").click()
    owner = live_server.make_owner("acme")
    sign_in_operator(page, live_server, owner, "/admin/tenants/acme")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    content = page.content()
    assert live_key not in content and test_key not in content
    assert f"{test_key[:9]}…{test_key[-4:]}" in content  # the hint, never the secret


def test_a_key_created_in_the_console_works_until_it_is_revoked(
    page: Page, live_server: LiveServer
) -> None:
    make_tenant(live_server, "acme")
    owner = live_server.make_owner("acme")
    sign_in_operator(page, live_server, owner, "/admin/tenants/acme")
    page.get_by_label("Key name").fill("reporting")
    page.get_by_label("players:read").check()
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").inner_text()
    assert key.startswith("wsk_test_")
    expect(page).to_have_url(re.compile(r"/admin/tenants/acme\?notice=key-created$"))
    page.reload()  # a reload neither makes another key nor shows the secret again
    expect(page.locator("#new-key")).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("reporting"))).to_have_count(1)
    with live_server.api(key) as api:
        assert api.get("/v1/players").status_code == 200
        assert api.post("/v1/players", json={"username": "x", "email": "x@x.io"}).status_code == 403

    page.get_by_role("link", name="Revoke reporting").click()  # asks first
    expect(page.get_by_role("heading", name="Revoke the API key “reporting”?")).to_be_visible()
    with live_server.api(key) as api:
        assert api.get("/v1/players").status_code == 200  # not yet
    page.get_by_role("button", name="Revoke the key").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.get_by_role("row", name=re.compile("reporting"))).to_contain_text("revoked")
    assert key not in page.content()
    with live_server.api(key) as api:
        assert api.get("/v1/players").json()["code"] == "AUTH_INVALID"


def test_suspending_a_tenant_refuses_its_keys_and_is_audited(
    page: Page, live_server: LiveServer
) -> None:
    created = make_tenant(live_server, "acme")
    sign_in(page, live_server, "/admin/tenants/acme")
    page.get_by_role("button", name="Suspend tenant").click()
    expect(page.get_by_role("status")).to_contain_text("suspended")
    with live_server.api(created["keys"]["live"]) as api:
        r = api.get("/v1/me")
    assert r.status_code == 403 and r.json()["code"] == "TENANT_SUSPENDED"

    page.get_by_role("button", name="Reactivate tenant").click()
    expect(page.get_by_role("status")).to_contain_text("active again")
    with live_server.api(created["keys"]["live"]) as api:
        assert api.get("/v1/me").status_code == 200

    page.get_by_role("button", name="Sign out").click()
    owner = live_server.make_owner("acme")
    sign_in_operator(page, live_server, owner,
                     "/admin/tenants/acme/live/audit?action=tenant.updated")
    rows = page.get_by_role("row", name=re.compile("tenant.updated"))
    expect(rows).to_have_count(2)
    expect(rows.last).to_contain_text("admin")
    expect(rows.last).to_contain_text("suspended")


def test_player_page_shows_balances_ledger_and_timeline(
    page: Page, live_server: LiveServer
) -> None:
    created = make_tenant(live_server, "acme")
    with live_server.api(created["keys"]["test"]) as api:
        for name in ("alice", "bob"):
            r = api.post("/v1/players", json={"username": name, "email": f"{name}@example.com",
                                              "country_code": "DE", "currency": "EUR"})
            assert r.status_code == 201, r.text
        for amount in ("1250.50", "-200.25"):
            r = api.post("/v1/players/alice/adjustments", json={
                "rail": "real", "asset": "EUR", "amount": amount, "reason": f"desk {amount}"})
            assert r.status_code == 201, r.text
        assert api.post("/v1/players/alice/adjustments", json={
            "rail": "winz", "asset": "WINZ", "amount": 40, "reason": "welcome"}).status_code == 201
        assert api.post("/v1/players/alice/rg", json={
            "deposit_daily_limit": "100"}).status_code == 200
        assert api.post("/v1/players/alice/rg", json={
            "deposit_daily_limit": "500"}).status_code == 200  # a loosening: pending 24 h

    owner = live_server.make_owner("acme")
    sign_in_operator(page, live_server, owner, "/admin/tenants/acme/test/players")
    expect(page.locator(".testbanner")).to_contain_text("Test mode")
    expect(page.get_by_role("row", name=re.compile("bob"))).to_be_visible()
    page.get_by_role("searchbox").fill("ali")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("row", name=re.compile("bob"))).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("alice"))).to_contain_text("1,050.25 EUR")
    page.get_by_role("link", name="alice").click()

    expect(page.get_by_role("heading", name="alice")).to_be_visible()
    balances = page.locator("section", has=page.get_by_role("heading", name="Balances"))
    expect(balances.get_by_role("row", name=re.compile("real EUR"))).to_contain_text("1,050.25 EUR")
    expect(balances.get_by_role("row", name=re.compile("winz WINZ"))).to_contain_text("40 WINZ")
    ledger = page.locator("section", has=page.get_by_role("heading", name="Ledger"))
    expect(ledger.get_by_role("row", name=re.compile("desk -200.25"))).to_contain_text(
        "1,050.25 EUR")
    expect(ledger.get_by_role("row", name=re.compile("desk 1250.50"))).to_contain_text(
        "1,250.50 EUR")
    limits = page.locator("section", has=page.get_by_role("heading", name="Responsible"))
    expect(limits.get_by_role("row", name=re.compile("deposit daily limit"))).to_contain_text(
        "100.00 EUR")
    expect(limits.get_by_role("row", name=re.compile("deposit daily limit"))).to_contain_text(
        "→ 500.00 EUR")
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("ledger.adjustment")
    expect(timeline).to_contain_text("player.created")
    expect(timeline).to_contain_text("player.rg_changed")
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("link", name="Live", exact=True).click()
    expect(page).to_have_url(live_server.url + "/admin/tenants/acme/live/players")
    expect(page.locator(".livebanner")).to_be_visible()
    expect(page.get_by_text("No players in this brand yet")).to_be_visible()


def test_a_webhook_delivery_can_be_redelivered(page: Page, live_server: LiveServer) -> None:
    created = make_tenant(live_server, "acme")
    with receiver() as rx, live_server.api(created["keys"]["test"]) as api:
        assert api.post("/v1/players", json={"username": "alice",
                                             "email": "a@example.com"}).status_code == 201
        r = api.post("/v1/webhooks", json={"url": rx.url, "events": ["player.*"]})
        assert r.status_code == 201, r.text
        assert api.patch("/v1/players/alice/status", json={
            "status": "suspended", "reason": "checks"}).status_code == 200
        wait_until(lambda: len(rx.requests) == 1)

        owner = live_server.make_owner("acme")
        sign_in_operator(page, live_server, owner, "/admin/tenants/acme/test/webhooks")
        row = page.get_by_role("row", name=re.compile("player.status_changed"))
        expect(row).to_contain_text("succeeded")
        row.get_by_role("button", name="Redeliver").click()
        expect(page.get_by_role("status")).to_contain_text("queued again")
        wait_until(lambda: len(rx.requests) == 2)
    first, second = rx.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # receivers dedupe
    page.goto(live_server.url + "/admin/tenants/acme/test/audit")
    expect(page.get_by_role("row", name=re.compile("webhook_delivery.redelivered"))).to_contain_text(
        "operator")


def test_sign_out_ends_the_session(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    assert page.context.cookies() == []
    page.goto(live_server.url + "/admin/tenants")
    expect(page).to_have_url(re.compile(r"/admin/sign-in"))


def test_a_forged_post_without_the_csrf_token_is_refused(
    page: Page, live_server: LiveServer
) -> None:
    created = make_tenant(live_server, "acme")
    sign_in(page, live_server, "/admin/tenants/acme")
    [cookie] = page.context.cookies()
    cookies = {cookie["name"]: cookie["value"]}
    with httpx.Client(base_url=live_server.url, cookies=cookies) as forger:
        assert forger.get("/admin/tenants/acme").status_code == 200  # the cookie is good
        refused = forger.post("/admin/tenants/acme/status", data={"status": "suspended"})
        assert refused.status_code == 403
        wrong = forger.post("/admin/tenants/acme/status",
                            data={"status": "suspended", "csrf": "0" * 64})
        assert wrong.status_code == 403
    with live_server.api(created["keys"]["live"]) as api:
        assert api.get("/v1/me").status_code == 200  # nothing was suspended
    page.reload()
    expect(page.get_by_role("button", name="Suspend tenant")).to_be_visible()


def test_an_invited_owner_joins_turns_on_two_factor_and_signs_in_with_a_code(
    page: Page, live_server: LiveServer
) -> None:
    import pyotp

    make_tenant(live_server, "acme")
    sign_in(page, live_server, "/admin/tenants/acme")
    page.get_by_label("Owner's email").fill("olive@example.com")
    page.get_by_role("button", name="Invite owner").click()
    link = page.locator("#invitation-link").inner_text()
    assert "/admin/invitations/" in link
    page.reload()
    expect(page.locator("#invitation-link")).to_have_count(0)  # shown once
    page.get_by_role("button", name="Sign out").click()

    page.goto(link)
    expect(page.get_by_role("heading", name="Join Acme")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(OWNER_PASSWORD)
    page.get_by_label("Password again").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is set")

    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password", exact=True).fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("two-factor sign-in")
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("The 6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password", exact=True).fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    # the next step's code: within the accepted drift, and after the one set-up used
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(live_server.url + "/admin/tenants/acme")
    page.goto(live_server.url + "/admin/tenants")
    expect(page.get_by_role("heading", name="Refused")).to_be_visible()

