from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import ADMIN, Tenant
from tests.integration.crm_support import segment
from tests.integration.support import assert_error, create_player
from tests.integration.test_scopes import PUBLIC, SESSION, SIGNED, WHITE_LABEL_SCOPE
from tests.integration.tournament_support import make_tournament
from tests.integration.wl_support import make_white_label, player_session
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


# --- the document tells the truth --------------------------------------------------------

WRITES = ("post", "patch", "put", "delete")
# Writes that take no body at all: everything they need is in the path (and, for the
# idempotent ones, the Idempotency-Key header).
BODYLESS_WRITES = {
    ("delete", "/v1/webhooks/{webhook_id}"),
    ("delete", "/v1/segments/{segment_id}"),
    ("post", "/tenants/{tenant}/api-keys/{key_id}/revoke"),
}
# A login is never replayed from a stored answer: that answer is a new session token,
# which is kept nowhere but in the player's hands; nor is a game launch (a new game session
# token each time, docs/games.md). A PSP's callback is the PSP's own body, deduped on the
# PSP's transaction id (docs/psp.md); a KYC vendor's webhook too, on the vendor's id of
# its decision (docs/kyc.md); an aggregator's call too, on the aggregator's transaction id.
NOT_IDEMPOTENT = {("post", "/v1/auth/login"), ("post", "/v1/psp/{adapter}/callback"),
                  ("post", "/v1/kyc/{adapter}/callback"),
                  ("post", "/v1/games/{game_id}/launch"),
                  *((method.lower(), path) for method, path in SIGNED
                    if path.startswith("/v1/aggregator/"))}


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/v1/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items()
            for method, op in item.items()]


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _allows_null(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", []) + schema.get("oneOf", [])
    return schema.get("type") == "null" or any(o.get("type") == "null" for o in options)


async def test_every_list_declares_the_limit_range_and_enforces_it(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    doc = await _document(client)
    # the player's own lists take a player session
    session = await player_session(await make_white_label(client), "alice")

    def headers(path: str) -> dict[str, str]:
        if path.startswith("/v1/player/"):
            return session
        return wl.headers() if path in white_label else tenant.headers()

    lists = [(path, op) for path, method, op in _operations(doc)
             if method == "get" and any(p["name"] == "cursor" for p in op.get("parameters", []))]
    assert len(lists) >= 10
    for path, op in lists:
        (limit,) = [p for p in op["parameters"] if p["name"] == "limit"]
        assert limit["in"] == "query" and not limit.get("required"), (path, limit)
        schema = limit["schema"]
        assert schema.get("type") == "integer", (path, schema)
        assert (schema.get("minimum"), schema.get("maximum")) == (1, 500), (path, schema)
    # and the server answers what the document says, on every list without a path id, with
    # the credential it takes: a plug-in key, a white-label operator's key, or a white-label
    # player's session for the player's own lists
    wl = await make_white_label(client, "limits-wl")
    white_label = {path for method, path in WHITE_LABEL_SCOPE if method == "GET"}
    for path, _ in lists:
        if "{" in path:
            continue
        for bad in (0, 501):
            r = await client.get(path, params={"limit": bad}, headers=headers(path))
            assert r.status_code == 400 and r.json()["details"]["field"] == "limit", (path, r.text)
        for good in (1, 500):
            r = await client.get(path, params={"limit": good}, headers=headers(path))
            assert r.status_code == 200, (path, r.text)


async def test_no_optional_query_parameter_or_body_is_documented_as_null(
    client: httpx.AsyncClient,
) -> None:
    doc = await _document(client)
    for path, method, op in _operations(doc):
        for param in op.get("parameters", []):
            assert not _allows_null(param["schema"]), (method, path, param)
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert not _allows_null(body["schema"]), (method, path, body)


async def test_every_write_documents_a_json_object_body_or_takes_none(
    client: httpx.AsyncClient,
) -> None:
    doc = await _document(client)
    for path, method, op in _operations(doc):
        if method not in WRITES:
            continue
        if (method, path) in BODYLESS_WRITES:
            assert "requestBody" not in op, (method, path)
            continue
        assert "requestBody" in op, f"{method} {path} reads a body the document does not show"
        content = op["requestBody"]["content"]
        assert list(content) == ["application/json"], (method, path, content)
        schema = _resolve(doc, content["application/json"]["schema"])
        assert schema.get("type") == "object", (method, path, schema)
        if path.startswith("/v1/") and (method, path) not in NOT_IDEMPOTENT:
            assert "idempotency_key" in schema.get("properties", {}), (method, path)


async def test_pause_and_resume_take_an_optional_json_object(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    doc = await _document(client)
    for path, _, op in _operations(doc):
        if path.endswith(("/pause", "/resume")):
            assert op["requestBody"].get("required") is not True, path
            schema = _resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
            assert schema["type"] == "object" and schema["additionalProperties"] is False, path
    made = await tenant.post("/v1/lootbox", {"name": "Box", "prize_table": [
        {"segment_label": "x", "weight": 1, "asset": "WINZ", "amount": 1}]})
    box = made.json()["lootbox"]["id"]
    assert (await tenant.post(f"/v1/lootbox/{box}/pause")).status_code == 200
    r = await tenant.post(f"/v1/lootbox/{box}/resume", {"idempotency_key": "resume-1"})
    assert r.status_code == 200 and r.json()["lootbox"]["status"] == "active"
    r = await tenant.post(f"/v1/lootbox/{box}/pause", {"unknown": 1})
    assert r.status_code == 400 and r.json()["details"]["field"] == "unknown"


async def test_webhook_ping_and_redeliver_honour_a_body_idempotency_key(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    hook = (await tenant.post("/v1/webhooks", {"url": "https://hooks.example.com/h",
                                               "events": ["*"]})).json()["webhook"]["id"]
    first = await tenant.post(f"/v1/webhooks/{hook}/ping", {"idempotency_key": "ping-1"})
    again = await tenant.post(f"/v1/webhooks/{hook}/ping", {"idempotency_key": "ping-1"})
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["deduped"] is True
    assert again.json()["delivery"]["id"] == first.json()["delivery"]["id"]
    delivery = first.json()["delivery"]["id"]
    r = await tenant.post(f"/v1/webhook-deliveries/{delivery}/redeliver",
                          {"idempotency_key": "again-1"})
    assert r.status_code == 200 and r.json()["deduped"] is False
    r = await tenant.post(f"/v1/webhook-deliveries/{delivery}/redeliver",
                          {"idempotency_key": "again-1"})
    assert r.status_code == 200 and r.json()["deduped"] is True


async def test_the_slug_pattern_is_documented_as_the_server_checks_it(
    client: httpx.AsyncClient,
) -> None:
    doc = await _document(client)
    schemas = doc["components"]["schemas"]
    pattern = schemas["TenantIn"]["properties"]["slug"]["pattern"]
    assert schemas["BrandIn"]["properties"]["slug"]["pattern"] == pattern
    for slug in ["a", "acme-2", "x" * 64, "-acme", "acme-", "Acme", "a_b", "é"]:
        documented = re.fullmatch(pattern, slug) is not None
        r = await client.post("/tenants", headers=ADMIN, json={
            "slug": slug, "name": "T", "service_mode": "plug_in",
            "brand": {"slug": "main", "name": "Main"}})
        assert (r.status_code == 201) is documented, (slug, r.text)
        if not documented:
            assert r.json()["details"]["field"] == "slug", r.text


async def test_the_scope_names_are_documented_as_the_server_accepts_them(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    doc = await _document(client)
    scopes = doc["components"]["schemas"]["KeyIn"]["properties"]["scopes"]
    names = scopes["items"]["enum"]
    assert {"*", "players:read", "players:write", "webhooks:manage", "usage:read"} <= set(names)
    for name in names:
        r = await client.post(f"/tenants/{tenant.id}/api-keys", headers=ADMIN,
                              json={"brand": "main", "mode": "test", "scopes": [name]})
        assert r.status_code == 201, (name, r.text)
    r = await client.post(f"/tenants/{tenant.id}/api-keys", headers=ADMIN,
                          json={"brand": "main", "mode": "test", "scopes": ["players:delete"]})
    assert r.status_code == 400 and r.json()["details"]["field"] == "scopes"
    assert scopes.get("minItems") == 1
    r = await client.post(f"/tenants/{tenant.id}/api-keys", headers=ADMIN,
                          json={"brand": "main", "mode": "test", "scopes": []})
    assert r.status_code == 400


async def test_metrics_are_documented_and_served_as_text(client: httpx.AsyncClient) -> None:
    doc = await _document(client)
    content = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"]
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    ready = doc["paths"]["/readyz"]["get"]["responses"]
    assert "503" in ready and ready["503"]["content"]["application/json"]["schema"][
        "$ref"].endswith("/ErrorBody")


async def test_every_idempotent_create_documents_its_replay(client: httpx.AsyncClient) -> None:
    doc = await _document(client)
    for path, method, op in _operations(doc):
        responses = op["responses"]
        for status, declared in responses.items():
            assert declared.get("content"), (method, path, status)
        if path.startswith("/v1/") and method == "post" and "201" in responses:
            # a create that is never replayed (a login, a launch) shows no replay
            assert ("200" in responses) != ((method, path) in NOT_IDEMPOTENT), (method, path)
        if "requestBody" in op:
            assert {"413", "415"} <= responses.keys(), (method, path)


async def test_credentials_are_documented(client: httpx.AsyncClient) -> None:
    doc = await _document(client)
    assert set(doc["components"]["securitySchemes"]) == {
        "apiKey", "adminToken", "publishableKey", "playerSession", "pspSignature",
        "aggregatorSignature", "kycSignature"}
    for path, method, op in _operations(doc):
        route = (method.upper(), path)
        if route in SESSION:
            assert op["security"] == [{"playerSession": []}], (method, path)
        elif route in PUBLIC:
            assert op["security"] == [{"apiKey": []}, {"publishableKey": []}], (method, path)
        elif route in SIGNED and path.startswith("/v1/aggregator/"):
            assert op["security"] == [{"aggregatorSignature": []}], (method, path)
        elif route in SIGNED and path.startswith("/v1/kyc/"):
            assert op["security"] == [{"kycSignature": []}], (method, path)
        elif route in SIGNED:
            assert op["security"] == [{"pspSignature": []}], (method, path)
        elif path.startswith("/v1/"):
            assert op["security"] == [{"apiKey": []}], (method, path)
        elif path.startswith("/tenants"):
            assert op["security"] == [{"adminToken": []}], (method, path)
        else:
            assert "security" not in op and "401" not in op["responses"], (method, path)


async def test_405_names_every_allowed_method_on_every_path(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    doc = await _document(client)
    for path, item in doc["paths"].items():
        allowed = sorted(m.upper() for m in item)
        concrete = re.sub(r"{\w+}", "x1", path)
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - set(allowed)):
            r = await client.request(method, concrete, headers=tenant.headers())
            payload = assert_error(r, 405, "METHOD_NOT_ALLOWED")
            assert sorted(r.headers["allow"].split(", ")) == allowed, (method, path, r.headers)
            assert payload["details"]["allowed"] == allowed


async def test_a_date_time_query_is_iso_8601_with_an_offset_as_documented(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    doc = await _document(client)
    (since,) = [p for p in doc["paths"]["/v1/audit"]["get"]["parameters"] if p["name"] == "since"]
    assert since["schema"]["format"] == "date-time"
    for bad in ("0.5", "1700000000", "2026-01-01", "2026-01-01T00:00:00"):
        r = await tenant.get("/v1/audit", params={"since": bad})
        assert r.status_code == 400 and r.json()["details"]["field"] == "since", (bad, r.text)
    assert (await tenant.get("/v1/audit", params={"since": "2026-01-01T00:00:00Z"})).status_code == 200


async def test_a_null_is_refused_exactly_where_the_document_denies_it(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    doc = await _document(client)
    prizes = [{"segment_label": "x", "weight": 1, "asset": "WINZ", "amount": 1}]
    made = {
        "lootbox_id": (await tenant.post("/v1/lootbox", {"name": "b", "prize_table": prizes}))
        .json()["lootbox"]["id"],
        "mini_game_id": (await tenant.post("/v1/mini-games", {
            "name": "m", "kind": "wheel", "prize_table": prizes})).json()["mini_game"]["id"],
        "raffle_id": (await tenant.post("/v1/raffles", {
            "name": "r", "ticket_cost_winz": 1, "prize_winz": 5})).json()["raffle"]["id"],
        "jackpot_id": (await tenant.post("/v1/jackpots", {
            "name": "j", "currency": "USD", "seed_usd": 5})).json()["jackpot"]["id"],
        "webhook_id": (await tenant.post("/v1/webhooks", {
            "url": "https://hooks.example.com/h", "events": ["*"]})).json()["webhook"]["id"],
        "template_id": (await tenant.post("/v1/bonus-templates", {
            "name": "t", "type": "no_deposit", "currency": "USD", "amount": "5.00",
            "wagering_multiple": 10})).json()["template"]["id"],
        "journey_id": (await tenant.post("/v1/journeys", {
            "name": "j", "entry_trigger": "signup", "steps": [{"trigger": "wager"}]}))
        .json()["journey"]["id"],
        "tournament_id": (await tenant.post("/v1/tournaments", {
            "name": "t", "scoring": "sum_wagered", "starts_at": "2026-02-01T00:00:00Z",
            "ends_at": "2026-02-02T00:00:00Z", "prize_table": [
                {"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 1}}]}))
        .json()["tournament"]["id"],
        "tenant": tenant.id,
    }
    made["segment_id"] = (await tenant.post("/v1/segments", {
        "name": "s", "expression": "xp > 1"})).json()["segment"]["id"]
    made["campaign_id"] = (await tenant.post("/v1/campaigns", {
        "name": "c", "segment_id": made["segment_id"],
        "action": {"type": "grant_winz", "amount": 5}})).json()["campaign"]["id"]
    session = await player_session(await make_white_label(client, "null-wl"), "alice")
    checked = 0
    for path, item in doc["paths"].items():
        op = item.get("patch")
        if op is None or "{key}" in path:
            continue
        concrete = re.sub(r"{(\w+)}", lambda m: made[m.group(1)], path)
        headers = (ADMIN if path.startswith("/tenants")
                   else session if path.startswith("/v1/player/")
                   else tenant.headers())
        schema = _resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
        for field, prop in schema["properties"].items():
            if field == "idempotency_key":
                continue
            r = await client.patch(concrete, headers=headers, json={field: None})
            if _allows_null(prop) and r.status_code == 400:
                # a bonus template's money fields are optional in general and required by
                # some types: null is then refused for that type, naming the field
                assert path == "/v1/bonus-templates/{template_id}", (path, field, r.text)
                assert r.json()["details"]["field"] == field, (path, field, r.text)
                assert "required for a" in r.json()["error"], (path, field, r.text)
            elif _allows_null(prop):
                assert r.status_code == 200, (path, field, r.text)
            else:
                assert r.status_code == 400, (path, field, r.text)
                assert r.json()["details"]["field"] == field, (path, field, r.text)
            checked += 1
    assert checked >= 20


async def test_an_integer_field_refuses_a_boolean_as_documented(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    for field in ("rate_limit_burst", "rate_limit_per_second"):
        r = await client.patch(f"/tenants/{tenant.id}", headers=ADMIN, json={field: True})
        assert r.status_code == 400 and r.json()["details"]["field"] == field, r.text


async def test_the_document_declares_read_routing_on_exactly_the_routed_reads(
    client: httpx.AsyncClient, clock: Any,
) -> None:
    """Each GET the document says may come from a replica answers with X-Read-Source
    (``primary`` here: no replica is configured) and refuses a bad X-Read-Consistency;
    reads it does not declare answer without the header."""
    tenant = await make_white_label(client, "acme")  # every route answers it
    await create_player(tenant, "bob", currency="USD")
    player = await player_session(tenant, "carol")  # the player API's routes
    made = await segment(tenant, "min_vip_level = 0")
    tournament = await make_tournament(tenant, clock)
    r = await tenant.post("/v1/raffles", {"name": "Weekly", "ticket_cost_winz": 10,
                                          "prize_winz": 700})
    assert r.status_code == 201, r.text
    values = {"key": "bob", "rail": "real", "asset": "USD", "segment_id": made["id"],
              "tournament_id": tournament["id"], "raffle_id": r.json()["raffle"]["id"]}
    doc = (await tenant.client.get("/v1/openapi.json")).json()
    routed = [path for path, item in doc["paths"].items() if "get" in item and any(
        p.get("name") == "X-Read-Consistency" for p in item["get"].get("parameters", []))]
    assert len(routed) == 30, routed
    for template in routed:
        path = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), template)
        caller = player if path.startswith("/v1/player/") else tenant.headers()
        r = await tenant.client.get(path, headers=caller)
        assert r.status_code == 200 and r.headers.get("x-read-source") == "primary", (path, r)
        assert "X-Read-Source" in doc["paths"][template]["get"]["responses"]["200"]["headers"]
        r = await tenant.client.get(path, headers={**caller, "X-Read-Consistency": "eventual"})
        assert r.status_code == 400 and r.json()["code"] == "VALIDATION_ERROR", (path, r.text)
    for path in ("/v1/player/profile", "/v1/player/balances", "/v1/player/limits"):
        r = await tenant.client.get(path, headers=player)  # the player's own state: primary
        assert r.status_code == 200 and "x-read-source" not in r.headers, path
    for path in ("/v1/me", "/v1/audit", "/v1/webhooks", f"/v1/raffles/{made['id']}"):
        r = await tenant.get(path)
        assert "x-read-source" not in r.headers, path
