"""Values echoed into response headers: idempotency keys are validated before any
effect, a request id that cannot be echoed is replaced, and a crash still answers
with a request id on a connection that stays usable. Tested over ASGI with arbitrary
bytes, and through a real uvicorn server with the bytes written on the socket."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Tenant
from tests.integration.support import (
    assert_error,
    assert_validation,
    balances,
    count_rows,
    create_player,
)
from tests.support.live_server import http_request, raw_connection, serving

GENERATED = re.compile(r"^req_[0-9a-f]{32}$")

# Keys that cannot travel in a response header (or exceed the length), each refused
# with 400 before the write happens.
BAD_KEYS = ["ключ-1", "clé", "tab\there", "new\nline", "nul\x00", "del\x7f", "has space",
            "\u00a0", "k" * 256, ""]


async def credit(tenant: Tenant, *, body_key: Any = None, header_key: bytes | None = None,
                 amount: str = "5.00") -> httpx.Response:
    payload: dict[str, Any] = {"rail": "real", "asset": "USD", "amount": amount,
                               "reason": "goodwill"}
    if body_key is not None:
        payload["idempotency_key"] = body_key
    headers: list[tuple[bytes, bytes]] = [
        (b"authorization", f"Bearer {tenant.test_key}".encode()),
        (b"content-type", b"application/json"),
    ]
    if header_key is not None:
        headers.append((b"idempotency-key", header_key))
    return await tenant.client.post("/v1/players/alice/adjustments", headers=headers,
                                    content=json.dumps(payload).encode())


async def test_an_idempotency_key_that_cannot_be_a_header_is_400_and_moves_no_money(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    for key in BAD_KEYS:
        r = await credit(tenant, body_key=key)
        payload = assert_validation(r, "idempotency_key")
        assert "visible ASCII" in payload["error"], payload
    raw_header_keys = [b"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", b"\xff\xfe", b"a\x01b", b"a b",
                       b"a\tb", b"k" * 256]
    for raw in raw_header_keys:
        assert_validation(await credit(tenant, header_key=raw), "idempotency_key")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0
    assert await count_rows(engine, "idempotency_keys", tenant.id,
                            where="endpoint LIKE '%adjustments'") == 0
    assert (await balances(tenant, "alice"))["real"]["USD"] == 0


async def test_every_visible_ascii_character_makes_a_key_and_is_echoed(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    every = "".join(chr(c) for c in range(0x21, 0x7F))
    for key in (every, "k" * 255, "x"):
        r = await credit(tenant, body_key=key)
        assert r.status_code == 201, r.text
        assert r.headers["idempotency-key"] == key
        replay = await credit(tenant, header_key=key.encode())
        assert replay.status_code == 200, replay.text
        assert replay.json()["deduped"] is True
    assert await count_rows(engine, "ledger_entries", tenant.id) == 3


async def test_a_request_id_that_cannot_be_echoed_is_replaced(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    bad = [b"\xff\xfe", "ключ".encode(), b"a\x00b", b"a\x01b", b"line\r\nInjected: 1",
           b"a\x7fb", b"has space", b"tab\there", b"r" * 129, b""]
    for raw in bad:
        for path in ("/v1/me", "/healthz", "/v1/nope"):
            r = await client.get(path, headers=[
                (b"authorization", f"Bearer {tenant.test_key}".encode()),
                (b"x-request-id", raw)])
            assert r.status_code in (200, 404), (raw, r.text)
            assert GENERATED.match(r.headers["x-request-id"]), (raw, r.headers)
            assert "injected" not in r.headers
    kept = "trace-" + "9" * 122
    r = await client.get("/v1/me", headers={**tenant.headers(), "X-Request-Id": kept})
    assert r.headers["x-request-id"] == kept


async def test_an_internal_error_carries_a_request_id(
    client: httpx.AsyncClient, app: Any,
) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/v1/boom", boom, methods=["GET"])
    r = await client.get("/v1/boom", headers={"X-Request-Id": "trace-500"})
    assert_error(r, 500, "INTERNAL")
    assert r.headers["x-request-id"] == "trace-500"
    generated = await client.get("/v1/boom")
    assert GENERATED.match(generated.headers["x-request-id"])


# What reaches the app through each HTTP parser: httptools refuses control characters
# in header values itself (uvicorn answers 400), h11 passes them on.
THROUGH_PARSER = {
    "httptools": [b"\xff\xfe", "ключ".encode(), b"tab\there", b"r" * 500],
    "h11": [b"\xff\xfe", "ключ".encode(), b"tab\there", b"a\x01b", b"a\x7fb", b"r" * 500],
}


@pytest.mark.parametrize("http", ["httptools", "h11"])
async def test_raw_header_bytes_through_a_real_server(
    app: Any, tenant: Tenant, http: str,
) -> None:
    await create_player(tenant, "alice")
    auth = (b"authorization", f"Bearer {tenant.test_key}".encode())
    async with serving(app, http=http) as port, raw_connection(port) as conn:
        for raw in THROUGH_PARSER[http]:
            r = await conn.request(http_request("GET", "/v1/me", headers=[
                auth, (b"x-request-id", raw)]))
            assert r.status == 200, (raw, r.body)
            assert GENERATED.match(r.headers["x-request-id"]), (raw, r.headers)
        for raw in THROUGH_PARSER[http]:  # the same bytes as an idempotency key
            body = b'{"rail": "real", "asset": "USD", "amount": 1, "reason": "r"}'
            r = await conn.request(http_request(
                "POST", "/v1/players/alice/adjustments", body=body,
                headers=[auth, (b"content-type", b"application/json"),
                         (b"idempotency-key", raw)]))
            assert r.status == 400, (raw, r.body)
            assert r.json()["details"]["field"] == "idempotency_key"
        body = json.dumps({"rail": "real", "asset": "USD", "amount": 1, "reason": "r",
                           "idempotency_key": "ключ-1"}, ensure_ascii=False).encode()
        r = await conn.request(http_request(
            "POST", "/v1/players/alice/adjustments", body=body,
            headers=[auth, (b"content-type", b"application/json")]))
        assert r.status == 400, r.body
        assert r.json()["details"]["field"] == "idempotency_key"
        assert r.headers["x-request-id"]
        if http == "httptools":  # the parser's own refusal still answers
            async with raw_connection(port) as other:
                refused = await other.request(http_request("GET", "/v1/me", headers=[
                    auth, (b"x-request-id", b"a\x01b")]))
                assert refused.status == 400
    assert (await balances(tenant, "alice"))["real"]["USD"] == 0


@pytest.mark.parametrize("http", ["httptools", "h11"])
async def test_a_500_keeps_the_connection_usable(app: Any, http: str) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/v1/boom", boom, methods=["GET"])
    async with serving(app, http=http) as port, raw_connection(port) as conn:
        failed = await conn.request(http_request("GET", "/v1/boom", headers=[
            (b"x-request-id", b"trace-1")]))
        assert failed.status == 500
        assert failed.json()["code"] == "INTERNAL"
        assert failed.headers["x-request-id"] == "trace-1"
        after = await conn.request(http_request("GET", "/healthz"))
        assert after.status == 200
        assert after.json()["status"] == "ok"


async def test_a_console_redirect_target_never_breaks_the_location_header(
    client: httpx.AsyncClient,
) -> None:
    for target in ("/admin/tenants\r\nSet-Cookie: x=1", "/admin/ключ", "/admin/\x00\x7f"):
        r = await client.post("/admin/sign-in", data={"token": ADMIN_TOKEN, "next": target})
        assert r.status_code == 303, r.text
        location = r.headers["location"]
        assert location.isascii() and location.isprintable(), location
        assert "set-cookie: x" not in str(r.headers).lower()
