"""Operator accounts in the console: invitations, sign-in and lockout, two-factor sign-in
with recovery codes, sessions (sign-out, password change, revocation, idle timeout),
brand scope and tenant isolation, and every change audited with the operator as actor."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp

from tests.conftest import ADMIN, Tenant, make_tenant
from tests.integration.console_support import (
    PASSWORD,
    add_operator,
    csrf_of,
    operator_sign_in,
    other_client,
    signed_in_operator,
)
from tests.integration.test_console import sign_in as admin_sign_in
from wowsino.verify import verify_audit

LINK = re.compile(r'id="invitation-link">(https?://[^<]+)<')


async def audit_rows(client: httpx.AsyncClient, tenant: Tenant, action: str) -> list[Any]:
    r = await client.get("/v1/audit", params={"action": action}, headers=tenant.headers("live"))
    assert r.status_code == 200, r.text
    rows: list[Any] = r.json()["data"]
    return rows


async def invite_owner(client: httpx.AsyncClient, tenant: Tenant, email: str) -> str:
    """The platform admin invites the tenant's owner; returns the invitation path."""
    csrf = await admin_sign_in(client)
    r = await client.post(f"/admin/tenants/{tenant.slug}/owner",
                          data={"csrf": csrf, "email": email})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    link = LINK.search(page.text)
    assert link is not None, page.text
    again = await client.get(r.headers["location"])
    assert LINK.search(again.text) is None  # shown once
    await client.post("/admin/sign-out", data={"csrf": csrf})
    return urlsplit(link.group(1)).path


