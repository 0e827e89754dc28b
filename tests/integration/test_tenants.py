"""``/tenants``: tenants, brands and API keys, administered with the platform admin token."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import ADMIN, Tenant, make_tenant
from tests.integration.support import (
    KEY,
    assert_error,
    assert_validation,
    bearer,
    create_key,
    create_player,
)

NEW_TENANT = {"slug": "initech", "name": "Initech", "service_mode": "white_label",
              "brand": {"slug": "initech-casino", "name": "Initech Casino"}}


async def tenant_slugs(client: httpx.AsyncClient) -> list[str]:
    r = await client.get("/tenants", headers=ADMIN)
    assert r.status_code == 200, r.text
    return [t["slug"] for t in r.json()["data"]]


async def test_create_tenant_returns_tenant_brand_and_one_key_per_mode(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/tenants", headers=ADMIN, json=NEW_TENANT)
    assert r.status_code == 201, r.text
    created = r.json()
    tenant, brand, keys = created["tenant"], created["brand"], created["keys"]
    assert {"id", "slug", "service_mode", "status"} <= tenant.keys()
    assert tenant["slug"] == "initech"
    assert tenant["service_mode"] == "white_label"
    assert tenant["status"] == "active"
    assert {"id", "slug"} <= brand.keys()
    assert brand["slug"] == "initech-casino"
    assert set(keys) == {"live", "test"}
    assert KEY.match(keys["live"])
    assert keys["live"].startswith("wsk_live_")
    assert KEY.match(keys["test"])
    assert keys["test"].startswith("wsk_test_")
    assert keys["live"] != keys["test"]

    for mode in ("live", "test"):
        me = await client.get("/v1/me", headers=bearer(keys[mode]))
        assert me.status_code == 200, me.text
        assert me.json() == {
            "tenant": {"slug": "initech", "service_mode": "white_label", "key_mode": mode,
                       "scopes": ["*"]},
            "brand": {"slug": "initech-casino"},
        }

    fetched = await client.get(f"/tenants/{tenant['id']}", headers=ADMIN)
    assert fetched.status_code == 200
    assert fetched.json()["tenant"]["slug"] == "initech"
    by_slug = await client.get("/tenants/initech", headers=ADMIN)
    assert by_slug.json()["tenant"]["id"] == tenant["id"]


async def test_taken_slug_is_409_and_leaves_the_first_tenant_alone(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    r = await client.post("/tenants", headers=ADMIN, json={**NEW_TENANT, "slug": "acme"})
    assert_error(r, 409)
    assert (await tenant_slugs(client)).count("acme") == 1
    assert (await tenant.get("/v1/me")).json()["tenant"]["slug"] == "acme"


INVALID_TENANTS: list[tuple[dict[str, Any], str]] = [
    ({"slug": "Acme"}, "slug"),
    ({"slug": "-acme"}, "slug"),
    ({"slug": "acme-"}, "slug"),
    ({"slug": "ac me"}, "slug"),
    ({"slug": ""}, "slug"),
    ({"slug": "a" * 65}, "slug"),
    ({"slug": 42}, "slug"),
    ({"service_mode": "franchise"}, "service_mode"),
    ({"brand": {"slug": "Main Brand", "name": "Main"}}, "brand.slug"),
    ({"brand": None}, "brand"),
    ({"name": ""}, "name"),
    ({"unexpected": True}, "unexpected"),
]


async def test_invalid_tenant_is_400_naming_the_field_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    for patch, field in INVALID_TENANTS:
        r = await client.post("/tenants", headers=ADMIN, json={**NEW_TENANT, **patch})
        assert r.status_code == 400, (patch, r.text)
        assert_validation(r, field)
    assert await tenant_slugs(client) == []


async def test_admin_routes_without_a_token_are_401_auth_required(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    assert_error(await client.post("/tenants", json=NEW_TENANT), 401, "AUTH_REQUIRED")
    assert_error(await client.get("/tenants"), 401, "AUTH_REQUIRED")
    assert_error(await client.patch(f"/tenants/{tenant.id}", json={"status": "suspended"}),
                 401, "AUTH_REQUIRED")
    assert_error(await client.get(f"/tenants/{tenant.id}/api-keys"), 401, "AUTH_REQUIRED")
    assert await tenant_slugs(client) == ["acme"]
    assert (await tenant.get("/v1/me")).status_code == 200


async def test_admin_routes_with_a_wrong_token_are_401_auth_invalid(
    client: httpx.AsyncClient,
) -> None:
    for authorization in ("Bearer not-the-admin-token", "Bearer test-admin-token-but-longer",
                          "Basic dGVzdC1hZG1pbi10b2tlbg==", "Bearer"):
        r = await client.post("/tenants", headers={"Authorization": authorization},
                              json=NEW_TENANT)
        assert r.status_code == 401, (authorization, r.text)
        assert_error(r, 401, "AUTH_INVALID")
    assert await tenant_slugs(client) == []


async def test_an_api_key_is_not_the_admin_credential(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    r = await client.post("/tenants", headers=tenant.headers("live"), json=NEW_TENANT)
    assert_error(r, 401, "AUTH_INVALID")
    r = await client.patch(f"/tenants/{tenant.id}", headers=tenant.headers("live"),
                           json={"status": "suspended"})
    assert_error(r, 401, "AUTH_INVALID")
    assert (await tenant.get("/v1/me")).status_code == 200


async def test_unknown_tenant_is_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/tenants/nobody", headers=ADMIN), 404, "NOT_FOUND")
    r = await client.patch("/tenants/00000000-0000-7000-8000-000000000000", headers=ADMIN,
                           json={"status": "suspended"})
    assert_error(r, 404, "NOT_FOUND")


async def test_added_brand_gets_its_own_players_and_keys(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    r = await client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                          json={"slug": "second", "name": "Second Casino"})
    assert r.status_code == 201, r.text
    brand = r.json()["brand"]
    assert brand["slug"] == "second"
    assert brand["name"] == "Second Casino"
    assert brand["id"]

    listed = await client.get(f"/tenants/{tenant.id}/brands", headers=ADMIN)
    assert sorted(b["slug"] for b in listed.json()["data"]) == ["main", "second"]

    key = await create_key(client, tenant, ["*"], brand="second")
    assert key["brand_id"] == brand["id"]
    me = await client.get("/v1/me", headers=bearer(key["key"]))
    assert me.json()["brand"] == {"slug": "second"}

    main_player = await create_player(tenant, "alice")
    r = await client.post("/v1/players", headers=bearer(key["key"]),
                          json={"username": "alice", "email": "alice@second.example"})
    assert r.status_code == 201, r.text
    assert r.json()["player"]["user_id"] != main_player["user_id"]
    r = await client.get(f"/v1/players/{main_player['user_id']}", headers=bearer(key["key"]))
    assert_error(r, 404, "NO_PLAYER")
    still = await tenant.get("/v1/players/alice")
    assert still.json()["player"]["email"] == "alice@example.com"


async def test_brand_slug_taken_within_a_tenant_is_409_but_free_in_another(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant,
) -> None:
    r = await client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                          json={"slug": "main", "name": "Again"})
    assert_error(r, 409)
    r = await client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                          json={"slug": "Bad Slug", "name": "Bad"})
    assert_validation(r, "slug")
    listed = await client.get(f"/tenants/{tenant.id}/brands", headers=ADMIN)
    assert [b["slug"] for b in listed.json()["data"]] == ["main"]
    r = await client.post(f"/tenants/{other_tenant.id}/brands", headers=ADMIN,
                          json={"slug": "second", "name": "Second"})
    assert r.status_code == 201


async def test_suspended_tenant_keys_get_403_until_reactivated(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    r = await client.patch(f"/tenants/{tenant.id}", headers=ADMIN, json={"status": "suspended"})
    assert r.status_code == 200, r.text
    assert r.json()["tenant"]["status"] == "suspended"

    for mode in ("live", "test"):
        assert_error(await tenant.get("/v1/me", mode=mode), 403, "TENANT_SUSPENDED")
    assert_error(await tenant.get("/v1/players/alice"), 403, "TENANT_SUSPENDED")
    r = await tenant.post("/v1/players", {"username": "bob", "email": "bob@example.com"})
    assert_error(r, 403, "TENANT_SUSPENDED")
    assert (await other_tenant.get("/v1/me")).status_code == 200

    r = await client.patch(f"/tenants/{tenant.id}", headers=ADMIN, json={"status": "active"})
    assert r.status_code == 200
    assert (await tenant.get("/v1/me")).status_code == 200
    assert (await tenant.get("/v1/players/alice")).status_code == 200
    assert_error(await tenant.get("/v1/players/bob"), 404, "NO_PLAYER")


async def test_invalid_tenant_patch_is_400_and_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    for patch in ({"status": "deleted"}, {"status": None}, {"rate_limit_burst": 0},
                  {"rate_limit_per_second": -1}, {"colour": "red"}):
        r = await client.patch(f"/tenants/{tenant.id}", headers=ADMIN, json=patch)
        assert r.status_code == 400, (patch, r.text)
        assert_error(r, 400, "VALIDATION_ERROR")
    fetched = (await client.get(f"/tenants/{tenant.id}", headers=ADMIN)).json()["tenant"]
    assert fetched["status"] == "active"
    assert fetched["rate_limit_burst"] is None
    assert fetched["rate_limit_per_second"] is None
    assert (await tenant.get("/v1/me")).status_code == 200


async def test_created_key_is_shown_once_and_listed_without_its_secret(
    client: httpx.AsyncClient, tenant: Tenant, engine: Any,
) -> None:
    r = await client.post(f"/tenants/{tenant.id}/api-keys", headers=ADMIN, json={
        "brand": "main", "mode": "live", "scopes": ["players:read", "audit:read"],
        "name": "reporting"})
    assert r.status_code == 201, r.text
    created = r.json()["api_key"]
    plaintext = created["key"]
    assert KEY.match(plaintext)
    assert plaintext.startswith("wsk_live_")
    assert created["mode"] == "live"
    assert created["name"] == "reporting"
    assert sorted(created["scopes"]) == ["audit:read", "players:read"]
    assert created["brand_id"] == tenant.brand_id

    me = await client.get("/v1/me", headers=bearer(plaintext))
    assert me.json()["tenant"]["scopes"] == ["audit:read", "players:read"]
    assert me.json()["tenant"]["key_mode"] == "live"

    listed = await client.get(f"/tenants/{tenant.id}/api-keys", headers=ADMIN)
    assert listed.status_code == 200
    rows = listed.json()["data"]
    assert {row["name"] for row in rows} == {"default live", "default test", "reporting"}
    secrets = [plaintext, tenant.live_key, tenant.test_key]
    digests = [hashlib.sha256(s.encode()).hexdigest() for s in secrets]
    for secret in secrets + digests:
        assert secret not in listed.text
        assert secret[-24:] not in listed.text
    reporting = next(row for row in rows if row["name"] == "reporting")
    assert reporting["id"] == created["id"]
    assert reporting["mode"] == "live"
    assert reporting["revoked_at"] is None
    assert "key" not in reporting
    assert "key_hash" not in reporting


async def test_keys_are_stored_only_as_sha256(
    client: httpx.AsyncClient, tenant: Tenant, engine: Any,
) -> None:
    extra = await create_key(client, tenant, ["players:read"])
    plaintexts = {tenant.live_key, tenant.test_key, extra["key"]}
    async with engine.connect() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(text("SELECT * FROM api_keys"))]
    assert len(rows) == 3
    assert {bytes(r["key_hash"]) for r in rows} == {
        hashlib.sha256(p.encode()).digest() for p in plaintexts}
    for row in rows:
        for value in row.values():
            rendered = value.hex() if isinstance(value, bytes | memoryview) else str(value)
            for plaintext in plaintexts:
                assert plaintext not in rendered
                assert plaintext[9:] not in rendered
                assert plaintext[9:-4] not in rendered


async def test_invalid_key_request_is_400_and_creates_no_key(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"brand": "main", "mode": "test", "scopes": ["players:delete"]}, "scopes"),
        ({"brand": "main", "mode": "test", "scopes": []}, "scopes"),
        ({"brand": "nope", "mode": "test", "scopes": ["*"]}, "brand"),
        ({"brand": "main", "mode": "staging", "scopes": ["*"]}, "mode"),
    ]
    for payload, field in cases:
        r = await client.post(f"/tenants/{tenant.id}/api-keys", headers=ADMIN, json=payload)
        assert r.status_code == 400, (payload, r.text)
        assert_validation(r, field)
    listed = await client.get(f"/tenants/{tenant.id}/api-keys", headers=ADMIN)
    assert len(listed.json()["data"]) == 2


async def test_key_for_another_tenants_brand_is_400(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant,
) -> None:
    r = await client.post(f"/tenants/{tenant.id}/api-keys", headers=ADMIN, json={
        "brand": other_tenant.brand_id, "mode": "test", "scopes": ["*"]})
    assert_validation(r, "brand")
    listed = await client.get(f"/tenants/{tenant.id}/api-keys", headers=ADMIN)
    assert len(listed.json()["data"]) == 2
    by_id = await create_key(client, tenant, ["*"], brand=tenant.brand_id)
    assert by_id["brand_id"] == tenant.brand_id


async def test_revoked_key_is_401_auth_invalid_on_the_very_next_request(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    extra = await create_key(client, tenant, ["*"])
    assert (await client.get("/v1/me", headers=bearer(extra["key"]))).status_code == 200
    r = await client.post(f"/tenants/{tenant.id}/api-keys/{extra['id']}/revoke", headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["api_key"]["id"] == extra["id"]
    assert r.json()["api_key"]["revoked_at"]

    assert_error(await client.get("/v1/me", headers=bearer(extra["key"])), 401, "AUTH_INVALID")
    r = await client.post("/v1/players", headers=bearer(extra["key"]),
                          json={"username": "alice", "email": "alice@example.com"})
    assert_error(r, 401, "AUTH_INVALID")
    assert_error(await tenant.get("/v1/players/alice"), 404, "NO_PLAYER")
    assert (await tenant.get("/v1/me")).status_code == 200

    listed = await client.get(f"/tenants/{tenant.id}/api-keys", headers=ADMIN)
    revoked = next(row for row in listed.json()["data"] if row["id"] == extra["id"])
    assert revoked["revoked_at"] is not None


async def test_revoking_another_tenants_key_is_404_and_the_key_keeps_working(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant,
) -> None:
    theirs = await create_key(client, other_tenant, ["*"])
    r = await client.post(f"/tenants/{tenant.id}/api-keys/{theirs['id']}/revoke", headers=ADMIN)
    assert_error(r, 404, "NOT_FOUND")
    assert (await client.get("/v1/me", headers=bearer(theirs["key"]))).status_code == 200


async def test_read_only_key_gets_403_scope_denied_on_a_write(
    client: httpx.AsyncClient, tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    reader = bearer((await create_key(client, tenant, ["players:read"]))["key"])
    assert (await client.get("/v1/players/alice", headers=reader)).status_code == 200
    r = await client.post("/v1/players", headers=reader,
                          json={"username": "bob", "email": "bob@example.com"})
    assert_error(r, 403, "SCOPE_DENIED")
    r = await client.patch("/v1/players/alice/status", headers=reader,
                           json={"status": "suspended", "reason": "test"})
    assert_error(r, 403, "SCOPE_DENIED")
    assert_error(await tenant.get("/v1/players/bob"), 404, "NO_PLAYER")
    assert (await tenant.get("/v1/players/alice")).json()["player"]["status"] == "active"


async def test_write_only_key_cannot_read(client: httpx.AsyncClient, tenant: Tenant) -> None:
    writer = bearer((await create_key(client, tenant, ["players:write"]))["key"])
    r = await client.post("/v1/players", headers=writer,
                          json={"username": "bob", "email": "bob@example.com"})
    assert r.status_code == 201
    assert_error(await client.get("/v1/players/bob", headers=writer), 403, "SCOPE_DENIED")
    assert_error(await client.get("/v1/players", headers=writer), 403, "SCOPE_DENIED")


async def test_tenant_created_by_make_tenant_helper_is_listed(client: httpx.AsyncClient) -> None:
    await make_tenant(client, "zeta")
    await make_tenant(client, "alpha", service_mode="white_label")
    r = await client.get("/tenants", headers=ADMIN)
    listed = {t["slug"]: t for t in r.json()["data"]}
    assert sorted(listed) == ["alpha", "zeta"]
    assert listed["alpha"]["service_mode"] == "white_label"
    assert listed["zeta"]["status"] == "active"
