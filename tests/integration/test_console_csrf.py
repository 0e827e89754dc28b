"""CSRF for every console form: each POST route under ``/admin``, with a signed-in
session but without the session's CSRF token (none, a wrong one, another session's),
is refused with 403 and changes nothing.

The routes are enumerated from the app, so a new console POST route without a case
fails ``test_every_console_post_route_has_a_csrf_case`` until it gets one. Each case
also proves its form is otherwise valid: posted with the right token, it changes the
database, so a route that forgot the check cannot pass by failing for another reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import ADMIN, ADMIN_TOKEN, Tenant
from tests.integration.test_console import sign_in
from wowsino.api import create_app
from wowsino.kernel.clock import ManualClock, iso
from wowsino.kernel.config import Settings

# Posted before a session exists (the admin token is the proof); throttled instead.
NO_SESSION_ROUTES = {"/admin/sign-in"}


@dataclass
class Case:
    """A valid form for the route (``csrf`` is added or left out by the test)."""

    form: dict[str, str] = field(default_factory=dict)
    succeeds_with: int = 303
    changes: bool = True  # False: a computation that saves nothing (the cost simulator)


CASES: dict[str, Case] = {
    "/admin/sign-out": Case(),
    "/admin/tenants": Case({"slug": "newco", "name": "Newco", "service_mode": "plug_in",
                            "brand_slug": "main", "brand_name": "Main"}, succeeds_with=201),
    "/admin/tenants/{ref}/status": Case({"status": "suspended"}),
    "/admin/tenants/{ref}/brands": Case({"slug": "second", "name": "Second"}),
    "/admin/tenants/{ref}/api-keys": Case({"mode": "test", "brand": "main", "name": "probe",
                                           "scope": "players:read"}, succeeds_with=201),
    "/admin/tenants/{ref}/api-keys/{key_id}/revoke": Case(),
    "/admin/tenants/{ref}/{mode}/webhook-deliveries/{delivery_id}/redeliver": Case(),
    "/admin/tenants/{ref}/{mode}/engines/{kind}/{entity_id}/prize-table": Case(
        {"rows": "1", "cost_winz": "5", "label_0": "all", "weight_0": "1", "asset_0": "WINZ",
         "amount_0": "7", "action": "save"}),
    "/admin/tenants/{ref}/{mode}/engines/raffles/{raffle_id}/draw": Case(),
    "/admin/tenants/{ref}/{mode}/engines/tournaments/{tournament_id}/close": Case(),
    "/admin/tenants/{ref}/{mode}/engines/bonuses/{template_id}/simulate": Case(
        {"players": "50", "bet_size": "1.00", "max_spins": "100"}, succeeds_with=200,
        changes=False),
    "/admin/tenants/{ref}/{mode}/engines/crm/{brand}/campaigns/{campaign_id}/dry-run": Case(),
}


def console_post_routes(app: Any) -> set[str]:
    """Every path template the app serves ``POST`` on under ``/admin``."""
    try:  # FastAPI versions that keep included routers nested
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - flat route lists
        routes = app.routes
    found = set()
    for route in routes:
        path = getattr(route, "path", "") or ""
        if path.startswith("/admin") and "POST" in (getattr(route, "methods", None) or ()):
            found.add(path)
    return found


def test_every_console_post_route_has_a_csrf_case() -> None:
    app = create_app(Settings(admin_token=ADMIN_TOKEN),
                     database_url="postgresql://nobody@127.0.0.1:1/none")
    routes = console_post_routes(app)
    assert "/admin/tenants/{ref}/api-keys/{key_id}/revoke" in routes
    missing = sorted(routes - CASES.keys() - NO_SESSION_ROUTES)
    stale = sorted(CASES.keys() - routes)
    assert not missing, f"console POST routes without a CSRF case: {missing}"
    assert not stale, f"CSRF cases for routes that no longer exist: {stale}"


async def database_digest(engine: Any) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every table."""
    async with engine.connect() as conn:
        tables = (await conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"))).scalars()
        digest = {}
        for table in list(tables):
            row = (await conn.execute(text(
                f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                f'FROM "{table}" x'))).one()
            digest[table] = (int(row[0]), str(row[1]))
    return digest


async def fixtures(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    """A value for every path parameter of the console's POST routes."""
    keys = (await client.get(f"/tenants/{tenant.id}/api-keys", headers=ADMIN)).json()["data"]
    hook = (await tenant.post("/v1/webhooks", {"url": "https://hooks.example.com/csrf",
                                               "events": ["*"]})).json()["webhook"]
    delivery = (await tenant.post(f"/v1/webhooks/{hook['id']}/ping", {})).json()["delivery"]
    test_key = next(k for k in keys if k["mode"] == "test")
    box = (await tenant.post("/v1/lootbox", {"name": "Box", "prize_table": [
        {"segment_label": "all", "weight": 1, "asset": "WINZ", "amount": 1}]})).json()
    raffle = (await tenant.post("/v1/raffles", {"name": "Raffle", "ticket_cost_winz": 0,
                                                "prize_winz": 5})).json()["raffle"]
    r = await tenant.post("/v1/players", {"username": "csrf_probe",
                                          "email": "csrf_probe@example.com"})
    assert r.status_code == 201, r.text
    r = await tenant.post(f"/v1/raffles/{raffle['id']}/enter", {"user_id": "csrf_probe",
                                                                "tickets": 1})
    assert r.status_code == 201, r.text
    now = ManualClock().now()  # the app's clock in tests
    race = (await tenant.post("/v1/tournaments", {
        "name": "Race", "scoring": "sum_wagered", "starts_at": iso(now - timedelta(days=1)),
        "ends_at": iso(now + timedelta(days=1)), "prize_table": [
            {"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 1}}]}))
    assert race.status_code == 201, race.text
    bonus = (await tenant.post("/v1/bonus-templates", {
        "name": "Welcome", "type": "no_deposit", "amount": "10.00", "wagering_multiple": 5}))
    assert bonus.status_code == 201, bonus.text
    everyone = (await tenant.post("/v1/segments", {"name": "All", "expression": "true"}))
    assert everyone.status_code == 201, everyone.text
    crm = await tenant.post("/v1/campaigns", {
        "name": "Campaign", "segment_id": everyone.json()["segment"]["id"],
        "action": {"type": "grant_winz", "amount": 1}})
    assert crm.status_code == 201, crm.text
    return {"ref": tenant.slug, "mode": "test", "key_id": test_key["id"], "brand": "main",
            "campaign_id": crm.json()["campaign"]["id"],
            "template_id": bonus.json()["template"]["id"],
            "raffle_id": raffle["id"], "tournament_id": race.json()["tournament"]["id"],
            "delivery_id": delivery["id"], "kind": "lootboxes",
            "entity_id": box["lootbox"]["id"]}


def concrete(template: str, values: dict[str, str]) -> str:
    path = template
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", value)
    assert "{" not in path, f"no fixture for a parameter of {template}"
    return path


async def test_every_console_post_route_refuses_a_form_without_its_csrf_token(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, engine: Any
) -> None:
    values = await fixtures(client, tenant)
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                              base_url="http://wowsino.test")
    async with other:
        foreign_token = await sign_in(other)
        problems: list[str] = []
        for template in sorted(console_post_routes(app) - NO_SESSION_ROUTES):
            case = CASES[template]
            path = concrete(template, values)
            csrf = await sign_in(client)
            before = await database_digest(engine)
            for label, extra in (("no token", {}), ("a wrong token", {"csrf": "0" * 64}),
                                 ("another session's token", {"csrf": foreign_token}),
                                 ("an empty token", {"csrf": ""})):
                r = await client.post(path, data={**case.form, **extra})
                if r.status_code != 403 or "security token" not in r.text:
                    problems.append(f"POST {path} with {label} answered {r.status_code}")
                if await database_digest(engine) != before:
                    problems.append(f"POST {path} with {label} changed the database")
                    before = await database_digest(engine)
            if (await client.get("/admin/tenants")).status_code != 200:
                problems.append(f"POST {path} without a token ended the session")
            # the same form with the session's token is accepted and changes something
            r = await client.post(path, data={**case.form, "csrf": csrf})
            if r.status_code != case.succeeds_with:
                problems.append(f"POST {path} with its token answered {r.status_code}, not "
                                f"{case.succeeds_with}: the case's form is not valid")
            elif case.changes and await database_digest(engine) == before:
                problems.append(f"POST {path} with its token changed nothing")
            elif not case.changes and await database_digest(engine) != before:
                problems.append(f"POST {path} with its token changed the database")
        assert not problems, "\n".join(problems)
