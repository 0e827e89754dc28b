"""No console form or page answers 500, whatever is typed: every POST route, posted by
someone allowed to, with each field far too long, with a NUL character, or missing;
every page with overlong query parameters; sign-in and invitations too. A refused form
is a page (HTML) that says why."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from tests.conftest import Tenant
from tests.integration.test_console_csrf import (
    CASES,
    NO_SESSION_ROUTES,
    concrete,
    console_post_routes,
    console_routes,
    filled,
    setting_up,
)

LONG = "x" * 5000
SPOILERS = {"too long": LONG, "a NUL": "a\x00b", "odd unicode": "\u202eключ\ufeff🂡"}


def _refusal_problem(label: str, r: httpx.Response) -> str | None:
    if r.status_code >= 500:
        return f"{label}: {r.status_code}"
    if r.status_code >= 400 and not r.headers.get("content-type", "").startswith("text/html"):
        return f"{label}: {r.status_code} is not a page"
    return None


async def test_no_console_form_answers_500_whatever_is_typed(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    values, signers = await setting_up(app, client, tenant, clock)
    problems: list[str] = []
    for template in sorted(console_post_routes(app) - NO_SESSION_ROUTES - {"/admin/sign-out"}):
        case = CASES[template]
        path = concrete(template, values, case)
        client.cookies.clear()
        csrf, _ = await signers[case.signer](client)
        form = filled(case.form, values)
        for field in [*form, "unexpected"]:
            for label, spoiler in SPOILERS.items():
                r = await client.post(path, data={**form, field: spoiler, "csrf": csrf})
                problem = _refusal_problem(f"POST {path} with {field} {label}", r)
                if problem:
                    problems.append(problem)
            if field in form:
                r = await client.post(path, data={**{k: v for k, v in form.items()
                                                     if k != field}, "csrf": csrf})
                problem = _refusal_problem(f"POST {path} without {field}", r)
                if problem:
                    problems.append(problem)
    assert not problems, "\n".join(problems)


async def test_no_console_page_answers_500_for_overlong_parameters(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any
) -> None:
    values, signers = await setting_up(app, client, tenant, clock)
    problems: list[str] = []
    for signer in ("platform", "owner"):
        client.cookies.clear()
        await signers[signer](client)
        for path, methods, _ in console_routes(app):
            if "GET" not in methods or path.startswith("/admin/static"):
                continue
            values = {**values, "brand": "main", "player": "alice"}
            long_values = {**values, **{name: LONG[:300] for name in (
                "player", "webhook_id", "operator_id", "ref", "kind", "entity_id", "jackpot_id",
                "raffle_id", "tournament_id", "template_id", "journey_id", "campaign_id", "rail",
                "asset")}}
            for chosen in (values, long_values):
                concrete_path = concrete(path, {**chosen, "token": LONG[:300]}, CASES["/admin/sign-out"])
                params = {name: LONG for name in ("query", "brand", "status", "cursor", "actor",
                                                  "action", "target", "since", "next",
                                                  "ledger_cursor", "timeline_cursor")}
                r = await client.get(concrete_path, params=params)
                problem = _refusal_problem(f"{signer}: GET {concrete_path[:80]}", r)
                if problem:
                    problems.append(problem)
    assert not problems, "\n".join(problems)


async def test_sign_in_and_invitations_refuse_anything_without_500(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    long_email = await client.post("/admin/sign-in", data={"email": LONG, "password": "x"})
    assert long_email.status_code == 400 and "at most 254" in long_email.text
    assert 'name="email"' in long_email.text  # the form again, with the reason
    problems = []
    for label, spoiler in SPOILERS.items():
        for form in ({"email": spoiler, "password": spoiler},
                     {"email": "a@example.com", "password": spoiler, "tenant": spoiler},
                     {"token": spoiler}, {"email": spoiler}, {}):
            r = await client.post("/admin/sign-in", data=form)
            if r.status_code >= 500:
                problems.append(f"sign-in with {label} {sorted(form)}: {r.status_code}")
        r = await client.post(f"/admin/invitations/{quote(spoiler[:300])}",
                              data={"password": spoiler, "confirm": spoiler, "name": spoiler})
        if r.status_code >= 500:
            problems.append(f"invitation with {label}: {r.status_code}")
    assert not problems, "\n".join(problems)
