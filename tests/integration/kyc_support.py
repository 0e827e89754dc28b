"""Shared by the KYC tests: the sandbox KYC vendor as a real separate process, signed
webhooks written by hand, and small helpers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.support import body
from tests.support.live_server import free_port
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.vendors import sign

SECRET = "kyc-tests-vendor-secret"


@dataclass
class Vendor:
    """The sandbox KYC vendor process."""

    url: str
    secret: str
    process: subprocess.Popen[bytes]

    async def complete(self, verification_url: str, last_name: str,
                       first_name: str = "Alex") -> dict[str, Any]:
        """What an applicant does on the verification page: submit their name."""
        async with httpx.AsyncClient(timeout=20) as http:
            r = await http.post(verification_url, json={"first_name": first_name,
                                                        "last_name": last_name})
        assert r.status_code == 202, r.text
        answer: dict[str, Any] = r.json()
        return answer

    async def signed_post(self, path: str, payload: dict[str, Any] | None = None
                          ) -> httpx.Response:
        raw = dumps(payload).encode() if payload is not None else b""
        async with httpx.AsyncClient(timeout=20) as http:
            return await http.post(f"{self.url}{path}", content=raw,
                                   headers={"X-Signature": sign(self.secret, raw)})

    async def session(self, session_id: str) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            r = await http.get(f"{self.url}/sessions/{session_id}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found


def start_vendor(*args: str, secret: str = SECRET) -> Vendor:
    """``wowsino sandbox kyc`` on a free port (``args``: more CLI options)."""
    port = free_port()
    env = {**os.environ, "WOWSINO_SANDBOX_KYC_SECRET": secret}
    process = subprocess.Popen(
        [sys.executable, "-m", "wowsino.cli", "sandbox", "kyc", "--port", str(port), *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox KYC vendor exited: {process.stderr.read()!r}"
                               if process.stderr else "the sandbox KYC vendor exited")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Vendor(url, secret, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the sandbox KYC vendor did not start")


def stop_vendor(vendor: Vendor) -> None:
    vendor.process.terminate()
    try:
        vendor.process.wait(10)
    except subprocess.TimeoutExpired:
        vendor.process.kill()


def webhook(secret: str, *, reference: str, event_id: str, decision: str,
            decided_at: datetime, rejection: str | None = None,
            reason: str | None = None) -> tuple[bytes, dict[str, str]]:
    """A sandbox vendor's webhook body and its headers, signed with ``secret``."""
    raw = dumps({"event_id": event_id, "session_id": "sbx_kyc_by_hand", "reference": reference,
                 "decision": decision, "rejection": rejection, "reason": reason, "level": 1,
                 "decided_at": decided_at.isoformat(), "sent_at": decided_at.isoformat()}
                ).encode()
    return raw, {"Content-Type": "application/json", "X-Signature": sign(secret, raw)}


async def kyc_of(tenant: Tenant, username: str, mode: str = "test") -> dict[str, Any]:
    """``GET /v1/players/<username>/kyc``."""
    r = await tenant.get(f"/v1/players/{username}/kyc", mode=mode)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = body(r)["kyc"]
    return found


async def until_decided(tenant: Tenant, username: str, decisions: int = 1, *,
                        wait: float = 15) -> dict[str, Any]:
    """The player's KYC once ``decisions`` decisions are recorded."""
    deadline = time.monotonic() + wait
    while True:
        found = await kyc_of(tenant, username)
        if len(found["decisions"]) >= decisions or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)
