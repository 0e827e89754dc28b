"""Shared by the wallet tests: the sandbox PSP as a real separate process, players with
their sessions, and small helpers."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration.sandbox_support import Sandbox, signed_body, start
from tests.integration.support import adjust, body
from tests.integration.wl_support import WhiteLabel, login, register
from wowsino.kernel import ledger
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Mode, Realm

SECRET = "wallet-tests-psp-secret"


@dataclass
class Psp(Sandbox):
    """The sandbox PSP process."""

    async def transaction(self, transaction_id: str) -> dict[str, Any]:
        return await self.shown(f"/transactions/{transaction_id}")

    async def notify(self, transaction_id: str, status: str,
                     reason: str | None = None) -> dict[str, Any]:
        """Have the PSP send a callback with ``status`` now (a late failure, a repeat)."""
        r = await self.signed_post(f"/transactions/{transaction_id}/notify",
                                   {"status": status, "reason": reason})
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer


def start_psp(*args: str, secret: str = SECRET) -> Psp:
    """``wowsino sandbox psp`` on a free port (``args``: more CLI options)."""
    return start(Psp, "psp", *args, secret=secret, secret_variable="WOWSINO_SANDBOX_PSP_SECRET",
                 name="the sandbox PSP")


@dataclass
class Player:
    """A white-label player and their session headers."""

    tenant: Tenant
    info: dict[str, Any]
    headers: dict[str, str]

    @property
    def username(self) -> str:
        return str(self.info["username"])

    async def relogin(self, mode: str = "test") -> None:
        """A new session (the clock moved past the last one's idle expiry)."""
        assert isinstance(self.tenant, WhiteLabel)
        token = await login(self.tenant, self.username, mode=mode)
        self.headers = {"Authorization": f"Bearer {token}"}

    async def post(self, path: str, payload: Any, **headers: str) -> httpx.Response:
        return await self.tenant.client.post(path, json=payload,
                                             headers={**self.headers, **headers})

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.tenant.client.get(path, headers=self.headers, params=params)


async def new_player(wl: WhiteLabel, username: str, *, kyc: bool = True,
                     funds: str | None = None, mode: str = "test") -> Player:
    """A player who registered on the brand's site and logged in (USD), KYC approved at
    level 1 by an operator unless ``kyc`` is False, with ``funds`` of real money (an
    operator's adjustment)."""
    info = await register(wl, username, mode)
    if kyc:
        r = await wl.patch(f"/v1/players/{username}/kyc", {
            "status": "approved", "level": 1, "reason": "documents checked"}, mode=mode)
        assert r.status_code == 200, r.text
    if funds is not None:
        r = await adjust(wl, username, funds, mode=mode, reason="opening balance")
        assert r.status_code == 201, r.text
    token = await login(wl, username, mode=mode)
    return Player(wl, info, {"Authorization": f"Bearer {token}"})


async def real_balance(tenant: Tenant, username: str, mode: str = "test") -> Decimal:
    r = await tenant.get(f"/v1/players/{username}", mode=mode)
    assert r.status_code == 200, r.text
    return Decimal(body(r)["player"]["balances"].get("real", {}).get("USD", 0))


async def bonus_balance(tenant: Tenant, username: str) -> Decimal:
    r = await tenant.get(f"/v1/players/{username}")
    return Decimal(body(r)["player"]["balances"].get("bonus", {}).get("USD", 0))


async def until_settled(tenant: Tenant, target: str, row_id: str, *, wait: float = 15,
                        waiting: tuple[str, ...] = ("pending",)) -> dict[str, Any]:
    """The deposit or withdrawal once its status leaves ``waiting``."""
    deadline = time.monotonic() + wait
    while True:
        r = await tenant.get(f"/v1/{target}s/{row_id}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = body(r)
        if found[target]["status"] not in waiting or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def callbacks_until(tenant: Tenant, target: str, row_id: str, count: int,
                          wait: float = 15) -> list[dict[str, Any]]:
    """The callbacks recorded for a deposit or withdrawal once there are ``count``."""
    deadline = time.monotonic() + wait
    while True:
        r = await tenant.get(f"/v1/{target}s/{row_id}")
        found: list[dict[str, Any]] = r.json()["callbacks"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def signed(secret: str, **fields: Any) -> tuple[bytes, dict[str, str]]:
    """A sandbox callback body and its headers, signed with ``secret``."""
    return signed_body(secret, fields)


async def system_balance(engine: Any, tenant: Tenant, name: str, mode: str = "test") -> int:
    async with engine.connect() as conn:
        return await ledger.system_balance(
            conn, Realm(uuid.UUID(tenant.id), Mode(mode)),
            ledger.Account.system(name, Rail.REAL, "USD"))


async def ledger_problems(engine: Any, tenant: Tenant, mode: str = "test") -> list[str]:
    async with engine.connect() as conn:
        report = await ledger.verify_realm(conn, Realm(uuid.UUID(tenant.id), Mode(mode)))
    return report.problems


async def count_rows(engine: Any, table: str, tenant: Tenant) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(
            f"SELECT count(*) FROM {table} WHERE tenant_id = CAST(:t AS uuid)"),
            {"t": tenant.id}) or 0)
