"""Helpers shared by the HTTP integration tests."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import ADMIN, Tenant

CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
KEY = re.compile(r"^wsk_(live|test)_[0-9a-f]{48}$")


def body(response: httpx.Response) -> Any:
    """The JSON body with every number as an exact Decimal (money never goes through float)."""
    return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is ``status`` with the ``{error, code}`` envelope (and ``code`` if given)."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert isinstance(payload, dict), payload
    assert isinstance(payload.get("error"), str), payload
    assert payload["error"].strip(), payload
    assert isinstance(payload.get("code"), str), payload
    assert CODE.match(payload["code"]), payload
    assert "detail" not in payload, payload
    if code is not None:
        assert payload["code"] == code, payload
    return payload


def assert_validation(response: httpx.Response, field: str) -> dict[str, Any]:
    """A 400 ``VALIDATION_ERROR`` whose ``details.field`` names ``field``."""
    payload = assert_error(response, 400, "VALIDATION_ERROR")
    assert payload.get("details", {}).get("field") == field, payload
    return payload


async def unthrottle(tenant: Tenant) -> None:
    """Concurrency tests send hundreds of requests at once: lift the tenant's rate limit."""
    r = await tenant.client.patch(f"/tenants/{tenant.id}", headers=ADMIN, json={
        "rate_limit_burst": 100_000, "rate_limit_per_second": 100_000})
    assert r.status_code == 200, r.text


async def create_player(tenant: Tenant, username: str, mode: str = "test",
                        **fields: Any) -> dict[str, Any]:
    payload = {"username": username, "email": f"{username}@example.com", **fields}
    r = await tenant.post("/v1/players", payload, mode=mode)
    assert r.status_code == 201, r.text
    player: dict[str, Any] = r.json()["player"]
    return player


async def adjust(tenant: Tenant, ref: str, amount: str | int, *, rail: str = "real",
                 asset: str = "USD", mode: str = "test", key: str | None = None,
                 reason: str = "manual correction") -> httpx.Response:
    """POST an adjustment; ``amount`` is put into the JSON text verbatim (exact decimals)."""
    headers = {**tenant.headers(mode), "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    raw = (f'{{"rail": {json.dumps(rail)}, "asset": {json.dumps(asset)}, '
           f'"amount": {amount}, "reason": {json.dumps(reason)}}}')
    return await tenant.client.post(f"/v1/players/{ref}/adjustments", content=raw,
                                    headers=headers)


async def balances(tenant: Tenant, ref: str, mode: str = "test") -> dict[str, Any]:
    r = await tenant.get(f"/v1/players/{ref}", mode=mode)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = body(r)["player"]["balances"]
    return result


async def create_key(client: httpx.AsyncClient, tenant: Tenant, scopes: list[str],
                     mode: str = "test", brand: str = "main",
                     name: str = "scoped key") -> dict[str, Any]:
    """A new API key of ``tenant`` (``{"id", "key", ...}``) through the admin API."""
    r = await client.post(f"/tenants/{tenant.id}/api-keys", headers=ADMIN,
                          json={"brand": brand, "mode": mode, "scopes": scopes, "name": name})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()["api_key"]
    return created


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def count_rows(engine: Any, table: str, tenant_id: str, mode: str | None = None,
                     where: str = "", **params: Any) -> int:
    """How many rows of ``table`` belong to the tenant (and mode), optionally filtered."""
    clauses = ["tenant_id = CAST(:tenant_id AS uuid)"]
    if mode is not None:
        clauses.append("mode = :mode")
        params["mode"] = mode
    if where:
        clauses.append(where)
    async with engine.connect() as conn:
        value = await conn.scalar(
            text(f"SELECT count(*) FROM {table} WHERE {' AND '.join(clauses)}"),
            {"tenant_id": tenant_id, **params},
        )
    return int(value or 0)


async def outbox(engine: Any, tenant_id: str, mode: str, type_: str) -> list[dict[str, Any]]:
    """The outbox events of one type in a realm, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT data FROM outbox_events WHERE tenant_id = CAST(:t AS uuid) "
                 "AND mode = :m AND type = :type ORDER BY seq"),
            {"t": tenant_id, "m": mode, "type": type_},
        )
        return [r.data for r in rows]
