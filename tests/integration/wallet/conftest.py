"""The wallet tests' fixtures: one sandbox PSP process per module, the app on a real port
for its callbacks, a white-label tenant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.integration.sandbox_support import app_port, served, wl
from tests.integration.wallet_support import Psp, start_psp
from wowsino.kernel.config import Settings

__all__ = ["app_port", "served", "wl"]  # the fixtures the vendors' tests share


@pytest.fixture(scope="module")
def psp() -> Iterator[Psp]:
    """One sandbox PSP for the module: callbacks after 50 ms, three retries."""
    found = start_psp("--delay", "0.05", "--retries", "3")
    yield found
    found.stop()


@pytest.fixture
def settings(psp: Psp, app_port: int) -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=20, sandbox_psp_url=psp.url,
                    sandbox_psp_secret=psp.secret, public_url=f"http://127.0.0.1:{app_port}",
                    rate_limit_burst=100_000)
