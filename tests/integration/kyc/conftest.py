"""The KYC tests' fixtures: one sandbox KYC vendor process per module, the app on a real
port for its webhooks, a white-label tenant. The platform's clock is the real one: the
vendor's decisions carry the vendor's own (real) time, which orders them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.integration.kyc_support import Vendor, start_vendor
from tests.integration.sandbox_support import app_port, served, wl
from tests.support.live_server import free_port
from wowsino.kernel.clock import SystemClock
from wowsino.kernel.config import Settings

__all__ = ["app_port", "served", "wl"]  # the fixtures the vendors' tests share


@pytest.fixture(scope="module")
def vendor() -> Iterator[Vendor]:
    """One sandbox KYC vendor for the module: webhooks 50 ms after a verification."""
    found = start_vendor("--delay", "0.05", "--retries", "3")
    yield found
    found.stop()


@pytest.fixture
def clock() -> Any:
    return SystemClock()


@pytest.fixture
def settings(vendor: Vendor, app_port: int) -> Settings:
    # no PSP runs here: a withdrawal waits, pending, for an operator
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=20, sandbox_kyc_url=vendor.url,
                    sandbox_kyc_secret=vendor.secret,
                    sandbox_psp_url=f"http://127.0.0.1:{free_port()}",
                    public_url=f"http://127.0.0.1:{app_port}", rate_limit_burst=100_000)
