"""Console pages for a tenant's operators: the list, invitations, roles and brands,
disabling, and the tenant's sign-in rule (two-factor required)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Request, Response

from wowsino.console import sessions
from wowsino.console.auth import (
    Form,
    checked_form,
    forget_shown_once,
    principal_of,
    show_once,
    shown_once_value,
)
from wowsino.console.permissions import permission
from wowsino.console.views import ConsoleRoute, platform_of, render, see_other
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import DomainError, NotFound, ValidationFailed
from wowsino.kernel.ids import parse_uuid
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.operators import repository
from wowsino.operators import service as operators
from wowsino.players import approvals
from wowsino.tenants import service as tenants

T = TypeVar("T")

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def invitation_url(request: Request, token: str) -> str:
    base = platform_of(request).settings.public_url or str(request.base_url).rstrip("/")
    return f"{base}/admin/invitations/{token}"


def chosen_brands(form: Form, brands: list[dict[str, Any]]) -> list[UUID]:
    """The brand ids of the ticked brand slugs (none: every brand); 400 for another's."""
    by_slug = {b["slug"]: UUID(str(b["id"])) for b in brands}
    picked = form.all("brand")[: operators.MAX_BRANDS + 1]
    unknown = [slug for slug in picked if slug not in by_slug]
    if unknown:
        raise ValidationFailed(f"brands: no brand {unknown[0][:64]!r} in this tenant",
                               field="brands")
    return sorted({by_slug[slug] for slug in picked})


async def shown_invitation(conn: Any, request: Request, operator_id: Any) -> str | None:
    """The invitation link a redirect carried to this page, if it is this operator's
    current one (the page then has the browser forget it)."""
    owner, _, token = shown_once_value(request).partition(".")
    if not token or owner != str(operator_id):
        return None
    found = await repository.by_invitation(conn, operators.token_hash(token))
    return invitation_url(request, token) if found and found["id"] == operator_id else None


def _brand_names(brands: list[dict[str, Any]]) -> dict[str, str]:
    return {str(b["id"]): b["slug"] for b in brands}


async def _operators_page(request: Request, ref: str, *, status: int = 200,
                          error: str | None = None,
                          typed: dict[str, Any] | None = None) -> Response:
    async with read_only(platform_of(request).engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)
        brands = await tenants.list_brands(conn, tenant["id"])
        people = await operators.list_operators(conn, tenant["id"])
        policy = await operators.policy(conn, tenant["id"])
        above = await approvals.thresholds(conn, tenant["id"])
    return render(request, "operators.html", status_code=status, tenant=tenant, brands=brands,
                  approval_above={code: from_minor(v, ASSETS[code])
                                  for code, v in above.items() if code in ASSETS},
                  operators=people, policy=policy, error=error, roles=operators.ROLES,
                  role_names=operators.ROLE_NAMES, brand_names=_brand_names(brands),
                  typed=typed or {"email": "", "role": "support", "brands": []})


@router.get("/tenants/{ref}/operators")
@permission("operators.view")
async def list_operators(ref: str, request: Request) -> Response:
    return await _operators_page(request, ref)


@router.post("/tenants/{ref}/operators")
@permission("operators.manage")
async def invite_operator(ref: str, request: Request) -> Response:
    _, form = await checked_form(request)
    principal, p = principal_of(request), platform_of(request)
    email, role = form.get("email", limit=400), form.get("role", limit=40)
    typed = {"email": email, "role": role, "brands": form.all("brand")}
    async with read_only(p.engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)
        brands = await tenants.list_brands(conn, tenant["id"])
    try:
        brand_ids = chosen_brands(form, brands)
        at = p.clock.now()
        invitation = await unit_of_work(p.engine, lambda conn: operators.invite(
            conn, tenant_id=tenant["id"], email=email, role=role, brand_ids=brand_ids,
            actor=principal.actor, actor_role=principal.role, at=at))
    except DomainError as exc:
        return await _operators_page(request, ref, status=exc.status, error=exc.message,
                                     typed=typed)
    response = see_other(f"/admin/tenants/{tenant['slug']}/operators/{invitation.operator_id}")
    show_once(response, request, f"{invitation.operator_id}.{invitation.token}")
    return response


async def _operator_page(request: Request, ref: str, operator_ref: str, *, status: int = 200,
                         error: str | None = None) -> Response:
    operator_id = parse_uuid(operator_ref)
    if operator_id is None:
        raise NotFound("no such operator")
    async with read_only(platform_of(request).engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)
        brands = await tenants.list_brands(conn, tenant["id"])
        operator = await operators.get(conn, tenant["id"], operator_id)
        link = await shown_invitation(conn, request, operator_id)
    response = render(request, "operator.html", status_code=status, tenant=tenant,
                      brands=brands, operator=operator, error=error, roles=operators.ROLES,
                      role_names=operators.ROLE_NAMES, brand_names=_brand_names(brands),
                      invitation_link=link)
    return forget_shown_once(request, response)


@router.get("/tenants/{ref}/operators/{operator_id}")
@permission("operators.view")
async def show_operator(ref: str, operator_id: str, request: Request) -> Response:
    return await _operator_page(request, ref, operator_id)


async def _acting_operator(request: Request, conn: Any) -> dict[str, Any]:
    tenant_id, operator_id = principal_of(request).operator_key()
    return await operators.get(conn, tenant_id, operator_id)


def _target(operator_ref: str) -> UUID:
    operator_id = parse_uuid(operator_ref)
    if operator_id is None:
        raise NotFound("no such operator")
    return operator_id


