"""The console session: a signed cookie earned with the platform admin token.

The cookie holds ``base64url(payload).base64url(hmac)``; the payload names the moment
it was issued (by the platform clock) and a random session id. The HMAC key is
derived from the admin token, so changing the token signs every session out. A
session lasts 12 hours. Every POST form carries a CSRF token derived from the
session id, so a token lifted from one session is worthless in another.
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


def issue(key: bytes, now: datetime) -> str:
    """A new signed cookie value, issued at ``now``."""
    payload = json.dumps({"sid": secrets.token_hex(16), "iat": int(now.timestamp())},
                         separators=(",", ":")).encode()
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
    platform = _platform(request)
    admin_token = platform.settings.admin_token
    if not admin_token:
        return None
    return verify(session_key(admin_token), request.cookies.get(COOKIE), platform.clock.now())


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
