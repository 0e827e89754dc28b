"""The wallet tests' fixtures: one sandbox PSP process per module, the app on a real port
for its callbacks, a white-label tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.integration.wallet_support import Psp, start_psp, stop_psp
from tests.integration.wl_support import WhiteLabel, make_white_label
from tests.support.live_server import free_port, serving
from wowsino.kernel.config import Settings


@pytest.fixture(scope="module")
def psp() -> Iterator[Psp]:
    """One sandbox PSP for the module: callbacks after 50 ms, three retries."""
    found = start_psp("--delay", "0.05", "--retries", "3")
    yield found
    stop_psp(found)


@pytest.fixture
def app_port() -> int:
    return free_port()


@pytest.fixture
def settings(psp: Psp, app_port: int) -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=20, sandbox_psp_url=psp.url,
                    sandbox_psp_secret=psp.secret, public_url=f"http://127.0.0.1:{app_port}",
                    rate_limit_burst=100_000)


@pytest.fixture
async def served(app: Any, app_port: int) -> AsyncIterator[int]:
    """The app on its real port too: the PSP's callbacks reach it there."""
    async with serving(app, port=app_port) as port:
        yield port


@pytest.fixture
async def wl(client: httpx.AsyncClient) -> WhiteLabel:
    """A white-label tenant with its brand's publishable keys."""
    return await make_white_label(client, "casino")
