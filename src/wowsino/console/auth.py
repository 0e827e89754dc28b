"""The console session: a random id in a cookie, backed by a row on the server, held by
the platform admin (signed in with the admin token) or by an operator.

The cookie holds 32 random bytes (base64url) and nothing else; the server keeps a
SHA-256 of it with who holds the session (``sessions``), so signing out ends it for
every copy of the cookie. A session lasts 12 hours and ends after 30 minutes without a
request. Every POST form carries a CSRF token derived from the session id, so a token
lifted from one session is worthless in another. ``authorise`` checks a route's
permission (``permissions``) against the session's holder.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import Request, Response

from wowsino.console import sessions
from wowsino.console.permissions import (
    PLATFORM,
    PUBLIC,
    SECOND_FACTOR,
    SIGNED_IN,
    Permission,
    holds,
)
from wowsino.kernel.admin import client_address
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import DomainError, NotFound, ValidationFailed
from wowsino.kernel.ids import same_secret
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import ADMIN, Actor

COOKIE = "wowsino_console"
SHOWN_ONCE_COOKIE = "wowsino_console_once"
COOKIE_PATH = "/admin"
LIFETIME = sessions.LIFETIME
IDLE = sessions.IDLE
MAX_FORM_BYTES = 64 * 1024
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
_CSRF_LABEL = b"wowsino console csrf v1"


class SignInRequired(Exception):
    """No valid session: the console answers with a redirect to the sign-in page."""


class SecondFactorRequired(Exception):
    """The password is right and the code is still to come: to the code page."""


class EnrolmentRequired(Exception):
    """The tenant requires two-factor sign-in and this operator has not set it up."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token: refused with 403."""


class PermissionDenied(DomainError):
    status, code = 403, "PERMISSION_DENIED"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who holds a session: the platform admin, or an operator of one tenant."""

    role: str  # "platform" or the operator's role
    operator_id: UUID | None = None
    tenant_id: UUID | None = None
    tenant_slug: str = ""
    tenant_name: str = ""
    email: str = ""
    display_name: str = ""
    brand_ids: tuple[UUID, ...] = ()
    two_factor: bool = False
    require_2fa: bool = False

    @property
    def is_platform(self) -> bool:
        return self.role == PLATFORM

    @property
    def actor(self) -> Actor:
        return ADMIN if self.operator_id is None else Actor("operator", str(self.operator_id))

    @property
    def brand_scoped(self) -> bool:
        return bool(self.brand_ids)

    def may(self, permission: str) -> bool:
        return holds(self.role, permission, brand_scoped=self.brand_scoped)

    def sees_brand(self, brand_id: Any) -> bool:
        return not self.brand_ids or UUID(str(brand_id)) in self.brand_ids

    def operator_key(self) -> tuple[UUID, UUID]:
        """``(tenant_id, operator_id)`` of an operator's session."""
        if self.tenant_id is None or self.operator_id is None:
            raise PermissionDenied("only an operator has an account here")
        return self.tenant_id, self.operator_id

    def home(self) -> str:
        return "/admin/tenants" if self.is_platform else f"/admin/tenants/{self.tenant_slug}"


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    csrf_token: str
    public_id: UUID
    stage: str  # "active", or "mfa" while the second factor is awaited
    principal: Principal


