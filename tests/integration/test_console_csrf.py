"""CSRF for every console form: each POST route under ``/admin``, with a signed-in
session but without the session's CSRF token (none, a wrong one, another session's),
is refused with 403 and changes nothing.

The routes are enumerated from the app, so a new console POST route without a case
fails ``test_every_console_post_route_has_a_csrf_case`` until it gets one. Each case
also proves its form is otherwise valid: posted with the right token, it changes the
database, so a route that forgot the check cannot pass by failing for another reason.
Each case names who posts it (the platform admin, an owner, an operator in the middle
of signing in with two factors...), since every route has its own permission.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pyotp
from sqlalchemy import text

from tests.conftest import ADMIN, ADMIN_TOKEN, Tenant
from tests.integration.console_support import (
    PASSWORD,
    add_operator,
    csrf_of,
    operator_sign_in,
    other_client,
)
from tests.integration.test_console import sign_in
from tests.integration.wallet_support import new_player
from tests.integration.wl_support import make_white_label
from wowsino.api import create_app
from wowsino.kernel.clock import iso
from wowsino.kernel.config import Settings
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.realm import ADMIN as ADMIN_ACTOR
from wowsino.kernel.realm import Mode, Realm
from wowsino.operators import service as operators
from wowsino.players import approvals

# Posted before a session exists: the admin token, the password or the invitation's
# one-time token is the proof; sign-in is throttled instead.
NO_SESSION_ROUTES = {"/admin/sign-in", "/admin/invitations/{token}"}
NEW_PASSWORD = "a different password entirely"


@dataclass
class Case:
    """A valid form for the route (``csrf`` is added or left out by the test), posted by
    ``signer``. A form value ``{name}`` is the fixture ``name`` (called when callable)."""

    form: dict[str, str] = field(default_factory=dict)
    succeeds_with: int = 303
    signer: str = "owner"
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> fixture
    changes: bool = True  # False: a computation that saves nothing (the cost simulator)


CASES: dict[str, Case] = {
    "/admin/sign-out": Case(),
    "/admin/sign-in/code": Case({"code": "{second_factor_code}"}, signer="pending"),
    "/admin/account/password": Case({"current_password": PASSWORD,
                                     "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                                    signer="changer"),
    "/admin/account/two-factor/setup": Case(),
    "/admin/account/two-factor/confirm": Case({"code": "{enrolment_code}"}, signer="enroller",
                                              succeeds_with=200),
    "/admin/account/two-factor/disable": Case({"password": PASSWORD}, signer="two_factor"),
    "/admin/account/sessions/{session_id}/revoke": Case(),
    "/admin/tenants": Case({"slug": "newco", "name": "Newco", "service_mode": "plug_in",
                            "brand_slug": "main", "brand_name": "Main"}, succeeds_with=201,
                           signer="platform"),
    "/admin/tenants/{ref}/status": Case({"status": "suspended"}, signer="platform"),
    "/admin/tenants/{ref}/owner": Case({"email": "second-owner@example.com"},
                                       signer="platform"),
    "/admin/tenants/{ref}/brands": Case({"slug": "second", "name": "Second"}),
    "/admin/tenants/{ref}/api-keys": Case({"mode": "test", "brand": "main", "name": "probe",
                                           "scope": "players:read"}),
    "/admin/tenants/{ref}/api-keys/{key_id}/revoke": Case(),
    "/admin/tenants/{ref}/console-policy": Case({"require_2fa": "off"}),
    "/admin/tenants/{ref}/operators": Case({"email": "new@example.com", "role": "support"}),
    "/admin/tenants/{ref}/operators/{operator_id}": Case({"role": "analyst"}),
    "/admin/tenants/{ref}/operators/{operator_id}/status": Case({"status": "disabled"}),
    "/admin/tenants/{ref}/operators/{operator_id}/invitation": Case(
        params={"operator_id": "invited_id"}),
    "/admin/tenants/{ref}/operators/{operator_id}/two-factor/reset": Case(
        params={"operator_id": "two_factor_id"}),
    "/admin/tenants/{ref}/operators/{operator_id}/password-reset": Case(
        params={"operator_id": "two_factor_id"}),
    "/admin/tenants/{ref}/{mode}/webhook-deliveries/{delivery_id}/redeliver": Case(),
    "/admin/tenants/{ref}/{mode}/players/{brand}/{player}/status": Case(
        {"status": "fraud_hold", "reason": "chargeback pattern"}),
    "/admin/tenants/{ref}/{mode}/players/{brand}/{player}/rg": Case(
        {"deposit_daily_limit": "40.00"}),
    "/admin/tenants/{ref}/{mode}/players/{brand}/{player}/adjustments": Case(
        {"rail": "winz", "asset": "WINZ", "amount": "5", "reason": "goodwill"}),
    "/admin/tenants/{ref}/{mode}/adjustment-requests/{request_id}/approve": Case(
        params={"request_id": "approve_request"}, signer="approver"),
    "/admin/tenants/{ref}/{mode}/adjustment-requests/{request_id}/reject": Case(
        params={"request_id": "reject_request"}, signer="approver"),
    "/admin/tenants/{ref}/adjustment-policy": Case({"asset": "USD", "amount": "250.00"}),
    "/admin/tenants/{ref}/{mode}/queues/withdrawals/{withdrawal_id}/approve": Case(
        {"reason": "documents match"}, signer="wl_owner",
        params={"ref": "wl_ref", "withdrawal_id": "approve_id"}),
    "/admin/tenants/{ref}/{mode}/queues/withdrawals/{withdrawal_id}/reject": Case(
        {"reason": "card not in the player's name"}, signer="wl_owner",
        params={"ref": "wl_ref", "withdrawal_id": "reject_id"}),
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
    return {path for path, methods, _ in console_routes(app) if "POST" in methods}


def console_routes(app: Any) -> list[tuple[str, set[str], Any]]:
    """``(path, methods, endpoint)`` of every route the app serves under ``/admin``."""
    try:  # FastAPI versions that keep included routers nested
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - flat route lists
        routes = app.routes
    found = []
    for route in routes:
        path = getattr(route, "path", "") or ""
        methods = set(getattr(route, "methods", None) or ())
        if path.startswith("/admin") and methods:
            found.append((path, methods, getattr(route, "endpoint", None)))
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
    """Row count and a digest of every row of every table (but the sessions' last
    activity, which every signed-in request moves)."""
    async with engine.connect() as conn:
        tables = (await conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"))).scalars()
        digest = {}
        for table in list(tables):
            row_text = ("(x.id_hash, x.ended_at, x.end_reason, x.stage)::text"
                        if table == "console_sessions" else "x::text")
            row = (await conn.execute(text(
                f"SELECT count(*), md5(coalesce(string_agg({row_text}, '|' "
                f"ORDER BY {row_text}), '')) FROM \"{table}\" x"))).one()
            digest[table] = (int(row[0]), str(row[1]))
    return digest


async def two_factor_operator(app: Any, tenant: Tenant, email: str,
                              clock: Any) -> tuple[UUID, str]:
    """An operator with two-factor sign-in on: their id and the shared secret."""
    operator_id = await add_operator(app, tenant.id, email, "support")
    platform = app.state.platform

    async def work(conn: Any) -> str:
        me = await operators.get(conn, UUID(tenant.id), operator_id)
        secret = await operators.start_two_factor(conn, operator=me, at=clock.now())
        code = pyotp.TOTP(secret).at(clock.now())
        await operators.confirm_two_factor(conn, operator=me, code=code, at=clock.now())
        return secret

    secret: str = await unit_of_work(platform.engine, work)
    return operator_id, secret


Signer = Callable[[httpx.AsyncClient], Awaitable[tuple[str, str]]]


async def setting_up(app: Any, client: httpx.AsyncClient, tenant: Tenant,
                     clock: Any) -> tuple[dict[str, Any], dict[str, Signer]]:
    """A value for every path parameter and form placeholder, and who signs in."""
    await add_operator(app, tenant.id, "owner@example.com", "owner")
    await add_operator(app, tenant.id, "changer@example.com", "support")
    enroller = await add_operator(app, tenant.id, "enroller@example.com", "support")
    support = await add_operator(app, tenant.id, "sam@example.com", "support")
    _, second_secret = await two_factor_operator(app, tenant, "pending@example.com", clock)
    lost, _ = await two_factor_operator(app, tenant, "lost@example.com", clock)
    _, two_factor_secret = await two_factor_operator(app, tenant, "twofactor@example.com",
                                                     clock)
    platform = app.state.platform

    async def pending_setup(conn: Any) -> tuple[str, UUID]:
        me = await operators.get(conn, UUID(tenant.id), enroller)
        secret = await operators.start_two_factor(conn, operator=me, at=clock.now())
        invited = await operators.invite(conn, tenant_id=UUID(tenant.id),
                                         email="invited@example.com", role="analyst",
                                         actor=operators.actor_of(me), actor_role="owner",
                                         at=clock.now())
        return secret, invited.operator_id

    enrolment_secret, invited_id = await unit_of_work(platform.engine, pending_setup)
    keys = (await client.get(f"/tenants/{tenant.id}/api-keys", headers=ADMIN)).json()["data"]
    hook = (await tenant.post("/v1/webhooks", {"url": "https://hooks.example.com/csrf",
                                               "events": ["*"]})).json()["webhook"]
    delivery = (await tenant.post(f"/v1/webhooks/{hook['id']}/ping", {})).json()["delivery"]
    test_key = next(k for k in keys if k["mode"] == "test")
    async with other_client(app) as elsewhere:
        await operator_sign_in(elsewhere, "owner@example.com")
        page = await elsewhere.get("/admin/account/sessions")
    session_id = re.search(r"/admin/account/sessions/([0-9a-f-]{36})/revoke", page.text)
    assert session_id is not None
    # a white-label tenant, its owner, and two withdrawals awaiting a decision
    wl = await make_white_label(client, "casino")
    await add_operator(app, wl.id, "wl-owner@example.com", "owner")
    pending_ids = []
    for name in ("wendy", "walt"):
        player = await new_player(wl, name, funds="50.00")
        r = await player.post("/v1/player/withdrawals", {"amount": "10.00", "currency": "USD"})
        assert r.status_code == 201, r.text
        pending_ids.append(r.json()["withdrawal"]["id"])
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
    now = clock.now()
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
    # two adjustments above the threshold, asked by someone else, for the approver
    await add_operator(app, tenant.id, "approver@example.com", "compliance")
    probe_id = (await tenant.get("/v1/players/csrf_probe")).json()["player"]["user_id"]

    async def asked(conn: Any) -> list[str]:
        actor = ADMIN_ACTOR  # anyone but the approver
        await approvals.set_threshold(conn, tenant_id=UUID(tenant.id), asset_code="WINZ",
                                      amount="10", actor=actor, at=clock.now())
        made = []
        for _ in range(2):
            done = await approvals.adjust_or_request(
                conn, realm=Realm(UUID(tenant.id), Mode.TEST), brand_id=UUID(tenant.brand_id),
                ref=probe_id, rail="winz", asset_code="WINZ", amount="50", reason="big",
                actor=actor, at=clock.now())
            made.append(done["request_id"])
        await approvals.set_threshold(conn, tenant_id=UUID(tenant.id), asset_code="WINZ",
                                      amount=None, actor=actor, at=clock.now())
        return made

    adjustment_requests = await unit_of_work(platform.engine, asked)
    values: dict[str, Any] = {
        "player": probe_id, "request_id": adjustment_requests[0],
        "approve_request": adjustment_requests[0], "reject_request": adjustment_requests[1],
        "brand": "main", "campaign_id": crm.json()["campaign"]["id"],
        "template_id": bonus.json()["template"]["id"], "raffle_id": raffle["id"],
        "tournament_id": race.json()["tournament"]["id"], "kind": "lootboxes",
        "entity_id": box["lootbox"]["id"],
        "jackpot_id": (await tenant.post("/v1/jackpots", {
            "name": "Mega", "currency": "USD", "seed_usd": 100})).json()["jackpot"]["id"],
        "journey_id": (await tenant.post("/v1/journeys", {
            "name": "Welcome mission", "entry_trigger": "signup",
            "steps": [{"trigger": "wager", "count": 3}],
            "reward_winz": 100})).json()["journey"]["id"],
        "wl_ref": wl.slug, "approve_id": pending_ids[0], "reject_id": pending_ids[1],
        "withdrawal_id": pending_ids[0], "rail": "real", "asset": "USD",
        "ref": tenant.slug, "mode": "test", "key_id": test_key["id"],
        "delivery_id": delivery["id"], "webhook_id": hook["id"], "operator_id": str(support),
        "invited_id": str(invited_id), "two_factor_id": str(lost), "session_id": session_id.group(1),
        "enrolment_code": lambda: pyotp.TOTP(enrolment_secret).at(clock.now()),
        "second_factor_code": lambda: pyotp.TOTP(second_secret).at(clock.now()),
    }

    async def platform_admin(c: httpx.AsyncClient) -> tuple[str, str]:
        return await sign_in(c), "/admin/tenants"

    def operator(email: str) -> Signer:
        async def signer(c: httpx.AsyncClient) -> tuple[str, str]:
            return await operator_sign_in(c, email), "/admin/account"
        return signer

    async def with_password_only(c: httpx.AsyncClient, email: str) -> str:
        clock.advance(timedelta(seconds=31))  # a fresh code for each sign-in
        r = await c.post("/admin/sign-in", data={"email": email, "password": PASSWORD})
        assert r.headers["location"] == "/admin/sign-in/code", r.text
        return csrf_of(await c.get("/admin/sign-in/code"))

    async def pending(c: httpx.AsyncClient) -> tuple[str, str]:
        return await with_password_only(c, "pending@example.com"), "/admin/sign-in/code"

    async def two_factor(c: httpx.AsyncClient) -> tuple[str, str]:
        csrf = await with_password_only(c, "twofactor@example.com")
        r = await c.post("/admin/sign-in/code", data={
            "csrf": csrf, "code": pyotp.TOTP(two_factor_secret).at(clock.now())})
        assert r.status_code == 303, r.text
        return csrf_of(await c.get("/admin/account")), "/admin/account"

    signers: dict[str, Signer] = {
        "platform": platform_admin, "owner": operator("owner@example.com"),
        "changer": operator("changer@example.com"), "enroller": operator("enroller@example.com"),
        "pending": pending, "two_factor": two_factor,
        "wl_owner": operator("wl-owner@example.com"),
        "approver": operator("approver@example.com")}
    return values, signers


def concrete(template: str, values: dict[str, Any], case: Case) -> str:
    path = template
    for name in [n for n in values if not callable(values[n])]:
        path = path.replace(f"{{{name}}}", str(values[case.params.get(name, name)]))
    assert "{" not in path, f"no fixture for a parameter of {template}"
    return path


def filled(form: dict[str, str], values: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, value in form.items():
        if value.startswith("{") and value.endswith("}"):
            found = values[value[1:-1]]
            value = found() if callable(found) else str(found)
        out[name] = value
    return out


async def signed_in_posts(app: Any, client: httpx.AsyncClient, values: dict[str, Any],
                          signers: dict[str, Signer]
                          ) -> AsyncIterator[tuple[str, Case, str, str]]:
    """Each console POST route posted with a session (its path, its case), ``client``
    newly signed in as the case's signer: with the session's CSRF token and a page that
    answers while the session lasts."""
    for template in sorted(console_post_routes(app) - NO_SESSION_ROUTES):
        case = CASES[template]
        client.cookies.clear()
        csrf, probe = await signers[case.signer](client)
        yield concrete(template, values, case), case, csrf, probe


async def test_every_console_post_route_refuses_a_form_without_its_csrf_token(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, engine: Any, clock: Any
) -> None:
    values, signers = await setting_up(app, client, tenant, clock)
    async with other_client(app) as other:
        foreign_token = await sign_in(other)
        problems: list[str] = []
        async for path, case, csrf, probe in signed_in_posts(app, client, values, signers):
            before = await database_digest(engine)
            for label, extra in (("no token", {}), ("a wrong token", {"csrf": "0" * 64}),
                                 ("another session's token", {"csrf": foreign_token}),
                                 ("an empty token", {"csrf": ""})):
                r = await client.post(path, data={**filled(case.form, values), **extra})
                if r.status_code != 403 or "security token" not in r.text:
                    problems.append(f"POST {path} with {label} answered {r.status_code}")
                if await database_digest(engine) != before:
                    problems.append(f"POST {path} with {label} changed the database")
                    before = await database_digest(engine)
            if (await client.get(probe)).status_code != 200:
                problems.append(f"POST {path} without a token ended the session")
            # the same form with the session's token is accepted and changes something
            r = await client.post(path, data={**filled(case.form, values), "csrf": csrf})
            if r.status_code != case.succeeds_with:
                problems.append(f"POST {path} with its token answered {r.status_code}, not "
                                f"{case.succeeds_with}: the case's form is not valid")
            elif case.changes and await database_digest(engine) == before:
                problems.append(f"POST {path} with its token changed nothing")
            elif not case.changes and await database_digest(engine) != before:
                problems.append(f"POST {path} with its token changed the database")
        assert not problems, "\n".join(problems)


# Values a form field should never meet, and a console must answer without a 5xx.
GARBAGE = ("", " ", "x" * 5000, "\x00", "ключ", "-1", "0", "1e400", "NaN",
           "99999999999999999999999999", "-99999999999999999999999.99", "../../etc/passwd",
           "<script>alert(1)</script>", "' OR 1=1 --", "\udcff".encode("utf-8", "surrogatepass")
           .decode("utf-8", "replace"))


async def test_no_console_form_answers_a_server_error_for_bad_values(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    """Every console POST route, signed in and with the session's token, posted its form
    with each field in turn set to each of ``GARBAGE`` (and with no fields, and with one
    it does not know): every answer is below 500."""
    values, signers = await setting_up(app, client, tenant, clock)
    problems: list[str] = []
    async for path, case, csrf, _ in signed_in_posts(app, client, values, signers):
        form = filled(case.form, values)
        variants = [{}, {**form, "unexpected": "1"}]
        variants += [{**form, name: bad} for name in form for bad in GARBAGE]
        for variant in variants:
            r = await client.post(path, data={**variant, "csrf": csrf})
            if r.status_code >= 500:
                problems.append(f"POST {path} {variant!r:.200} answered {r.status_code}")
    assert not problems, "\n".join(problems)


async def test_no_console_page_answers_a_server_error_for_bad_parameters(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    """Every console GET route, as the platform admin and as the tenant's owner, with its
    path parameters valid and then each one set to garbage, and with garbage in the query
    parameters pages take (cursor, search, filters): every answer is below 500."""
    values, signers = await setting_up(app, client, tenant, clock)
    values["token"] = "an-invitation-token-no-one-was-sent"
    templates = sorted(path for path, methods, _ in console_routes(app) if "GET" in methods)
    query_names = ("cursor", "q", "search", "status", "limit", "since", "until", "brand",
                   "mode", "kind", "page", "tab", "next")
    problems: list[str] = []
    for signer in ("platform", "owner"):
        client.cookies.clear()
        await signers[signer](client)
        for template in templates:
            names = re.findall(r"\{(\w+)\}", template)
            if any(name not in values or callable(values[name]) for name in names):
                problems.append(f"no fixture for a parameter of GET {template}")
                continue
            path = concrete(template, values, Case())
            tries = [path] + [f"{path}?{name}={bad}" for name in query_names
                              for bad in ("", "x" * 3000, "%00", "-1", "1e400", "W10")]
            for name in names:
                for bad in ("x", "%00", "0" * 300, "00000000-0000-0000-0000-000000000000"):
                    tries.append(template.replace(f"{{{name}}}", bad).format(**{
                        n: values[n] for n in names if n != name}))
            for url in tries:
                r = await client.get(url)
                if r.status_code >= 500:
                    problems.append(f"GET {url:.200} as {signer} answered {r.status_code}")
    assert not problems, "\n".join(problems)
