"""Every console page in Chromium, on a desktop and on a 390 px wide phone: axe-core
(from the npm registry, pinned by tests/browser/axe/package-lock.json) finds no serious
or critical accessibility violation, the phone never scrolls sideways, and a screenshot
of each page is kept under the run's artifacts (``WOWSINO_ARTIFACTS``, else
``.artifacts/console``).

The pages are enumerated from the app: a console page without an address here fails
``test_every_console_page_is_swept``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import CHROMIUM_ARGS, LiveServer
from tests.browser.test_console import OWNER_PASSWORD, sign_in
from tests.browser.test_console_engines import seed as seed_engines
from wowsino.api import create_app
from wowsino.console.permissions import PLATFORM, route_permission
from wowsino.kernel.config import Settings
from wowsino.operators.service import ROLES

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests/browser/axe/node_modules/axe-core/axe.min.js"
ARTIFACTS = Path(os.environ.get("WOWSINO_ARTIFACTS") or ROOT / ".artifacts") / "console"
WIDTHS = {"desktop": 1360, "phone": 390}
# `WOWSINO_DOCS_SCREENSHOTS=1` also writes each page's desktop view where docs/console.md
# shows it (docs/console/<page>.jpg): the documentation's pictures are taken by this test.
DOCS_SHOTS = ROOT / "docs/console"
BLOCKING = ("serious", "critical")


def console_pages(app: Any) -> set[str]:
    """Every GET page template the console serves."""
    try:  # FastAPI versions that keep included routers nested
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - flat route lists
        routes = app.routes
    found = set()
    for route in routes:
        path = getattr(route, "path_format", None) or getattr(route, "path", None) or ""
        if path.startswith("/admin") and "GET" in (getattr(route, "methods", None) or ()):
            found.add(path)
    return found


# Pages that only answer with a redirect (the console's root) are not swept.
REDIRECTS = {"/admin", "/admin/"}


def addresses(values: dict[str, str]) -> dict[str, str]:
    """Each page template with the real values of a seeded platform."""
    pages = {}
    app = create_app(Settings(admin_token="x"),
                     database_url="postgresql://nobody@127.0.0.1:1/none")
    for template in console_pages(app) - REDIRECTS:
        missing = set(re.findall(r"{(\w+)}", template)) - set(values)
        assert not missing, f"{template}: give the sweep a value for {sorted(missing)}"
        pages[template] = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], template)
    return pages


def test_every_console_page_is_swept() -> None:
    pages = addresses(SEEDED)
    assert "/admin/tenants" in pages and "/admin/tenants/{ref}/{mode}/dashboard" in pages
    holders = page_holders()
    for template in pages:  # each page is reached by the owner, the admin or anyone
        assert holders[template] & {"owner", PLATFORM, "anyone"} or template in FLOWS, template


# pages the sweep reaches along a flow rather than by their address
FLOWS = {"/admin/sign-in/code"}


# the values the seeded platform below gives each path parameter
SEEDED = {"ref": "casino", "mode": "test", "brand": "main", "player": "alice",
          "webhook_id": "", "token": "", "operator_id": "", "kind": "lootboxes",
          "entity_id": "", "jackpot_id": "", "raffle_id": "", "tournament_id": "",
          "template_id": "", "journey_id": "", "campaign_id": "", "key_id": "",
          "rail": "real", "asset": "USD"}


def seed(server: LiveServer) -> dict[str, str]:
    """A white-label tenant with one of everything the engine pages show, and a player with
    money, a limit and a webhook."""
    made = seed_engines(server)
    values = dict(SEEDED)
    with server.api(made["key"]) as api:
        r = api.get("/v1/players/alice")
        assert r.status_code == 200, r.text
        values["player"] = r.json()["player"]["user_id"]
        assert api.post("/v1/players/alice/adjustments", json={
            "rail": "real", "asset": "USD", "amount": "125.50",
            "reason": "opening balance"}).status_code == 201
        assert api.post("/v1/players/alice/rg", json={
            "deposit_daily_limit": "100"}).status_code == 200
        r = api.post("/v1/webhooks", json={"url": "https://hooks.example.com/wowsino",
                                           "events": ["player.status_changed"]})
        assert r.status_code == 201, r.text
        values["webhook_id"] = r.json()["webhook"]["id"]
    with server.admin() as admin:
        keys = admin.get(f"/tenants/{made['tenant_id']}/api-keys").json()["data"]
    values["key_id"] = keys[0]["id"]
    values.update(kind="lootboxes", entity_id=made["box"], jackpot_id=made["jackpot"],
                  raffle_id=made["raffle"], tournament_id=made["race"],
                  template_id=made["bonus"], journey_id=made["journey"],
                  campaign_id=made["campaign"])
    return values


@pytest.fixture
def axe_context(live_server: LiveServer, chromium: Path, tmp_path: Path) -> Iterator[Any]:
    """A browser that may inject axe-core into the console's pages (their CSP allows no
    script: the check bypasses it; the pages themselves are served unchanged)."""
    if not AXE.exists():
        reason = f"{AXE} is missing: `make axe` installs it from the npm registry"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(chromium), args=CHROMIUM_ARGS,
            headless=True, bypass_csp=True, viewport={"width": WIDTHS["desktop"], "height": 900})
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()


def violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']}))"
                          ".violations.map(v => ({id: v.id, impact: v.impact, "
                          "help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))")
    return [f"{v['impact']} {v['id']}: {v['help']} at {v['nodes'][:3]}"
            for v in found if v["impact"] in BLOCKING]


def shot_name(template: str) -> str:
    """``/admin/tenants/{ref}/{mode}/audit`` → ``tenants-ref-mode-audit``."""
    return re.sub(r"[^a-z0-9]+", "-", template.lower().removeprefix("/admin")).strip("-") \
        or "root"


def test_docs_show_a_screenshot_of_every_page() -> None:
    """docs/console.md shows each page as the sweep photographed it."""
    docs = (ROOT / "docs/console.md").read_text()
    missing = []
    for template in sorted(addresses(SEEDED)):
        name = f"console/{shot_name(template)}.jpg"
        if f"({name})" not in docs or not (ROOT / "docs" / name).exists():
            missing.append(name)
    assert not missing, ("take them with `WOWSINO_DOCS_SCREENSHOTS=1 .venv/bin/python -m "
                         f"pytest tests/browser/test_accessibility.py` and show them: {missing}")


class Sweep:
    """Checks the page shown at one width: axe, sideways scrolling, a screenshot."""

    def __init__(self, page: Page, device: str) -> None:
        self.page = page
        self.device = device
        self.problems: list[str] = []
        self.seen: set[str] = set()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def check(self, template: str, url: str | None = None) -> None:
        device = self.device
        self.page.set_viewport_size({"width": WIDTHS[device], "height": 900})
        if url is not None:
            response = self.page.goto(url)
            assert response is not None and response.status == 200, (url, response)
        label = f"{self.page.url} ({device})"
        self.problems += [f"{label}: {v}" for v in violations(self.page)]
        overflow = self.page.evaluate("document.documentElement.scrollWidth - "
                                      "document.documentElement.clientWidth")
        if device == "phone" and overflow > 1:
            self.problems.append(f"{label}: scrolls {overflow} px sideways")
        name = shot_name(template)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}-{device}.png"), full_page=True)
        if device == "desktop" and os.environ.get("WOWSINO_DOCS_SCREENSHOTS"):
            self.page.screenshot(path=str(DOCS_SHOTS / f"{name}.jpg"), type="jpeg",
                                 quality=70)
        self.seen.add(template)


@pytest.mark.parametrize("device", WIDTHS)
def test_every_page_is_accessible_and_fits_a_phone(
    axe_context: Any, live_server: LiveServer, device: str,
) -> None:
    """The owner's and the platform admin's sweep, at one width per test."""
    import pyotp
    from playwright.sync_api import expect

    values = seed(live_server)
    pages = addresses(values)
    holders = page_holders()
    page = axe_context.pages[0] if axe_context.pages else axe_context.new_page()
    sweep = Sweep(page, device)
    url = live_server.url
    sweep.check("/admin/sign-in", url + "/admin/sign-in")
    # an owner joins through an invitation, turns on two-factor sign-in, signs in with a code
    link = live_server.invite_owner("casino", "olive@example.com")
    sweep.check("/admin/invitations/{token}", link)
    page.get_by_label("Password", exact=True).fill(OWNER_PASSWORD)
    page.get_by_label("Password again").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password", exact=True).fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.locator(".qr svg")).to_be_visible()
    sweep.check("/admin/account/two-factor (set-up)")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("The 6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    sweep.check("/admin/account/two-factor (recovery codes)")
    page.get_by_role("link", name="Continue").click()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password", exact=True).fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    sweep.check("/admin/sign-in/code")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(url + "/admin/tenants/casino")
    values["operator_id"] = operator_id_of(page, url)
    pages = addresses(values)
    for template, path in sorted(pages.items()):
        if template not in sweep.seen and "owner" in holders[template]:
            sweep.check(template, url + path)
    # the platform admin's own pages
    axe_context.clear_cookies()
    sign_in(page, live_server)
    for template, path in sorted(pages.items()):
        if template not in sweep.seen and PLATFORM in holders[template]:
            sweep.check(template, url + path)
    assert sweep.problems == [], "\n".join(sweep.problems)
    assert set(pages) <= sweep.seen, sorted(set(pages) - sweep.seen)


def operator_id_of(page: Page, url: str) -> str:
    """The id of an operator of the tenant, read off the operators page."""
    page.goto(url + "/admin/tenants/casino/operators")
    found = re.search(r"/admin/tenants/casino/operators/([0-9a-f-]{36})", page.content())
    assert found is not None
    return found.group(1)


def page_holders() -> dict[str, frozenset[str]]:
    """Who may open each page template (``public`` and the like: anyone)."""
    from fastapi.routing import iter_route_contexts

    app = create_app(Settings(admin_token="x"),
                     database_url="postgresql://nobody@127.0.0.1:1/none")
    found = {}
    for route in iter_route_contexts(app.routes):
        path = getattr(route, "path_format", "")
        if path.startswith("/admin") and "GET" in (getattr(route, "methods", None) or ()):
            permission = route_permission(route.endpoint)
            assert permission is not None, path
            found[path] = permission.holders or frozenset({"anyone"})
    return found


def invite(server: LiveServer, owner: str, email: str, role: str) -> None:
    """The owner invites an operator with ``role`` in the console; the operator joins."""
    with httpx.Client(base_url=server.url, timeout=10) as owner_browser:
        r = owner_browser.post("/admin/sign-in", data={"email": owner,
                                                       "password": OWNER_PASSWORD})
        assert r.status_code == 303, r.text
        page = owner_browser.get("/admin/tenants/casino/operators")
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
        assert csrf is not None, page.text[:300]
        r = owner_browser.post("/admin/tenants/casino/operators",
                               data={"csrf": csrf.group(1), "email": email, "role": role})
        assert r.status_code == 303, r.text
        link = re.search(r'id="invitation-link">([^<]+)<',
                         owner_browser.get(r.headers["location"]).text)
        assert link is not None
    with httpx.Client(timeout=10) as invitee:
        r = invitee.post(link.group(1), data={"password": OWNER_PASSWORD,
                                              "confirm": OWNER_PASSWORD})
        assert r.status_code == 303, r.text


@pytest.mark.parametrize("role", [r for r in ROLES if r != "owner"])
def test_each_role_opens_the_pages_it_may_see(
    axe_context: Any, live_server: LiveServer, role: str,
) -> None:
    """Every operator role, signed in in the browser, opens each page its permissions
    allow: each answers, and axe finds nothing serious (the owner's sweep is above).
    One role per test, so that each stays well inside the suite's time limit."""
    from tests.browser.test_console import sign_in_operator

    values = seed(live_server)
    owner = live_server.make_owner("casino")
    with httpx.Client(base_url=live_server.url, timeout=10) as c:
        assert c.post("/admin/sign-in", data={"email": owner, "password": OWNER_PASSWORD}
                      ).status_code == 303
        found = re.search(r"/admin/tenants/casino/operators/([0-9a-f-]{36})",
                          c.get("/admin/tenants/casino/operators").text)
        assert found is not None
        values["operator_id"] = found.group(1)
    pages = addresses(values)
    holders = page_holders()
    page = axe_context.pages[0] if axe_context.pages else axe_context.new_page()
    problems: list[str] = []
    opened = 0
    email = f"{role}@example.com"
    invite(live_server, owner, email, role)
    sign_in_operator(page, live_server, email, "/admin/account")
    for template, path in sorted(pages.items()):
        if role not in holders[template] or template in FLOWS:
            continue
        response = page.goto(live_server.url + path)
        assert response is not None
        if response.status != 200:
            problems.append(f"{role}: {path} answered {response.status}")
            continue
        problems += [f"{role}: {path}: {v}" for v in violations(page)]
        opened += 1
    assert problems == [], "\n".join(problems)
    assert opened > 20, opened
