"""``/admin``: the operator console (server-rendered pages, plain links and forms).

Operators sign in with their email and password (and a code from their authenticator
app when two-factor sign-in is on); the platform admin with the admin token
(``WOWSINO_ADMIN_TOKEN``). Every other page needs the session cookie sign-in sets and
the permission its route names (``permissions``); every POST form its CSRF token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from wowsino.console import (
    account_pages,
    activity_pages,
    bonus_pages,
    crm_pages,
    engine_pages,
    jackpot_pages,
    journey_pages,
    operator_pages,
    player_actions,
    player_pages,
    prize_pages,
    queue_pages,
    raffle_pages,
    sessions,
    tenant_pages,
    tournament_pages,
)
from wowsino.console.auth import (
    MAX_FORM_BYTES,
    checked_form,
    clear_session_cookie,
    current_session,
    end_session,
    new_session_id,
    principal_of,
    read_form,
    session_facts,
    set_session_cookie,
    start_admin_session,
    token_matches,
)
from wowsino.console.permissions import PUBLIC, SECOND_FACTOR, SIGNED_IN, permission
from wowsino.console.views import HERE, ConsoleRoute, platform_of, render, safe_next
from wowsino.kernel.admin import AdminLockedOut, client_address
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import ValidationFailed
from wowsino.operators import service as operators
from wowsino.operators import signin

router = APIRouter(prefix="/admin", route_class=ConsoleRoute, include_in_schema=False)

WRONG_CREDENTIALS = "That email and password do not match an account."
_TENANT_NAME = text("SELECT name FROM tenants WHERE id = :t")


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' * (minutes != 1)}"


def _sign_in_page(request: Request, *, status: int = 200, error: str | None = None,
                  next_path: str = "", retry_after: int | None = None, email: str = "",
                  tenant: str = "") -> Response:
    response = render(request, "sign_in.html", status_code=status, next=next_path, error=error,
                      typed={"email": email, "tenant": tenant},
                      admin_enabled=platform_of(request).settings.admin_token is not None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get("")
@router.get("/")
@permission(SIGNED_IN)
async def home(request: Request) -> Response:
    return RedirectResponse(principal_of(request).home(), status_code=303)


@router.get("/sign-in")
@permission(PUBLIC)
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    session = current_session(request)
    if session is not None and session.stage == "active":
        return RedirectResponse(safe_next(next) or session.principal.home(), status_code=303)
    return _sign_in_page(request, next_path=safe_next(next))


@router.post("/sign-in")
@permission(PUBLIC)
async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    platform = platform_of(request)
    next_path = safe_next(form.get("next", limit=MAX_FORM_BYTES))
    address, now = client_address(request), platform.clock.now().timestamp()
    try:
        platform.admin_throttle.check(address, now)
    except AdminLockedOut as exc:
        return _sign_in_page(
            request, status=429, next_path=next_path, retry_after=exc.retry_after,
            error=f"Too many failed sign-ins from your address. Try again in about "
                  f"{_minutes(exc.retry_after)}.")
    try:
        if form.all("token"):
            return await _admin_sign_in(request, form.get("token", limit=1000), next_path)
        email, tenant = form.get("email", limit=254), form.get("tenant", limit=64)
        password = form.raw("password", limit=256)
    except ValidationFailed as exc:
        return _sign_in_page(request, status=400, next_path=next_path, error=exc.message)
    return await _operator_sign_in(request, email, password, tenant, next_path)


async def _admin_sign_in(request: Request, token: str, next_path: str) -> Response:
    platform = platform_of(request)
    admin_token = platform.settings.admin_token
    address, now = client_address(request), platform.clock.now().timestamp()
    if admin_token is None or not token_matches(token, admin_token):
        platform.admin_throttle.failed(address, now)
        error = ("That is not the admin token." if admin_token
                 else "No admin token is configured (set WOWSINO_ADMIN_TOKEN).")
        return _sign_in_page(request, status=401, next_path=next_path, error=error)
    platform.admin_throttle.succeeded(address)
    signed_in = RedirectResponse(next_path or "/admin/tenants", status_code=303)
    await start_admin_session(request, signed_in)
    return signed_in


async def _operator_sign_in(request: Request, email: str, password: str, tenant: str,
                            next_path: str) -> Response:
    platform = platform_of(request)
    address, at = client_address(request), platform.clock.now()
    outcome = await unit_of_work(platform.engine, lambda conn: signin.authenticate(
        conn, email=email, password=password, tenant_slug=tenant or None, at=at))
    operator = outcome.operator
    if operator is None:
        platform.admin_throttle.failed(address, at.timestamp())
        if outcome.locked_seconds:
            return _sign_in_page(
                request, status=429, next_path=next_path, retry_after=outcome.locked_seconds,
                error="Too many failed sign-ins for this account. It is locked for about "
                      f"{_minutes(outcome.locked_seconds)}.", email=email, tenant=tenant)
        if outcome.ambiguous:
            return _sign_in_page(request, status=401, next_path=next_path, email=email,
                                 tenant=tenant, error="This email has accounts with several "
                                                      "tenants: give the tenant too.")
        return _sign_in_page(request, status=401, next_path=next_path, error=WRONG_CREDENTIALS,
                             email=email, tenant=tenant)
    platform.admin_throttle.succeeded(address)
    session_id = new_session_id()
    if operator["totp_secret"]:
        address, agent = session_facts(request)
        await unit_of_work(platform.engine, lambda conn: sessions.open_session(
            conn, session_id=session_id, at=at, tenant_id=operator["tenant_id"],
            operator_id=operator["id"], stage="mfa", client_address=address,
            user_agent=agent))
        target = "/admin/sign-in/code" + (f"?next={quote(next_path)}" if next_path else "")
    else:
        await _open_operator_session(request, operator, session_id)
        target = "/admin/account/two-factor?notice=two-factor-suggested" + (
            f"&next={quote(next_path)}" if next_path else "")
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, session_id)
    return response


async def _open_operator_session(request: Request, operator: dict[str, Any],
                                 session_id: str, *, pending_id: str | None = None) -> None:
    """Open the operator's session (ending the sign-in that awaited its second factor)."""
    platform = platform_of(request)
    at, (address, agent) = platform.clock.now(), session_facts(request)

    async def work(conn: Any) -> None:
        if pending_id is not None:
            await sessions.end_session(conn, pending_id, at, "second_factor")
        await sessions.open_session(conn, session_id=session_id, at=at,
                                    tenant_id=operator["tenant_id"],
                                    operator_id=operator["id"], client_address=address,
                                    user_agent=agent)
        await signin.signed_in(conn, operator, at, address)

    await unit_of_work(platform.engine, work)