async def accept(client: httpx.AsyncClient, path: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(path, data={"password": password, "confirm": password})


# -- invitations -------------------------------------------------------------------------


async def test_the_platform_admin_invites_an_owner_who_sets_a_password_and_signs_in(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    path = await invite_owner(client, tenant, "Olive@Example.com")
    page = await client.get(path)
    assert page.status_code == 200 and "olive@example.com" in page.text.lower()
    r = await accept(client, path)
    assert r.status_code == 303 and r.headers["location"] == "/admin/sign-in?notice=joined"
    csrf = await operator_sign_in(client, "olive@EXAMPLE.com")  # any case
    home = await client.get(f"/admin/tenants/{tenant.slug}")
    assert home.status_code == 200 and "API keys" in home.text
    assert (await client.get("/admin/tenants")).status_code == 403  # platform only
    assert csrf
    joined = await audit_rows(client, tenant, "operator.joined")
    invited = await audit_rows(client, tenant, "operator.invited")
    assert invited[0]["actor"] == {"type": "admin", "id": "platform"}
    assert joined[0]["actor"]["type"] == "operator"
    assert joined[0]["actor"]["id"] == joined[0]["target"]["id"]
    problems, summary = await verify_audit(app.state.platform.engine)
    assert not problems, problems  # rows with an operator as actor seal and verify
    assert "realm" in summary


async def test_an_invitation_works_once(client: httpx.AsyncClient, tenant: Tenant) -> None:
    path = await invite_owner(client, tenant, "once@example.com")
    assert (await accept(client, path)).status_code == 303
    again = await accept(client, path, "another password entirely")
    assert again.status_code == 404 and "not valid" in again.text
    assert (await client.get(path)).status_code == 404
    await operator_sign_in(client, "once@example.com")  # the first password stands


async def test_an_invitation_expires_after_72_hours(
    client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    path = await invite_owner(client, tenant, "late@example.com")
    clock.advance(timedelta(hours=71, minutes=59))
    assert (await client.get(path)).status_code == 200
    clock.advance(timedelta(minutes=1))
    assert (await client.get(path)).status_code == 404
    assert (await accept(client, path)).status_code == 404
    r = await client.post("/admin/sign-in", data={"email": "late@example.com",
                                                  "password": PASSWORD})
    assert r.status_code == 401


async def test_a_weak_or_mismatched_password_is_refused_on_the_invitation_page(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    path = await invite_owner(client, tenant, "weak@example.com")
    short = await client.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "10 to 256" in short.text
    differ = await client.post(path, data={"password": PASSWORD, "confirm": PASSWORD + "x"})
    assert differ.status_code == 400 and "differ" in differ.text
    huge = await client.post(path, data={"password": "x" * 5000, "confirm": "x" * 5000})
    assert huge.status_code == 400
    assert (await accept(client, path)).status_code == 303


async def test_an_owner_invites_an_operator_and_the_link_is_shown_once(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "owner")
    r = await client.post(f"/admin/tenants/{tenant.slug}/operators", data={
        "csrf": csrf, "email": "sam@example.com", "role": "support"})
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    link = LINK.search(page.text)
    assert link is not None
    assert LINK.search((await client.get(r.headers["location"])).text) is None
    taken = await client.post(f"/admin/tenants/{tenant.slug}/operators", data={
        "csrf": csrf, "email": "SAM@example.com", "role": "support"})
    assert taken.status_code == 409 and "already has an account" in taken.text
    bad = await client.post(f"/admin/tenants/{tenant.slug}/operators", data={
        "csrf": csrf, "email": "not an email", "role": "wizard"})
    assert bad.status_code == 400 and 'name="email"' in bad.text
    async with other_client(app) as sam:
        assert (await accept(sam, urlsplit(link.group(1)).path)).status_code == 303
        await operator_sign_in(sam, "sam@example.com")
        assert (await sam.get(f"/admin/tenants/{tenant.slug}/operators")).status_code == 403


async def test_an_admin_cannot_invite_or_promote_an_owner(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "admin")
    r = await client.post(f"/admin/tenants/{tenant.slug}/operators", data={
        "csrf": csrf, "email": "boss@example.com", "role": "owner"})
    assert r.status_code == 403 and "only an owner" in r.text
    sam = await add_operator(app, tenant.id, "sam@example.com", "support")
    r = await client.post(f"/admin/tenants/{tenant.slug}/operators/{sam}",
                          data={"csrf": csrf, "role": "owner"})
    assert r.status_code == 403


# -- sign-in and lockout -----------------------------------------------------------------


async def test_unknown_email_and_wrong_password_get_the_same_answer(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await add_operator(app, tenant.id, "ana@example.com", "analyst")
    wrong = await client.post("/admin/sign-in", data={"email": "ana@example.com",
                                                      "password": "not the password"})
    unknown = await client.post("/admin/sign-in", data={"email": "nobody@example.com",
                                                        "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    message = re.compile(r'role="alert">([^<]+)<')
    assert message.search(wrong.text).group(1) == message.search(unknown.text).group(1)  # type: ignore[union-attr]
    assert "wowsino_console" not in client.cookies


async def test_five_failures_lock_the_account_for_fifteen_minutes(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    await add_operator(app, tenant.id, "ana@example.com", "analyst")
    for _ in range(4):
        r = await client.post("/admin/sign-in", data={"email": "ana@example.com",
                                                      "password": "guess guess guess"})
        assert r.status_code == 401
    fifth = await client.post("/admin/sign-in", data={"email": "ana@example.com",
                                                      "password": "guess guess guess"})
    assert fifth.status_code == 429 and "locked" in fifth.text
    right = await client.post("/admin/sign-in", data={"email": "ana@example.com",
                                                      "password": PASSWORD})
    assert right.status_code == 429 and int(right.headers["retry-after"]) <= 15 * 60
    clock.advance(timedelta(minutes=15))
    await operator_sign_in(client, "ana@example.com")
    locked = await audit_rows(client, tenant, "operator.locked")
    assert len(locked) == 1


# -- two-factor sign-in ------------------------------------------------------------------


async def enrol(client: httpx.AsyncClient, csrf: str, clock: Any) -> tuple[str, list[str]]:
    """Turn two-factor sign-in on; returns the shared secret and the recovery codes."""
    r = await client.post("/admin/account/two-factor/setup", data={"csrf": csrf})
    assert r.status_code == 303
    page = await client.get("/admin/account/two-factor")
    assert "<svg" in page.text  # the QR code, drawn on the server
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret is not None
    wrong = await client.post("/admin/account/two-factor/confirm",
                              data={"csrf": csrf, "code": "000000"})
    assert wrong.status_code == 400
    code = pyotp.TOTP(secret.group(1)).at(clock.now())
    r = await client.post("/admin/account/two-factor/confirm", data={"csrf": csrf, "code": code})
    assert r.status_code == 200, r.text
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", r.text)
    assert len(codes) == 10
    assert "recovery-codes" not in (await client.get("/admin/account/two-factor")).text
    return secret.group(1), codes


async def test_two_factor_enrolment_and_sign_in_with_a_code(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "compliance")
    secret, _ = await enrol(client, csrf, clock)
    await client.post("/admin/sign-out", data={"csrf": csrf})
    clock.advance(timedelta(minutes=1))
    r = await client.post("/admin/sign-in", data={"email": "compliance@example.com",
                                                  "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/admin/sign-in/code"
    # the password alone opens nothing but the code page
    assert (await client.get(f"/admin/tenants/{tenant.slug}")).headers["location"] == \
        "/admin/sign-in/code"
    page = await client.get("/admin/sign-in/code")
    pending_csrf = csrf_of(page)
    wrong = await client.post("/admin/sign-in/code", data={"csrf": pending_csrf,
                                                           "code": "123456"})
    assert wrong.status_code == 401
    code = pyotp.TOTP(secret).at(clock.now())
    r = await client.post("/admin/sign-in/code", data={"csrf": pending_csrf, "code": code})
    assert r.status_code == 303 and r.headers["location"] == f"/admin/tenants/{tenant.slug}"
    assert (await client.get(f"/admin/tenants/{tenant.slug}/live/audit")).status_code == 200
    # the same code does not work twice
    async with other_client(app) as thief:
        await thief.post("/admin/sign-in", data={"email": "compliance@example.com",
                                                 "password": PASSWORD})
        replay = await thief.post("/admin/sign-in/code", data={
            "csrf": csrf_of(await thief.get("/admin/sign-in/code")), "code": code})
        assert replay.status_code == 401


async def test_a_recovery_code_signs_in_once(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "support")
    _, codes = await enrol(client, csrf, clock)
    await client.post("/admin/sign-out", data={"csrf": csrf})

    async def with_recovery(code: str) -> int:
        async with other_client(app) as c:
            await c.post("/admin/sign-in", data={"email": "support@example.com",
                                                 "password": PASSWORD})
            r = await c.post("/admin/sign-in/code", data={
                "csrf": csrf_of(await c.get("/admin/sign-in/code")), "code": code})
            return r.status_code

    assert await with_recovery(codes[0].upper()) == 303
    assert await with_recovery(codes[0]) == 401  # used up
    assert await with_recovery(codes[1]) == 303
    used = await audit_rows(client, tenant, "operator.recovery_code_used")
    assert [row["after"]["recovery_codes_left"] for row in used] == [8, 9]


async def test_an_owner_can_require_two_factor_sign_in(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "owner")
    r = await client.post(f"/admin/tenants/{tenant.slug}/console-policy",
                          data={"csrf": csrf, "require_2fa": "on"})
    assert r.status_code == 303
    # the owner, without two-factor sign-in, is sent to set it up
    r = await client.get(f"/admin/tenants/{tenant.slug}")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/account/two-factor")
    await enrol(client, csrf, clock)
    assert (await client.get(f"/admin/tenants/{tenant.slug}")).status_code == 200
    off = await client.post("/admin/account/two-factor/disable",
                            data={"csrf": csrf, "password": PASSWORD})
    assert off.status_code == 403


# -- sessions ----------------------------------------------------------------------------


async def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "analyst")
    cookie = client.cookies["wowsino_console"]
    assert (await client.post("/admin/sign-out", data={"csrf": csrf})).status_code == 303
    async with other_client(app) as thief:
        thief.cookies.set("wowsino_console", cookie, path="/admin")
        r = await thief.get(f"/admin/tenants/{tenant.slug}")
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/sign-in")


async def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "marketing")
    async with other_client(app) as laptop:
        await operator_sign_in(laptop, "marketing@example.com")
        wrong = await client.post("/admin/account/password", data={
            "csrf": csrf, "current_password": "not it at all", "new_password": "a new password",
            "confirm": "a new password"})
        assert wrong.status_code == 400
        r = await client.post("/admin/account/password", data={
            "csrf": csrf, "current_password": PASSWORD, "new_password": "a brand new password",
            "confirm": "a brand new password"})
        assert r.status_code == 303
        assert (await laptop.get("/admin/account")).status_code == 303
        assert (await client.get("/admin/account")).status_code == 200
    async with other_client(app) as again:
        await operator_sign_in(again, "marketing@example.com", "a brand new password")


async def test_an_operator_lists_their_sessions_and_revokes_one(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "analyst")
    async with other_client(app) as phone:
        await operator_sign_in(phone, "analyst@example.com")
        page = await client.get("/admin/account/sessions")
        ids = re.findall(r'/admin/account/sessions/([0-9a-f-]{36})/revoke', page.text)
        assert len(ids) == 2
        rows = [row for row in page.text.split("<tr") if "/revoke" in row]
        others = [i for i in ids if not any(i in row and "this session" in row for row in rows)]
        assert len(others) == 1, "the page marks which session is this one"
        assert (await phone.get("/admin/account")).status_code == 200
        r = await client.post(f"/admin/account/sessions/{others[0]}/revoke",
                              data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/account/sessions")
        assert (await client.get("/admin/account")).status_code == 200  # this one goes on
        assert (await phone.get("/admin/account")).status_code == 303
    revoked = await audit_rows(client, tenant, "operator.session_revoked")
    assert revoked and revoked[0]["actor"]["type"] == "operator"


async def test_a_session_ends_after_thirty_idle_minutes(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    await signed_in_operator(app, client, tenant.id, "analyst")
    clock.advance(timedelta(minutes=29))
    assert (await client.get("/admin/account")).status_code == 200
    clock.advance(timedelta(minutes=29))
    assert (await client.get("/admin/account")).status_code == 200  # activity keeps it
    clock.advance(timedelta(minutes=30))
    r = await client.get("/admin/account")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/sign-in")


async def test_disabling_an_operator_ends_their_sessions(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "owner")
    sam = await add_operator(app, tenant.id, "sam@example.com", "support")
    async with other_client(app) as sams:
        await operator_sign_in(sams, "sam@example.com")
        r = await client.post(f"/admin/tenants/{tenant.slug}/operators/{sam}/status",
                              data={"csrf": csrf, "status": "disabled"})
        assert r.status_code == 303
        assert (await sams.get("/admin/account")).status_code == 303
        refused = await sams.post("/admin/sign-in", data={"email": "sam@example.com",
                                                          "password": PASSWORD})
        assert refused.status_code == 401
    me = await client.get(f"/admin/tenants/{tenant.slug}/operators")
    owner_id = re.search(r'/operators/([0-9a-f-]{36})">owner@', me.text)
    assert owner_id is not None
    itself = await client.post(f"/admin/tenants/{tenant.slug}/operators/{owner_id.group(1)}/status",
                               data={"csrf": csrf, "status": "disabled"})
    assert itself.status_code == 403


# -- brands and tenants ------------------------------------------------------------------


async def test_a_brand_scoped_operator_sees_only_their_brands_players(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                          json={"slug": "second", "name": "Second"})
    assert r.status_code == 201, r.text
    r = await client.post(f"/tenants/{tenant.id}/api-keys", headers=ADMIN, json={
        "mode": "test", "brand": "second", "name": "second"})
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]["key"]
    assert (await tenant.post("/v1/players", {"username": "main-player",
                                              "email": "m@x.io"})).status_code == 201
    r = await client.post("/v1/players", json={"username": "second-player", "email": "s@x.io"},
                          headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 201, r.text
    second_player = r.json()["player"]["user_id"]
    await signed_in_operator(app, client, tenant.id, "support", brand_ids=[tenant.brand_id])
    base = f"/admin/tenants/{tenant.slug}/test/players"
    page = await client.get(base)
    assert "main-player" in page.text and "second-player" not in page.text
    assert (await client.get(base, params={"brand": "second"})).status_code == 404
    assert (await client.get(f"{base}/second/{second_player}")).status_code == 404
    assert (await client.get(f"/admin/tenants/{tenant.slug}/test/webhooks")).status_code == 403


async def test_another_tenants_operator_sees_nothing_of_this_tenant(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    globex = await make_tenant(client, "globex")
    await signed_in_operator(app, client, globex.id, "owner")
    for path in (f"/admin/tenants/{tenant.slug}", f"/admin/tenants/{tenant.id}",
                 f"/admin/tenants/{tenant.slug}/test/players",
                 f"/admin/tenants/{tenant.slug}/live/audit",
                 f"/admin/tenants/{tenant.slug}/test/webhooks",
                 f"/admin/tenants/{tenant.slug}/operators"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "Acme" not in r.text
    assert (await client.get("/admin/tenants/globex")).status_code == 200


async def test_the_audit_page_names_the_operator_who_acted(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "admin", email="ada@example.com")
    r = await client.post(f"/admin/tenants/{tenant.slug}/brands",
                          data={"csrf": csrf, "slug": "second", "name": "Second"})
    assert r.status_code == 303
    page = await client.get(f"/admin/tenants/{tenant.slug}/live/audit",
                            params={"action": "brand.created"})
    row = re.search(r"<tr>\s*<td><code>\d+</code>.*?</tr>", page.text, re.S)
    assert row is not None and "ada@example.com" in row.group(0)


async def test_the_demo_tenant_gets_an_owner_who_can_sign_in(
    app: Any, client: httpx.AsyncClient, engine: Any, tmp_path: Any
) -> None:
    from wowsino.operators.demo import ensure_demo_owner
    from wowsino.tenants.demo import ensure_demo_tenant

    await ensure_demo_tenant(engine, tmp_path)
    owner = await ensure_demo_owner(engine, tmp_path, "demo")
    assert owner is not None
    assert await ensure_demo_owner(engine, tmp_path, "demo") == owner  # kept, not renewed
    await operator_sign_in(client, owner["email"], owner["password"])
    assert (await client.get("/admin/tenants/demo/test/players")).status_code == 200


async def operator_with_two_factor(app: Any, client: httpx.AsyncClient,
                                   sams: httpx.AsyncClient, tenant: Tenant,
                                   clock: Any) -> re.Match[str]:
    """Sam, a support operator signed in on ``sams`` with two-factor sign-in on; the match
    of Sam's id in the operators list that ``client`` (an owner) sees."""
    sam_csrf = await signed_in_operator(app, sams, tenant.id, "support", email="sam@example.com")
    await enrol(sams, sam_csrf, clock)
    people = await client.get(f"/admin/tenants/{tenant.slug}/operators")
    sam = re.search(r'/operators/([0-9a-f-]{36})">sam@', people.text)
    assert sam is not None
    return sam


async def test_an_owner_resets_the_two_factor_sign_in_of_an_operator_who_lost_their_device(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "owner")
    async with other_client(app) as sams:
        sam = await operator_with_two_factor(app, client, sams, tenant, clock)
        r = await client.post(
            f"/admin/tenants/{tenant.slug}/operators/{sam.group(1)}/two-factor/reset",
            data={"csrf": csrf})
        assert r.status_code == 303
        assert (await sams.get("/admin/account")).status_code == 303  # sessions ended
    async with other_client(app) as again:
        await operator_sign_in(again, "sam@example.com")  # the password alone, again
    again_reset = await client.post(
        f"/admin/tenants/{tenant.slug}/operators/{sam.group(1)}/two-factor/reset",
        data={"csrf": csrf})
    assert again_reset.status_code == 409
    rows = await audit_rows(client, tenant, "operator.two_factor_reset")
    assert len(rows) == 1 and rows[0]["target"]["id"] == sam.group(1)


async def test_an_owner_resets_a_forgotten_password_with_a_one_time_link(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "owner")
    async with other_client(app) as sams:
        sam = await operator_with_two_factor(app, client, sams, tenant, clock)
        people = await client.get(f"/admin/tenants/{tenant.slug}/operators")
        owner = re.search(r'/operators/([0-9a-f-]{36})">owner@', people.text)
        assert owner is not None
        page = f"/admin/tenants/{tenant.slug}/operators/{sam.group(1)}"
        r = await client.post(f"{page}/password-reset", data={"csrf": csrf})
        assert r.status_code == 303
        link = LINK.search((await client.get(r.headers["location"])).text)
        assert link is not None
        assert LINK.search((await client.get(page)).text) is None  # shown once
        assert (await sams.get("/admin/account")).status_code == 303  # sessions ended
    path = urlsplit(link.group(1)).path
    async with other_client(app) as again:  # the old password opens nothing any more
        r = await again.post("/admin/sign-in", data={"email": "sam@example.com",
                                                     "password": PASSWORD})
        assert r.status_code == 401
    reset_page = await client.get(path)
    assert reset_page.status_code == 200 and "A new password" in reset_page.text
    new_password = "a-brand-new-passphrase-42"
    r = await client.post(path, data={"password": new_password, "confirm": new_password})
    assert r.status_code == 303
    assert (await client.get(path)).status_code == 404  # used up
    async with other_client(app) as back:
        r = await back.post("/admin/sign-in", data={"email": "sam@example.com",
                                                    "password": new_password})
        # two-factor sign-in stayed on: the new password leads to the code step
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/sign-in/code")
    # not one's own password (that is changed on the account page), nor twice in a row
    own = await client.post(f"/admin/tenants/{tenant.slug}/operators/{owner.group(1)}"
                            "/password-reset", data={"csrf": csrf})
    assert own.status_code == 403
    r = await client.post(f"{page}/password-reset", data={"csrf": csrf})
    assert r.status_code == 303  # sam is active again: a second reset is allowed
    twice = await client.post(f"{page}/password-reset", data={"csrf": csrf})
    assert twice.status_code == 409  # waiting for the new password
    rows = await audit_rows(client, tenant, "operator.password_reset")
    assert len(rows) == 2 and {row["target"]["id"] for row in rows} == {sam.group(1)}
    assert rows[0]["actor"]["type"] == "operator"
