"""Shared by the tests of the outside vendors (the wallet's PSP, the KYC vendor): a
sandbox vendor (``wowsino sandbox psp``, ``wowsino sandbox kyc``) as a real separate
process, bodies signed as the sandboxes sign them, and the fixtures their conftests
share: the app on a real port for the vendor's callbacks, a white-label tenant."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from tests.integration.wl_support import WhiteLabel, make_white_label
from tests.support.live_server import free_port, serving
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.vendors import sign


@dataclass
class Sandbox:
    """A sandbox vendor process, and the secret its requests and callbacks are signed
    with."""

    url: str
    secret: str
    process: subprocess.Popen[bytes]

    async def signed_post(self, path: str, payload: dict[str, Any] | None = None
                          ) -> httpx.Response:
        """POST ``payload`` (no body when None) to ``path``, signed with the secret."""
        raw = dumps(payload).encode() if payload is not None else b""
        async with httpx.AsyncClient(timeout=20) as http:
            return await http.post(f"{self.url}{path}", content=raw,
                                   headers={"X-Signature": sign(self.secret, raw)})

    async def shown(self, path: str) -> dict[str, Any]:
        """``GET path``, which must answer 200."""
        async with httpx.AsyncClient() as http:
            r = await http.get(f"{self.url}{path}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


S = TypeVar("S", bound=Sandbox)


def start(kind: type[S], service: str, *args: str, secret: str, secret_variable: str,
          name: str) -> S:
    """``wowsino sandbox <service>`` on a free port (``args``: more CLI options), its
    secret in the environment variable ``secret_variable``, once it answers
    ``/healthz``; ``name`` says which vendor failed to start."""
    port = free_port()
    env = {**os.environ, secret_variable: secret}
    process = subprocess.Popen(
        [sys.executable, "-m", "wowsino.cli", "sandbox", service, "--port", str(port), *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {process.stderr.read()!r}"
                               if process.stderr else f"{name} exited")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return kind(url, secret, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{name} did not start")


def signed_body(secret: str, document: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A JSON callback body and its headers, signed with ``secret`` as a sandbox signs."""
    raw = dumps(document).encode()
    return raw, {"Content-Type": "application/json", "X-Signature": sign(secret, raw)}


# --- the fixtures the vendors' conftests share ------------------------------------------


@pytest.fixture
def app_port() -> int:
    return free_port()


@pytest.fixture
async def served(app: Any, app_port: int) -> AsyncIterator[int]:
    """The app on its real port too: the vendor's callbacks reach it there."""
    async with serving(app, port=app_port) as port:
        yield port


@pytest.fixture
async def wl(client: httpx.AsyncClient) -> WhiteLabel:
    """A white-label tenant with its brand's publishable keys."""
    return await make_white_label(client, "casino")