@router.get("/sign-in/code")
@permission(SECOND_FACTOR)
async def second_factor_form(request: Request, next: str | None = None) -> Response:
    return render(request, "sign_in_code.html", next=safe_next(next), error=None)


@router.post("/sign-in/code")
@permission(SECOND_FACTOR)
async def second_factor(request: Request) -> Response:
    session, form = await checked_form(request)
    platform = platform_of(request)
    principal = session.principal
    next_path = safe_next(form.get("next", limit=MAX_FORM_BYTES))
    address, at = client_address(request), platform.clock.now()
    code = form.get("code", limit=64)
    tenant_id, operator_id = principal.operator_key()
    outcome = await unit_of_work(platform.engine, lambda conn: signin.second_factor(
        conn, tenant_id=tenant_id, operator_id=operator_id, code=code, at=at))
    if outcome.operator is None:
        platform.admin_throttle.failed(address, at.timestamp())
        if outcome.locked_seconds:
            await end_session(request, session)
            response = _sign_in_page(
                request, status=429, retry_after=outcome.locked_seconds,
                error="Too many failed sign-ins for this account. It is locked for about "
                      f"{_minutes(outcome.locked_seconds)}.")
            clear_session_cookie(response)
            return response
        return render(request, "sign_in_code.html", status_code=401, next=next_path,
                      error="That code is not right. Enter the code your authenticator app "
                            "shows now, or one of your recovery codes.")
    session_id = new_session_id()
    await _open_operator_session(request, outcome.operator, session_id,
                                 pending_id=session.session_id)
    response = RedirectResponse(next_path or f"/admin/tenants/{principal.tenant_slug}",
                                status_code=303)
    set_session_cookie(response, request, session_id)
    return response


@router.post("/sign-out")
@permission(SIGNED_IN)
async def sign_out(request: Request) -> Response:
    session, _ = await checked_form(request)
    principal, at = session.principal, platform_of(request).clock.now()

    async def work(conn: Any) -> None:
        await sessions.end_session(conn, session.session_id, at)
        if principal.operator_id is not None and principal.tenant_id is not None:
            await signin.record_session_end(
                conn, tenant_id=principal.tenant_id, operator_id=principal.operator_id,
                action="signed_out", session_id=session.public_id, at=at)

    await unit_of_work(platform_of(request).engine, work)
    response = RedirectResponse("/admin/sign-in", status_code=303)
    clear_session_cookie(response)
    return response


# -- invitations -------------------------------------------------------------------------


async def _invitation_page(request: Request, token: str, *, status: int = 200,
                           error: str | None = None, typed_name: str = "") -> Response:
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        operator = await operators.open_invitation(conn, token[:200], platform.clock.now())
        tenant = await conn.scalar(_TENANT_NAME, {"t": operator["tenant_id"]})
    return render(request, "invitation.html", status_code=status, invited=operator,
                  tenant_name=tenant, token=token, error=error, typed_name=typed_name,
                  role_name=operators.ROLE_NAMES[operator["role"]])


@router.get("/invitations/{token}")
@permission(PUBLIC)
async def show_invitation(token: str, request: Request) -> Response:
    return await _invitation_page(request, token)


@router.post("/invitations/{token}")
@permission(PUBLIC)
async def accept_invitation(token: str, request: Request) -> Response:
    form = await read_form(request)
    platform = platform_of(request)
    name = form.get("name", limit=operators.MAX_NAME)
    try:
        password = form.raw("password", limit=1000)
        if password != form.raw("confirm", limit=1000):
            raise ValidationFailed("confirm: the two passwords differ", field="confirm")
        at = platform.clock.now()
        await unit_of_work(platform.engine, lambda conn: operators.accept_invitation(
            conn, token=token[:200], password=password, display_name=name, at=at))
    except ValidationFailed as exc:
        return await _invitation_page(request, token, status=400, error=exc.message,
                                      typed_name=name)
    return RedirectResponse("/admin/sign-in?notice=joined", status_code=303)


for pages in (tenant_pages, operator_pages, account_pages, player_pages, activity_pages,
              queue_pages, engine_pages, jackpot_pages, raffle_pages, tournament_pages,
              bonus_pages, journey_pages, crm_pages, prize_pages, player_actions):
    router.include_router(pages.router)


def install_console(app: FastAPI) -> None:
    """Serve the console and its stylesheet under ``/admin``."""
    app.mount("/admin/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)
