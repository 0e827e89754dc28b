"""Request bodies at the edge: the size limit (enforced while reading, before
authentication), the JSON content type, and bodies the parser cannot take, each
refused in the envelope and changing nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.conftest import ADMIN, ADMIN_TOKEN, Tenant
from tests.integration.support import assert_error, assert_validation, count_rows, create_player
from tests.support.live_server import raw_connection, serving
from wowsino.api import create_app
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.config import Settings

MIB = 1024 * 1024


class Chunks:
    """A streamed (chunked) request body that counts how much of it was pulled."""

    def __init__(self, total: int, size: int = 64 * 1024) -> None:
        self.total = total
        self.size = size
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"username": "' + b"a" * (self.size - 14)
        self.pulled += self.size
        while self.pulled < self.total:
            self.pulled += self.size
            yield b"a" * self.size


def test_the_default_limit_is_one_mebibyte_and_configurable(monkeypatch: Any) -> None:
    assert Settings().max_body_bytes == MIB
    monkeypatch.delenv("WOWSINO_MAX_BODY_BYTES", raising=False)
    assert Settings.from_env().max_body_bytes == MIB
    monkeypatch.setenv("WOWSINO_MAX_BODY_BYTES", "2048")
    assert Settings.from_env().max_body_bytes == 2048


async def test_a_declared_oversize_body_is_413_before_authentication(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    oversize = b"x" * (MIB + 1)
    for path, headers in (("/v1/players", {}),  # no key at all
                          ("/v1/players", {"Authorization": "Bearer wsk_test_" + "0" * 48}),
                          ("/v1/players", tenant.headers()),
                          ("/tenants", {}),
                          ("/admin/sign-in", {"Content-Type":
                                              "application/x-www-form-urlencoded"})):
        r = await client.post(path, content=oversize, headers=headers)
        payload = assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        assert payload["details"]["max_bytes"] == MIB
        assert r.headers["x-request-id"]
    assert (await tenant.get("/v1/players")).json()["data"] == []


async def test_a_streamed_oversize_body_is_refused_without_reading_it_all(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    for path, headers in (("/v1/players", {}), ("/v1/players", tenant.headers()),
                          ("/tenants", ADMIN),
                          ("/admin/sign-in",
                           {"Content-Type": "application/x-www-form-urlencoded"})):
        body = Chunks(total=150 * MIB)
        r = await client.post(path, content=body, headers=headers)
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        assert body.pulled <= MIB + 2 * body.size, (path, body.pulled)
    assert (await tenant.get("/v1/players")).json()["data"] == []


async def test_a_body_at_the_limit_is_read(tenant: Tenant) -> None:
    payload = json.dumps({"username": "bob", "email": "bob@example.com"}).encode()
    padded = payload[:-1] + b" " * (MIB - len(payload)) + b"}"
    assert len(padded) == MIB
    r = await tenant.client.post("/v1/players", content=padded, headers={
        **tenant.headers(), "Content-Type": "application/json"})
    assert r.status_code == 201, r.text[:300]


async def test_the_limit_follows_the_setting(db_url: str) -> None:
    app = create_app(Settings(admin_token=ADMIN_TOKEN, db_pool_size=2, max_body_bytes=100),
                     database_url=db_url, clock=ManualClock())
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert_error(await c.post("/tenants", headers=ADMIN, content=b"{" + b" " * 100),
                         413, "PAYLOAD_TOO_LARGE")
            small = await c.post("/tenants", headers=ADMIN, json={"slug": "x"})
            assert_error(small, 400, "VALIDATION_ERROR")
    finally:
        await app.state.platform.engine.dispose()


async def test_a_real_server_answers_413_early_and_closes(app: Any) -> None:
    async with serving(app) as port:
        async with raw_connection(port) as conn:  # announces 150 MB, sends a few bytes
            r = await conn.request(b"POST /v1/players HTTP/1.1\r\nHost: t\r\n"
                                   b"Content-Type: application/json\r\n"
                                   b"Content-Length: 157286400\r\n\r\n{\"username\"")
            assert r.status == 413
            assert r.json()["code"] == "PAYLOAD_TOO_LARGE"
            assert await conn.closed_by_server()
        async with raw_connection(port) as conn:  # streams chunks until refused
            conn.writer.write(b"POST /v1/players HTTP/1.1\r\nHost: t\r\n"
                              b"Content-Type: application/json\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"a" * 65536
            sent = 0
            answer = asyncio.ensure_future(conn.reader.readuntil(b"\r\n\r\n"))
            while not answer.done() and sent < 150 * MIB:
                conn.writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                try:
                    await conn.writer.drain()
                except ConnectionError:
                    break
                sent += len(chunk)
                await asyncio.sleep(0)
            head = await asyncio.wait_for(answer, 10)
            assert head.startswith(b"HTTP/1.1 413"), head
            # refused near the limit (what is in flight in socket buffers aside), long
            # before the 150 MB the client meant to send
            assert sent < 32 * MIB, sent


async def test_a_body_without_content_type_is_read_as_json(tenant: Tenant) -> None:
    raw = json.dumps({"username": "bob", "email": "bob@example.com"}).encode()
    r = await tenant.client.post("/v1/players", content=raw, headers=tenant.headers())
    assert "content-type" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 201, r.text


async def test_json_media_types_with_parameters_or_suffixes_are_accepted(tenant: Tenant) -> None:
    for n, media in enumerate(("application/json; charset=utf-8", "Application/JSON",
                               "application/vnd.wowsino+json", "application/merge-patch+json")):
        raw = json.dumps({"username": f"p{n}", "email": f"p{n}@example.com"}).encode()
        r = await tenant.client.post("/v1/players", content=raw,
                                     headers={**tenant.headers(), "Content-Type": media})
        assert r.status_code == 201, (media, r.text)


async def test_another_content_type_is_415_naming_json_and_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    raw = json.dumps({"username": "bob", "email": "bob@example.com"}).encode()
    adjustment = json.dumps({"rail": "real", "asset": "USD", "amount": 5,
                             "reason": "r"}).encode()
    for media in ("text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/xml", "text/json"):
        for path, content, headers in (
            ("/v1/players", raw, tenant.headers()),
            ("/v1/players/alice/adjustments", adjustment, tenant.headers()),
            ("/tenants", raw, ADMIN),
        ):
            r = await client.post(path, content=content,
                                  headers={**headers, "Content-Type": media})
            payload = assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
            assert "application/json" in payload["error"], payload
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0
    assert [p["username"] for p in (await tenant.get("/v1/players")).json()["data"]] == ["alice"]


async def test_console_forms_keep_their_content_type(client: httpx.AsyncClient) -> None:
    r = await client.post("/admin/sign-in", data={"token": ADMIN_TOKEN,
                                                 "next": "/admin/tenants"})
    assert r.status_code == 303, r.text
    refused = await client.post("/admin/sign-in", data={"token": "wrong"})
    assert refused.status_code == 401


async def test_bodies_the_parser_cannot_take_are_400_naming_the_body(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    segment = ('{"segment_label": "a", "weight": 1, "asset": "WINZ", "amount": 5, "x": '
               + "[" * 40 + "]" * 40 + "}")
    cases = {
        "/v1/players": ["[" * 1000 + "]" * 1000, "[" * 100_000 + "]" * 100_000,
                        '{"a":' * 5000 + "1" + "}" * 5000,
                        '{"username": "bob", "email": "bob@example.com", "external_ref": '
                        + "9" * 5000 + "}"],
        "/v1/players/alice/adjustments": [
            '{"rail": "real", "asset": "USD", "reason": "r", "amount": ' + "9" * 5000 + "}",
            '{"rail": "real", "asset": "USD", "reason": "r", "amount": -' + "9" * 5000 + "}",
        ],
        "/v1/lootbox": ['{"name": "deep", "prize_table": [' + segment + "]}"],
    }
    for path, bodies in cases.items():
        for raw in bodies:
            r = await tenant.client.post(path, content=raw.encode(), headers=headers)
            payload = assert_validation(r, "body")
            assert "malformed JSON" in payload["error"], payload
    wide = '{"rail": "real", "asset": "USD", "reason": "r", "amount": ' + "9" * 5000 + ".5}"
    r = await tenant.client.post("/v1/players/alice/adjustments", content=wide.encode(),
                                 headers=headers)
    assert_validation(r, "amount")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0
    assert await count_rows(engine, "lootboxes", tenant.id) == 0


async def test_a_null_body_is_refused_where_a_body_is_optional(tenant: Tenant) -> None:
    """The document offers an object or no body at all, never ``null``."""
    made = await tenant.post("/v1/lootbox", {"name": "Box", "prize_table": [
        {"segment_label": "x", "weight": 1, "asset": "WINZ", "amount": 1}]})
    box = made.json()["lootbox"]["id"]
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    r = await tenant.client.post(f"/v1/lootbox/{box}/pause", content=b"null", headers=headers)
    payload = assert_validation(r, "body")
    assert "null" in payload["error"], payload
    r = await tenant.get(f"/v1/lootbox/{box}")
    assert r.json()["lootbox"]["status"] == "active"
    assert (await tenant.post(f"/v1/lootbox/{box}/pause")).status_code == 200
