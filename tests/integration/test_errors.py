"""The error envelope: every failure is ``{"error": str, "code": UPPER_SNAKE}``."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from tests.conftest import ADMIN, Tenant
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    bearer,
    create_key,
    create_player,
)
from wowsino.kernel.auth import authenticate
from wowsino.kernel.writes import idempotent


def assert_json_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/json"), r.headers
    return assert_error(r, status, code)


async def test_every_error_status_uses_the_envelope(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    await create_player(tenant, "alice")
    reader = bearer((await create_key(client, tenant, ["players:read"]))["key"])
    await adjust(tenant, "alice", "1.00", key="first")

    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/v1/boom", boom, methods=["GET"])

    cases: list[tuple[int, str, httpx.Response]] = [
        (400, "VALIDATION_ERROR", await tenant.post("/v1/players", {})),
        (401, "AUTH_REQUIRED", await client.get("/v1/me")),
        (401, "AUTH_INVALID", await client.get("/v1/me", headers=bearer("wsk_live_" + "a" * 48))),
        (402, "INSUFFICIENT_FUNDS", await adjust(tenant, "alice", "-5.00")),
        (403, "SCOPE_DENIED", await client.post("/v1/players", headers=reader,
                                                json={"username": "bob",
                                                      "email": "bob@example.com"})),
        (404, "NO_PLAYER", await tenant.get("/v1/players/ghost", mode="live")),
        (404, "NOT_FOUND", await client.get("/v1/no-such-thing")),
        (405, "METHOD_NOT_ALLOWED", await client.delete("/v1/players")),
        (409, "SLUG_TAKEN", await client.post("/tenants", headers=ADMIN, json={
            "slug": "acme", "name": "Acme", "service_mode": "plug_in",
            "brand": {"slug": "main", "name": "Main"}})),
        (422, "IDEMPOTENCY_KEY_REUSED", await adjust(tenant, "alice", "2.00", key="first",
                                                     mode="test")),
        (500, "INTERNAL", await client.get("/v1/boom")),
    ]
    await client.patch(f"/tenants/{tenant.id}", headers=ADMIN,
                       json={"rate_limit_burst": 1, "rate_limit_per_second": 1})
    await tenant.get("/v1/me")  # spends the only token
    cases.append((429, "RATE_LIMIT", await tenant.get("/v1/me")))
    for status, code, r in cases:
        assert r.status_code == status, (status, code, r.text)
        assert_json_error(r, status, code)


async def test_internal_error_is_500_internal_and_leaks_nothing(
    client: httpx.AsyncClient, app: Any,
) -> None:
    async def boom() -> None:
        raise RuntimeError("connection to db-primary.internal:5432 failed: password=hunter2")

    app.add_api_route("/v1/boom", boom, methods=["GET", "POST"])
    for r in (await client.get("/v1/boom"), await client.post("/v1/boom", json={"a": 1})):
        payload = assert_json_error(r, 500, "INTERNAL")
        assert set(payload) == {"error", "code"}
        for secret in ("Traceback", "RuntimeError", "hunter2", "db-primary", "File \""):
            assert secret not in r.text


async def test_write_that_crashes_is_safe_to_retry_with_the_same_key(
    client: httpx.AsyncClient, tenant: Tenant, app: Any,
) -> None:
    attempts: list[int] = []

    async def flaky(request: Request) -> Any:
        principal = await authenticate(request)

        async def effect(conn: Any) -> tuple[int, dict[str, Any]]:
            attempts.append(1)
            if len(attempts) == 1:
                raise RuntimeError("transient failure")
            return 201, {"attempt": len(attempts)}

        return await idempotent(request, principal, payload={}, effect=effect)

    app.add_api_route("/v1/flaky", flaky, methods=["POST"])
    headers = {**tenant.headers(), "Idempotency-Key": "retry-me"}
    assert_json_error(await client.post("/v1/flaky", headers=headers, json={}), 500, "INTERNAL")
    retried = await client.post("/v1/flaky", headers=headers, json={})
    assert retried.status_code == 201, retried.text
    assert retried.json() == {"attempt": 2, "deduped": False}
    replay = await client.post("/v1/flaky", headers=headers, json={})
    assert replay.json() == {"attempt": 2, "deduped": True}
    assert len(attempts) == 2


async def test_framework_validation_is_400_validation_error_never_422_detail(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    responses = {
        "email": await tenant.post("/v1/players", {"username": "bob"}),
        "limit": await tenant.get("/v1/players", params={"limit": "many"}),
        "status": await tenant.patch("/v1/players/alice/status", {"status": 7, "reason": "x"}),
        "since": await tenant.get("/v1/audit", params={"since": "last tuesday"}),
        "key_id": await client.post(f"/tenants/{tenant.id}/api-keys/not-a-uuid/revoke",
                                    headers=ADMIN),
        "surprise": await tenant.post("/v1/players", {"username": "bob",
                                                      "email": "bob@example.com",
                                                      "surprise": 1}),
    }
    for field, r in responses.items():
        assert r.status_code == 400, (field, r.text)
        payload = assert_validation(r, field)
        assert isinstance(payload["details"]["errors"], list)
        assert payload["details"]["errors"][0]["field"] == field
        assert field in payload["error"]


async def test_malformed_json_is_400(tenant: Tenant) -> None:
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    for raw in (b'{"username": "bob", ', b"{'username': 'bob'}", b"", b"\xff\xfe",
                b'{"username": "bob", "email": "bob@example.com"} trailing'):
        r = await tenant.client.post("/v1/players", content=raw, headers=headers)
        assert r.status_code == 400, (raw, r.text)
        assert_json_error(r, 400, "VALIDATION_ERROR")
    r = await tenant.client.post("/v1/players", content=b"[1, 2]", headers=headers)
    assert_json_error(r, 400, "VALIDATION_ERROR")
    assert (await tenant.get("/v1/players")).json()["data"] == []


async def test_non_finite_amounts_are_400(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    for literal in ("NaN", "Infinity", "-Infinity", '"NaN"', '"Infinity"', '"sNaN"'):
        r = await adjust(tenant, "alice", literal)
        assert r.status_code == 400, (literal, r.text)
        assert_json_error(r, 400, "VALIDATION_ERROR")
    ledger = await tenant.get("/v1/players/alice/ledger")
    assert ledger.json()["data"] == []


async def test_unknown_routes_are_404_not_found(client: httpx.AsyncClient,
                                                tenant: Tenant) -> None:
    for r in (await client.get("/v1/nope"), await client.get("/nope"),
              await tenant.get("/v1/players/alice/nope"),
              await client.post("/v1/nope", json={})):
        payload = assert_json_error(r, 404, "NOT_FOUND")
        assert "nope" in payload["error"]


async def test_wrong_method_is_405(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for r in (await tenant.client.put("/v1/players", headers=tenant.headers(), json={}),
              await tenant.client.delete("/v1/me", headers=tenant.headers())):
        assert_json_error(r, 405, "METHOD_NOT_ALLOWED")


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient,
                                                   tenant: Tenant) -> None:
    ok = await tenant.get("/v1/me")
    failed = await client.get("/v1/me")
    assert ok.headers["x-request-id"]
    assert failed.headers["x-request-id"]
    assert ok.headers["x-request-id"] != failed.headers["x-request-id"]
    echoed = await client.get("/v1/me", headers={**tenant.headers(), "X-Request-ID": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"


async def test_text_with_a_nul_character_is_400_and_stores_nothing(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    nul = "a\x00b"
    responses = [
        await tenant.get("/v1/players", params={"query": nul}),
        await tenant.get("/v1/players", params={"tag": nul}),
        await tenant.get("/v1/audit", params={"actor": nul}),
        await tenant.post("/v1/players", {"username": "bob", "email": f"{nul}@example.com"}),
        await tenant.post("/v1/players", {"username": "bob", "email": "bob@example.com",
                                          "external_ref": nul}),
        await tenant.post("/v1/players", {"username": "bob", "email": "bob@example.com",
                                          "idempotency_key": nul}),
        await tenant.patch("/v1/players/alice/status", {"status": "suspended", "reason": nul}),
        await tenant.post("/v1/players/alice/adjustments",
                          {"rail": "real", "asset": "USD", "amount": 1, "reason": nul}),
    ]
    for r in responses:
        assert r.status_code == 400, (r.request.url, r.text)
        assert_json_error(r, 400, "VALIDATION_ERROR")
    assert_error(await tenant.get("/v1/players/bob"), 404, "NO_PLAYER")
    alice = (await tenant.get("/v1/players/alice")).json()["player"]
    assert alice["status"] == "active"
    assert alice["balances"]["real"]["USD"] == 0