def csrf_token(session_id: str) -> str:
    """The session's CSRF token: derived one way from the session id (which the page
    never shows), different for every session."""
    return hmac.new(session_id.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def token_matches(candidate: str, admin_token: str | None) -> bool:
    """Whether ``candidate`` is the admin token (constant time; never true without one)."""
    if not admin_token:
        return False
    return same_secret(candidate.strip(), admin_token)


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def current_session(request: Request) -> Session | None:
    """The session ``resolve_session`` found for this request (None when signed out)."""
    session: Session | None = getattr(request.state, "console_session", None)
    return session


def _principal(row: dict[str, Any]) -> Principal:
    if row["operator_id"] is None:
        return Principal(PLATFORM)
    return Principal(
        row["role"], row["operator_id"], row["tenant_id"], row["tenant_slug"],
        row["tenant_name"], row["email"], row["display_name"] or "",
        tuple(row["brand_ids"] or ()), bool(row["two_factor"]), bool(row["require_2fa"]))


async def resolve_session(request: Request) -> Session | None:
    """The request's session if the server still holds it open, its last activity moved
    to now. Leaves it on ``request.state`` for ``current_session``. The first call in a
    process ends the sessions of any previous admin token."""
    platform = _platform(request)
    admin_token = platform.settings.admin_token
    fingerprint = sessions.token_fingerprint(admin_token) if admin_token else None
    if admin_token and not getattr(request.app.state, "console_sessions_swept", False):
        await end_sessions_of_other_tokens(platform)
        request.app.state.console_sessions_swept = True
    session = None
    cookie = request.cookies.get(COOKIE) or ""
    if _SESSION_ID.fullmatch(cookie):
        now = platform.clock.now()
        row = await unit_of_work(platform.engine, lambda conn: sessions.touch(
            conn, session_id=cookie, fingerprint=fingerprint, now=now))
        if row is not None:
            session = Session(cookie, csrf_token(cookie), row["public_id"], row["stage"],
                              _principal(row))
    request.state.console_session = session
    return session


def authorise(request: Request, permission: Permission) -> None:
    """Refuse the request unless its session holds ``permission`` for what the URL names.

    No session: ``SignInRequired``. A sign-in awaiting its code reaches only the code
    page. An operator of a tenant that requires two-factor sign-in, without it, reaches
    only their account. An operator reaches only their own tenant (another is 404), and a
    brand-scoped one no page about the whole tenant (403)."""
    if permission.name == PUBLIC:
        return
    session = current_session(request)
    if session is None:
        raise SignInRequired
    if session.stage == "mfa":
        if permission.name == SECOND_FACTOR:
            return
        raise SecondFactorRequired
    if permission.name == SECOND_FACTOR:
        raise SignInRequired
    if permission.name == SIGNED_IN:
        return
    principal = session.principal
    if (not principal.is_platform and principal.require_2fa and not principal.two_factor
            and permission.name != "account"):
        raise EnrolmentRequired
    if principal.role not in permission.holders:
        raise PermissionDenied("your role does not allow this page or action")
    if principal.brand_scoped and permission.every_brand:
        raise PermissionDenied("this concerns every brand of the tenant; your access is "
                               "limited to some brands")
    ref = request.path_params.get("ref")
    if (not principal.is_platform and ref is not None
            and ref not in (principal.tenant_slug, str(principal.tenant_id))):
        raise NotFound(f"no tenant {ref!r}")


def principal_of(request: Request) -> Principal:
    """The holder of the request's (already authorised) session."""
    session = current_session(request)
    if session is None:
        raise SignInRequired
    return session.principal


def require_session(request: Request) -> Session:
    """The signed-in session, or ``SignInRequired``."""
    session = current_session(request)
    if session is None:
        raise SignInRequired
    return session


async def end_sessions_of_other_tokens(platform: Platform) -> None:
    """End every console session opened with an admin token other than the current one
    (run at start-up, and before the first session check of a process)."""
    admin_token = platform.settings.admin_token
    if admin_token:
        fingerprint, now = sessions.token_fingerprint(admin_token), platform.clock.now()
        await unit_of_work(platform.engine,
                           lambda conn: sessions.end_other_tokens(conn, fingerprint, now))


def session_facts(request: Request) -> tuple[str, str]:
    """Where a new session comes from, as its row records it: the client's address and
    its user agent."""
    return client_address(request), request.headers.get("user-agent", "")[:300]


async def start_admin_session(request: Request, response: Response) -> None:
    """Open a server-side session for the (already checked) admin and set its cookie."""
    platform = _platform(request)
    admin_token = platform.settings.admin_token
    assert admin_token is not None
    now, session_id = platform.clock.now(), new_session_id()
    address, agent = session_facts(request)
    await unit_of_work(platform.engine, lambda conn: sessions.open_session(
        conn, session_id=session_id, fingerprint=sessions.token_fingerprint(admin_token),
        at=now, client_address=address, user_agent=agent))
    set_session_cookie(response, request, session_id)


async def end_session(request: Request, session: Session) -> None:
    """Sign out on the server: the cookie (and every copy of it) stops working."""
    platform = _platform(request)
    now = platform.clock.now()
    await unit_of_work(platform.engine,
                       lambda conn: sessions.end_session(conn, session.session_id, now))


class Form:
    """A posted ``application/x-www-form-urlencoded`` form."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "", *, limit: int = 1000) -> str:
        """The last value named ``name`` (stripped), or ``default``; 400 beyond ``limit``
        characters."""
        values = self.all(name)
        value = values[-1].strip() if values else default
        if len(value) > limit:
            raise ValidationFailed(f"{name}: at most {limit} characters", field=name)
        return value

    def raw(self, name: str, *, limit: int = 256) -> str:
        """The last value named ``name`` as typed (a password keeps its spaces)."""
        values = self.all(name)
        value = values[-1] if values else ""
        if len(value) > limit:
            raise ValidationFailed(f"{name}: at most {limit} characters", field=name)
        return value

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]


async def read_form(request: Request) -> Form:
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise ValidationFailed("the form is too large")
    return Form(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))


async def checked_form(request: Request) -> tuple[Session, Form]:
    """The session and the posted form, refusing a form without the session's CSRF token."""
    session = require_session(request)
    form = await read_form(request)
    if not same_secret(form.get("csrf"), session.csrf_token):
        raise CsrfRefused
    return session, form


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or _platform(request).settings.production


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    """Attach the session: HttpOnly, SameSite=Strict, under /admin, Secure over HTTPS."""
    response.set_cookie(COOKIE, value, max_age=int(LIFETIME.total_seconds()), path=COOKIE_PATH,
                        secure=_secure(request), httponly=True, samesite="strict")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


def show_once(response: Response, request: Request, value: str) -> None:
    """Carry a secret to the page a redirect leads to (which shows it and forgets it):
    in a short-lived cookie, never in the URL nor on the server."""
    response.set_cookie(SHOWN_ONCE_COOKIE, value, max_age=120, path=COOKIE_PATH,
                        secure=_secure(request), httponly=True, samesite="strict")


def shown_once_value(request: Request) -> str:
    """The value ``show_once`` left for this page (``forget_shown_once`` removes it)."""
    return request.cookies.get(SHOWN_ONCE_COOKIE, "")[:300]


def forget_shown_once(request: Request, response: Response) -> Response:
    if SHOWN_ONCE_COOKIE in request.cookies:
        response.delete_cookie(SHOWN_ONCE_COOKIE, path=COOKIE_PATH, httponly=True,
                               samesite="strict")
    return response
