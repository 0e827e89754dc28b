"""Shared by the KYC tests: the sandbox KYC vendor as a real separate process, signed
webhooks written by hand, and small helpers."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.sandbox_support import Sandbox, signed_body, start
from tests.integration.support import body

SECRET = "kyc-tests-vendor-secret"


@dataclass
class Vendor(Sandbox):
    """The sandbox KYC vendor process."""

    async def complete(self, verification_url: str, last_name: str,
                       first_name: str = "Alex") -> dict[str, Any]:
        """What an applicant does on the verification page: submit their name."""
        async with httpx.AsyncClient(timeout=20) as http:
            r = await http.post(verification_url, json={"first_name": first_name,
                                                        "last_name": last_name})
        assert r.status_code == 202, r.text
        answer: dict[str, Any] = r.json()
        return answer

    async def session(self, session_id: str) -> dict[str, Any]:
        return await self.shown(f"/sessions/{session_id}")


def start_vendor(*args: str, secret: str = SECRET) -> Vendor:
    """``wowsino sandbox kyc`` on a free port (``args``: more CLI options)."""
    return start(Vendor, "kyc", *args, secret=secret,
                 secret_variable="WOWSINO_SANDBOX_KYC_SECRET", name="the sandbox KYC vendor")


def webhook(secret: str, *, reference: str, event_id: str, decision: str,
            decided_at: datetime, rejection: str | None = None,
            reason: str | None = None) -> tuple[bytes, dict[str, str]]:
    """A sandbox vendor's webhook body and its headers, signed with ``secret``."""
    return signed_body(secret, {
        "event_id": event_id, "session_id": "sbx_kyc_by_hand", "reference": reference,
        "decision": decision, "rejection": rejection, "reason": reason, "level": 1,
        "decided_at": decided_at.isoformat(), "sent_at": decided_at.isoformat()})


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