@router.post("/tenants/{ref}/operators/{operator_id}")
@permission("operators.manage")
async def update_operator(ref: str, operator_id: str, request: Request) -> Response:
    _, form = await checked_form(request)
    p, target = platform_of(request), _target(operator_id)
    async with read_only(p.engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)
        brands = await tenants.list_brands(conn, tenant["id"])
    try:
        brand_ids, role, at = chosen_brands(form, brands), form.get("role", limit=40), p.clock.now()

        async def work(conn: Any) -> None:
            await operators.update_access(conn, actor_operator=await _acting_operator(
                request, conn), operator_id=target, role=role, brand_ids=brand_ids, at=at)

        await unit_of_work(p.engine, work)
    except DomainError as exc:
        return await _operator_page(request, ref, operator_id, status=exc.status,
                                    error=exc.message)
    return see_other(f"/admin/tenants/{tenant['slug']}/operators/{target}", "operator-updated")


@router.post("/tenants/{ref}/operators/{operator_id}/status")
@permission("operators.manage")
async def change_operator_status(ref: str, operator_id: str, request: Request) -> Response:
    _, form = await checked_form(request)
    p, target = platform_of(request), _target(operator_id)
    status, at = form.get("status", limit=40), p.clock.now()
    async with read_only(p.engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)

    async def work(conn: Any) -> None:
        await operators.set_status(conn, actor_operator=await _acting_operator(request, conn),
                                   operator_id=target, status=status, at=at)
        if status == "disabled":
            await sessions.end_operator_sessions(conn, tenant_id=tenant["id"],
                                                 operator_id=target, at=at,
                                                 reason="operator_disabled")

    try:
        await unit_of_work(p.engine, work)
    except DomainError as exc:
        return await _operator_page(request, ref, operator_id, status=exc.status,
                                    error=exc.message)
    return see_other(f"/admin/tenants/{tenant['slug']}/operators/{target}",
                     "operator-disabled" if status == "disabled" else "operator-enabled")


@router.post("/tenants/{ref}/operators/{operator_id}/invitation")
@permission("operators.manage")
async def renew_invitation(ref: str, operator_id: str, request: Request) -> Response:
    await checked_form(request)
    p, target, principal = platform_of(request), _target(operator_id), principal_of(request)
    at = p.clock.now()
    async with read_only(p.engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)
    try:
        invitation = await unit_of_work(p.engine, lambda conn: operators.renew_invitation(
            conn, tenant_id=tenant["id"], operator_id=target, actor=principal.actor, at=at))
    except DomainError as exc:
        return await _operator_page(request, ref, operator_id, status=exc.status,
                                    error=exc.message)
    response = see_other(f"/admin/tenants/{tenant['slug']}/operators/{target}")
    show_once(response, request, f"{invitation.operator_id}.{invitation.token}")
    return response


async def _reset(request: Request, ref: str, operator_id: str,
                 reset: Callable[..., Awaitable[T]]) -> tuple[Any, UUID, T]:
    """Reset something of another operator (``reset``: a service taking ``actor_operator``,
    ``operator_id`` and ``at``) and end their sessions, in one transaction; returns the
    tenant, the operator's id and what ``reset`` returned. Raises its DomainError."""
    await checked_form(request)
    p, target = platform_of(request), _target(operator_id)
    at = p.clock.now()
    async with read_only(p.engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)

    async def work(conn: Any) -> T:
        done = await reset(conn, actor_operator=await _acting_operator(request, conn),
                           operator_id=target, at=at)
        await sessions.end_operator_sessions(conn, tenant_id=tenant["id"], operator_id=target,
                                             at=at, reason="revoked")
        return done

    return tenant, target, await unit_of_work(p.engine, work)


@router.post("/tenants/{ref}/operators/{operator_id}/password-reset")
@permission("operators.manage")
async def reset_password(ref: str, operator_id: str, request: Request) -> Response:
    try:
        tenant, target, link = await _reset(request, ref, operator_id, operators.reset_password)
    except DomainError as exc:
        return await _operator_page(request, ref, operator_id, status=exc.status,
                                    error=exc.message)
    response = see_other(f"/admin/tenants/{tenant['slug']}/operators/{target}")
    show_once(response, request, f"{link.operator_id}.{link.token}")
    return response


@router.post("/tenants/{ref}/operators/{operator_id}/two-factor/reset")
@permission("operators.manage")
async def reset_two_factor(ref: str, operator_id: str, request: Request) -> Response:
    try:
        tenant, target, _ = await _reset(request, ref, operator_id, operators.reset_two_factor)
    except DomainError as exc:
        return await _operator_page(request, ref, operator_id, status=exc.status,
                                    error=exc.message)
    return see_other(f"/admin/tenants/{tenant['slug']}/operators/{target}", "two-factor-reset")


@router.post("/tenants/{ref}/console-policy")
@permission("console_policy.manage")
async def change_policy(ref: str, request: Request) -> Response:
    _, form = await checked_form(request)
    p, principal = platform_of(request), principal_of(request)
    choice = form.get("require_2fa", limit=10)
    if choice not in ("on", "off"):
        raise ValidationFailed("require_2fa: on or off", field="require_2fa")
    at = p.clock.now()
    async with read_only(p.engine) as conn:
        tenant = await tenants.get_tenant(conn, ref)
    await unit_of_work(p.engine, lambda conn: operators.set_policy(
        conn, tenant_id=tenant["id"], require_2fa=choice == "on", actor=principal.actor, at=at))
    return see_other(f"/admin/tenants/{tenant['slug']}/operators", "policy-updated")
