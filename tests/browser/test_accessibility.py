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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import CHROMIUM_ARGS, LiveServer
from tests.browser.test_console import make_tenant, sign_in
from wowsino.api import create_app
from wowsino.kernel.config import Settings

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests/browser/axe/node_modules/axe-core/axe.min.js"
ARTIFACTS = Path(os.environ.get("WOWSINO_ARTIFACTS") or ROOT / ".artifacts") / "console"
WIDTHS = {"desktop": 1360, "phone": 390}
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


# the values the seeded platform below gives each path parameter
SEEDED = {"ref": "casino", "mode": "test", "brand": "main", "player": "alice",
          "webhook_id": ""}


def seed(server: LiveServer) -> dict[str, str]:
    """A white-label tenant with a player, money, a jackpot, a webhook and its delivery."""
    created = make_tenant(server, "casino")
    values = dict(SEEDED)
    with server.api(created["keys"]["test"]) as api:
        r = api.post("/v1/players", json={"username": "alice", "email": "alice@example.com",
                                          "country_code": "MT", "currency": "EUR"})
        assert r.status_code == 201, r.text
        values["player"] = r.json()["player"]["user_id"]
        assert api.post("/v1/players/alice/adjustments", json={
            "rail": "real", "asset": "EUR", "amount": "125.50",
            "reason": "opening balance"}).status_code == 201
        assert api.post("/v1/players/alice/rg", json={
            "deposit_daily_limit": "100"}).status_code == 200
        assert api.post("/v1/jackpots", json={"name": "Mega", "currency": "EUR",
                                              "seed_usd": 1000}).status_code == 201
        r = api.post("/v1/webhooks", json={"url": "https://hooks.example.com/wowsino",
                                           "events": ["player.status_changed"]})
        assert r.status_code == 201, r.text
        values["webhook_id"] = r.json()["webhook"]["id"]
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


def test_every_page_is_accessible_and_fits_a_phone(
    axe_context: Any, live_server: LiveServer,
) -> None:
    values = seed(live_server)
    pages = addresses(values)
    page = axe_context.pages[0] if axe_context.pages else axe_context.new_page()
    page.goto(live_server.url + "/admin/sign-in")
    problems = violations(page)  # the sign-in page, before any session
    sign_in(page, live_server)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    swept = 0
    for template, path in sorted(pages.items()):
        if template == "/admin/sign-in":
            continue
        for device, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            response = page.goto(live_server.url + path)
            assert response is not None
            assert response.status == 200, (path, response.status)
            problems += [f"{path} ({device}): {v}" for v in violations(page)]
            overflow = page.evaluate("document.documentElement.scrollWidth - "
                                     "document.documentElement.clientWidth")
            if device == "phone" and overflow > 1:
                problems.append(f"{path}: scrolls {overflow} px sideways at {width} px")
            name = re.sub(r"[^a-z0-9]+", "-", template.lower()).strip("-") or "root"
            page.screenshot(path=str(ARTIFACTS / f"{name}-{device}.png"), full_page=True)
            swept += 1
    assert problems == [], "\n".join(problems)
    assert swept == 2 * (len(pages) - 1)
