"""Browser fixtures: the app served over real HTTP by uvicorn, and Debian's Chromium
driven by Playwright (never a downloaded browser build).

Without /usr/bin/chromium these tests skip locally and fail in CI (``CI=true``);
``make test`` installs the browser from Debian first.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.conftest import ADMIN_TOKEN
from wowsino.api import create_app
from wowsino.kernel.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
OWNER_PASSWORD = "a long owner password"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; its absence fails the run in CI and skips it elsewhere."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: `apt-get install chromium` (make test does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def page(context: Any) -> Any:
    return context.pages[0] if context.pages else context.new_page()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """The platform (API, console and worker) on a real port of 127.0.0.1."""

    url: str

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10,
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10,
                            headers={"Authorization": f"Bearer {key}"})

    def invite_owner(self, slug: str, email: str) -> str:
        """The platform admin invites the tenant's owner over HTTP; the invitation link."""
        with httpx.Client(base_url=self.url, timeout=10) as admin:
            assert admin.post("/admin/sign-in", data={"token": ADMIN_TOKEN}).status_code == 303
            page = admin.get(f"/admin/tenants/{slug}")
            csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
            assert csrf is not None
            r = admin.post(f"/admin/tenants/{slug}/owner",
                           data={"csrf": csrf.group(1), "email": email})
            assert r.status_code == 303, r.text
            link = re.search(r'id="invitation-link">([^<]+)<', admin.get(r.headers["location"]).text)
            assert link is not None
            return link.group(1)

    def make_owner(self, slug: str, email: str = "owner@example.com",
                   password: str = OWNER_PASSWORD) -> str:
        """An owner of the tenant who has set ``password``; returns the email."""
        link = self.invite_owner(slug, email)
        with httpx.Client(timeout=10) as invitee:
            r = invitee.post(link, data={"password": password, "confirm": password})
            assert r.status_code == 303, r.text
        return email


@pytest.fixture
def live_server(chromium: Path, db_url: str) -> Iterator[LiveServer]:
    app = create_app(Settings(admin_token=ADMIN_TOKEN, db_pool_size=5), database_url=db_url,
                     run_worker=True)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def context(live_server: LiveServer, chromium: Path, tmp_path: Path) -> Iterator[Any]:
    """A browser with a fresh profile of its own.

    Playwright's synchronous driver holds an event loop in this thread while it runs, so
    it starts after the database fixtures (which use asyncio) and stops before theirs end.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser_context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(chromium), args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1360, "height": 900},
        )
        browser_context.set_default_timeout(15_000)
        try:
            yield browser_context
        finally:
            browser_context.close()
