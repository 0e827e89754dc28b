"""Every console route × every holder (the platform admin and each operator role, also
limited to one brand): allowed (200) or refused (403), as the permission table says.

The routes are enumerated from the app and each route's permission read from it, so a
new page is in the matrix the moment it exists, and one without a path fixture here, or
without a permission at all, fails the test."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN_TOKEN, Tenant
from tests.integration.console_support import (
    add_operator,
    engine_entities,
    operator_sign_in,
    other_client,
)
from tests.integration.test_console import sign_in as admin_sign_in
from tests.integration.test_console_csrf import console_routes
from wowsino.api import create_app
from wowsino.console.permissions import (
    HOLDERS,
    PERMISSIONS,
    PLATFORM,
    PUBLIC,
    SECOND_FACTOR,
    SIGNED_IN,
    route_permission,
)
from wowsino.kernel.config import Settings

# Routes outside the role table, and why.
SPECIAL = {PUBLIC, SECOND_FACTOR, SIGNED_IN}


def test_every_console_route_names_a_permission_of_the_table() -> None:
    app = create_app(Settings(admin_token=ADMIN_TOKEN),
                     database_url="postgresql://nobody@127.0.0.1:1/none")
    problems = []
    for path, methods, endpoint in console_routes(app):
        if path.startswith("/admin/static"):
            continue
        found = route_permission(endpoint)
        if found is None or (found.name not in PERMISSIONS and found.name not in SPECIAL):
            problems.append(f"{sorted(methods)} {path}: no permission of the table")
    assert not problems, "\n".join(problems)


async def path_values(client: httpx.AsyncClient, app: Any, tenant: Tenant) -> dict[str, str]:
    """A value for every path parameter of the console's routes."""
    player = await tenant.post("/v1/players", {"username": "alice", "email": "a@x.io"})
    hook = await tenant.post("/v1/webhooks", {"url": "https://hooks.example.com/roles",
                                              "events": ["*"]})
    delivery = await tenant.post(f"/v1/webhooks/{hook.json()['webhook']['id']}/ping", {})
    keys = (await client.get(f"/tenants/{tenant.id}/api-keys",
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})).json()["data"]
    someone = await add_operator(app, tenant.id, "someone@example.com", "support")
    return {"ref": tenant.slug, "mode": "test", "brand": "main",
            "player": player.json()["player"]["user_id"],
            "webhook_id": hook.json()["webhook"]["id"],
            "delivery_id": delivery.json()["delivery"]["id"], "key_id": keys[0]["id"],
            "operator_id": str(someone), "session_id": "00000000-0000-0000-0000-000000000000",
            "withdrawal_id": "00000000-0000-4000-8000-000000000001", "rail": "real",
            "asset": "USD", "request_id": "00000000-0000-4000-8000-000000000002",
            **await engine_entities(tenant, app.state.platform.clock.now())}


# Pages of white-label work: the route exists for every tenant, a plug-in tenant (the walk's)
# has nothing there: 404 to whoever may see it, 403 to whoever may not.
WHITE_LABEL_ONLY = {"/admin/tenants/{ref}/{mode}/queues"}


def concrete(template: str, values: dict[str, str]) -> str:
    path = template
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", value)
    assert "{" not in path, f"no value for a parameter of {template}: add it to path_values"
    return path


def expected(holder: str, permission_name: str) -> bool:
    role, _, limited = holder.partition("@")
    chosen = PERMISSIONS[permission_name]
    return role in chosen.holders and not (limited and chosen.every_brand)


async def test_every_console_route_allows_exactly_the_holders_of_its_permission(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    values = await path_values(client, app, tenant)
    routes = [(path, methods, route_permission(endpoint))
              for path, methods, endpoint in console_routes(app)
              if not path.startswith("/admin/static")]
    holders = [*HOLDERS, *(f"{role}@main" for role in HOLDERS if role != PLATFORM)]
    problems: list[str] = []
    checked = {True: 0, False: 0}
    for holder in holders:
        role, _, limited = holder.partition("@")
        async with other_client(app) as c:
            if role == PLATFORM:
                csrf = await admin_sign_in(c)
            else:
                email = f"{role}.{'brand' if limited else 'all'}@example.com"
                await add_operator(app, tenant.id, email, role,
                                   brand_ids=[tenant.brand_id] if limited else [])
                csrf = await operator_sign_in(c, email)
            for path, methods, permission in routes:
                assert permission is not None
                if permission.name in SPECIAL:
                    continue
                allowed = expected(holder, permission.name)
                checked[allowed] += 1
                concrete_path = concrete(path, values)
                if "GET" in methods:
                    r = await c.get(concrete_path)
                    want = (404 if path in WHITE_LABEL_ONLY else 200) if allowed else 403
                    if r.status_code != want:
                        problems.append(f"{holder}: GET {path} answered {r.status_code}, "
                                        f"not {want} ({permission.name})")
                if "POST" in methods and not allowed:
                    r = await c.post(concrete_path, data={"csrf": csrf})
                    if r.status_code != 403:
                        problems.append(f"{holder}: POST {path} answered {r.status_code}, "
                                        f"not 403 ({permission.name})")
    assert not problems, "\n".join(problems)
    assert checked[True] > 50 and checked[False] > 150, checked  # the walk walked
