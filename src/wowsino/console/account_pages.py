"""An operator's own account: password, two-factor sign-in, and their sessions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from wowsino.console import sessions
from wowsino.console.auth import MAX_FORM_BYTES, checked_form, principal_of, require_session
from wowsino.console.permissions import permission
from wowsino.console.views import ConsoleRoute, platform_of, render, safe_next, see_other
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import DomainError, NotFound
from wowsino.kernel.ids import parse_uuid
from wowsino.operators import service as operators
from wowsino.operators import signin, twofactor

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


async def _me(request: Request) -> dict[str, Any]:
    tenant_id, operator_id = principal_of(request).operator_key()
    async with read_only(platform_of(request).engine) as conn:
        return await operators.get(conn, tenant_id, operator_id)


async def _account_page(request: Request, *, status: int = 200,
                        error: str | None = None) -> Response:
    me = await _me(request)
    return render(request, "account.html", status_code=status, me=me, error=error,
                  role_name=operators.ROLE_NAMES[me["role"]])


@router.get("/account")
@permission("account")
async def show_account(request: Request) -> Response:
    return await _account_page(request)


@router.post("/account/password")
@permission("account")
async def change_password(request: Request) -> Response:
    session, form = await checked_form(request)
    platform = platform_of(request)
    principal = session.principal
    tenant_id, operator_id = principal.operator_key()
    try:
        current, new = form.raw("current_password"), form.raw("new_password")
        if new != form.raw("confirm"):
            raise DomainError("confirm: the two new passwords differ", field="confirm")
        at = platform.clock.now()
        me = await _me(request)

        async def work(conn: Any) -> None:
            await operators.change_password(conn, operator=me, current=current, new=new, at=at)
            await sessions.end_operator_sessions(
                conn, tenant_id=tenant_id, operator_id=operator_id, at=at,
                reason="password_changed", keep_session_id=session.session_id)

        await unit_of_work(platform.engine, work)
    except DomainError as exc:
        return await _account_page(request, status=exc.status, error=exc.message)
    return see_other("/admin/account", "password-changed")


async def _two_factor_page(request: Request, *, status: int = 200, error: str | None = None,
                           recovery_codes: list[str] | None = None,
                           next_path: str = "") -> Response:
    me = await _me(request)
    principal = principal_of(request)
    pending = me["totp_pending_secret"]
    qr = None
    if pending and not me["totp_secret"]:
        qr = twofactor.qr_svg(twofactor.provisioning_uri(pending, me["email"],
                                                        principal.tenant_name))
    return render(request, "two_factor.html", status_code=status, me=me, error=error,
                  qr=qr, pending=pending, recovery_codes=recovery_codes, next=next_path,
                  required=principal.require_2fa, home=principal.home())


@router.get("/account/two-factor")
@permission("account")
async def show_two_factor(request: Request, next: str | None = None) -> Response:
    return await _two_factor_page(request, next_path=safe_next(next))


@router.post("/account/two-factor/setup")
@permission("account")
async def start_two_factor(request: Request) -> Response:
    _, form = await checked_form(request)
    platform = platform_of(request)
    me, at = await _me(request), platform.clock.now()
    try:
        await unit_of_work(platform.engine, lambda conn: operators.start_two_factor(
            conn, operator=me, at=at))
    except DomainError as exc:
        return await _two_factor_page(request, status=exc.status, error=exc.message)
    next_path = safe_next(form.get("next", limit=MAX_FORM_BYTES))
    return see_other("/admin/account/two-factor"
                     + (f"?next={quote(next_path)}" if next_path else ""))


@router.post("/account/two-factor/confirm")
@permission("account")
async def confirm_two_factor(request: Request) -> Response:
    _, form = await checked_form(request)
    platform = platform_of(request)
    me, at = await _me(request), platform.clock.now()
    next_path = safe_next(form.get("next", limit=MAX_FORM_BYTES))
    code = form.get("code", limit=64)
    try:
        codes = await unit_of_work(platform.engine, lambda conn: operators.confirm_two_factor(
            conn, operator=me, code=code, at=at))
    except DomainError as exc:
        return await _two_factor_page(request, status=exc.status, error=exc.message,
                                      next_path=next_path)
    return await _two_factor_page(request, recovery_codes=codes, next_path=next_path)


@router.post("/account/two-factor/disable")
@permission("account")
async def turn_off_two_factor(request: Request) -> Response:
    _, form = await checked_form(request)
    platform = platform_of(request)
    me, at = await _me(request), platform.clock.now()
    password = form.raw("password")
    try:
        await unit_of_work(platform.engine, lambda conn: operators.turn_off_two_factor(
            conn, operator=me, password=password, at=at))
    except DomainError as exc:
        return await _two_factor_page(request, status=exc.status, error=exc.message)
    return see_other("/admin/account/two-factor", "two-factor-off")


@router.get("/account/sessions")
@permission("account")
async def list_sessions(request: Request) -> Response:
    session = require_session(request)
    tenant_id, operator_id = session.principal.operator_key()
    platform = platform_of(request)
    async with read_only(platform.engine) as conn:
        rows = await sessions.list_open(conn, tenant_id=tenant_id, operator_id=operator_id,
                                        now=platform.clock.now())
    return render(request, "sessions.html", sessions=rows, current=session.public_id,
                  idle_minutes=int(sessions.IDLE.total_seconds() // 60))


@router.post("/account/sessions/{session_id}/revoke")
@permission("account")
async def revoke_session(session_id: str, request: Request) -> Response:
    session, _ = await checked_form(request)
    tenant_id, operator_id = session.principal.operator_key()
    platform = platform_of(request)
    public_id, at = parse_uuid(session_id), platform.clock.now()
    if public_id is None:
        raise NotFound("no such session")

    async def work(conn: Any) -> bool:
        ended = await sessions.revoke(conn, tenant_id=tenant_id, operator_id=operator_id,
                                      public_id=public_id, at=at)
        if ended:
            await signin.record_session_end(conn, tenant_id=tenant_id,
                                               operator_id=operator_id, action="revoked",
                                               session_id=public_id, at=at)
        return ended

    ended = await unit_of_work(platform.engine, work)
    if not ended:
        raise NotFound("no such open session")
    if public_id == session.public_id:
        return see_other("/admin/sign-in")
    return see_other("/admin/account/sessions", "session-revoked")
