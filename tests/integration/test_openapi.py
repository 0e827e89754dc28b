from __future__ import annotations

from typing import Any

import httpx

from wowsino.kernel.http import api_routes


async def test_openapi_document_is_served_and_lists_every_route(
    client: httpx.AsyncClient, app: Any
) -> None:
    r = await client.get("/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    routes = api_routes(app)
    assert len(routes) > 20
    for path, methods, route in routes:
        if route.include_in_schema:
            for method in methods:
                assert method.lower() in doc["paths"][path], (method, path)


async def test_every_v1_operation_declares_the_error_envelope(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/v1/openapi.json")).json()
    for path, item in doc["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method, op in item.items():
            for status in ("400", "401", "404", "429"):
                ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (method, path, status)
            if method in ("post", "patch", "put", "delete"):
                assert "422" in op["responses"], (method, path)
    envelope = doc["components"]["schemas"]["ErrorBody"]
    assert set(envelope["required"]) == {"error", "code"}


async def test_interactive_docs_are_served(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    assert "/v1/openapi.json" in r.text
