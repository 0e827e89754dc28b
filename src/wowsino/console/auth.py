"""The console session: a signed cookie earned with the platform admin token, backed by a
row on the server.

The cookie holds ``base64url(payload).base64url(hmac)``; the payload names the moment
it was issued (by the platform clock) and a random session id. The HMAC key is
derived from the admin token, and the server keeps each session (``sessions``), so
signing out ends it for every copy of the cookie and changing the token ends every
session. A session lasts 12 hours. Every POST form carries a CSRF token derived from
the session id, so a token lifted from one session is worthless in another. Failed
sign-ins count against the admin throttle (``kernel.admin``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from fastapi import Request, Response

from wowsino.console import sessions
from wowsino.kernel.admin import client_address
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.platform import Platform

COOKIE = "wowsino_console"
COOKIE_PATH = "/admin"
LIFETIME = timedelta(hours=12)
MAX_FORM_BYTES = 64 * 1024
_KEY_LABEL = b"wowsino console session v1"
_CSRF_LABEL = b"csrf:"


class SignInRequired(Exception):
    """No valid session: the console answers with a redirect to the sign-in page."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token: refused with 403."""


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    issued_at: int  # Unix seconds, platform clock
    csrf_token: str


def session_key(admin_token: str) -> bytes:
    """The signing key of console sessions, derived from (never equal to) the admin token."""
    return hmac.new(admin_token.encode(), _KEY_LABEL, hashlib.sha256).digest()


def token_matches(candidate: str, admin_token: str | None) -> bool:
    """Whether ``candidate`` is the admin token (constant time; never true without one)."""
    if not admin_token:
        return False
    return hmac.compare_digest(candidate.strip().encode(), admin_token.encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def csrf_token(key: bytes, session_id: str) -> str:
    return hmac.new(key, _CSRF_LABEL + session_id.encode(), hashlib.sha256).hexdigest()


def issue(key: bytes, now: datetime, session_id: str | None = None) -> str:
    """A new signed cookie value, issued at ``now``."""
    payload = json.dumps({"sid": session_id or secrets.token_hex(16),
                          "iat": int(now.timestamp())}, separators=(",", ":")).encode()
    body = _b64(payload)
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def verify(key: bytes, cookie: str | None, now: datetime) -> Session | None:
    """The session in ``cookie`` if its signature holds and it has not expired, else None."""
    if not cookie or cookie.count(".") != 1:
        return None
    body, signature = cookie.split(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        payload = json.loads(_unb64(body))
        session_id, issued_at = str(payload["sid"]), int(payload["iat"])
    except (ValueError, KeyError, TypeError):
        return None
    age = now.timestamp() - issued_at
    if age < -60 or age >= LIFETIME.total_seconds():  # a minute's skew, then 12 h
        return None
    return Session(session_id, issued_at, csrf_token(key, session_id))


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def current_session(request: Request) -> Session | None:
    """The session ``resolve_session`` found for this request (None when signed out)."""
    session: Session | None = getattr(request.state, "console_session", None)
    return session


async def resolve_session(request: Request) -> Session | None:
    """The request's session if its cookie is genuine and the server still holds it open.

    Leaves it on ``request.state`` for ``current_session``. The first call in a process
    ends the sessions of any previous admin token.
    """
    platform = _platform(request)
    admin_token = platform.settings.admin_token
    session = None
    if admin_token:
        now = platform.clock.now()
        session = verify(session_key(admin_token), request.cookies.get(COOKIE), now)
        fingerprint = sessions.token_fingerprint(admin_token)
        if not getattr(request.app.state, "console_sessions_swept", False):
            await end_sessions_of_other_tokens(platform)
            request.app.state.console_sessions_swept = True
        if session is not None:
            async with read_only(platform.engine) as conn:
                if not await sessions.is_open(conn, session_id=session.session_id,
                                              fingerprint=fingerprint, now=now):
                    session = None
    request.state.console_session = session
    return session


async def end_sessions_of_other_tokens(platform: Platform) -> None:
    """End every console session opened with an admin token other than the current one
    (run at start-up, and before the first session check of a process)."""
    admin_token = platform.settings.admin_token
    if admin_token:
        fingerprint, now = sessions.token_fingerprint(admin_token), platform.clock.now()
        await unit_of_work(platform.engine,
                           lambda conn: sessions.end_other_tokens(conn, fingerprint, now))


async def start_session(request: Request, response: Response) -> None:
    """Open a server-side session for the (already checked) admin and set its cookie."""
    platform = _platform(request)
    admin_token = platform.settings.admin_token
    assert admin_token is not None
    now, session_id = platform.clock.now(), secrets.token_hex(16)
    await unit_of_work(platform.engine, lambda conn: sessions.open_session(
        conn, session_id=session_id, fingerprint=sessions.token_fingerprint(admin_token),
        client_address=client_address(request), at=now, expires_at=now + LIFETIME))
    set_session_cookie(response, request, issue(session_key(admin_token), now, session_id))


async def end_session(request: Request, session: Session) -> None:
    """Sign out on the server: the cookie (and every copy of it) stops working."""
    platform = _platform(request)
    now = platform.clock.now()
    await unit_of_work(platform.engine,
                       lambda conn: sessions.end_session(conn, session.session_id, now))


def require_session(request: Request) -> Session:
    """The signed-in session, or ``SignInRequired``."""
    session = current_session(request)
    if session is None:
        raise SignInRequired
    return session


class Form:
    """A posted ``application/x-www-form-urlencoded`` form."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        """The last value named ``name`` (stripped), or ``default``."""
        values = self.all(name)
        return values[-1].strip() if values else default

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
    if not hmac.compare_digest(form.get("csrf").encode(), session.csrf_token.encode()):
        raise CsrfRefused
    return session, form


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    """Attach the session: HttpOnly, SameSite=Strict, under /admin, Secure over HTTPS."""
    secure = request.url.scheme == "https" or _platform(request).settings.production
    response.set_cookie(COOKIE, value, max_age=int(LIFETIME.total_seconds()), path=COOKIE_PATH,
                        secure=secure, httponly=True, samesite="strict")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
