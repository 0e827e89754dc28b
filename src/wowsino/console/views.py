"""Rendering for the console: templates, display filters, and the route class that
turns refusals into pages (sign-in redirects, 403 for a forged form, error pages)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from wowsino.console import sentences
from wowsino.console.auth import (
    CsrfRefused,
    EnrolmentRequired,
    SecondFactorRequired,
    SignInRequired,
    authorise,
    current_session,
    resolve_session,
)
from wowsino.console.permissions import Permission, route_permission
from wowsino.kernel.errors import DomainError, NotFound
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Mode

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

# Messages shown after a redirect; the query names one of these, never free text.
NOTICES = {
    "key-revoked": "The API key was revoked. Requests with it are refused from now on.",
    "key-created": "The API key was created.",
    "status-changed": "The player's status was changed; the reason is in their notes.",
    "adjusted": "The balance was adjusted.",
    "adjustment-waiting": "The adjustment is above the tenant's threshold: it waits for a "
                          "second operator to approve it. Nothing has moved yet.",
    "adjustment-approved": "The adjustment was approved and posted.",
    "adjustment-rejected": "The adjustment was rejected: nothing moved.",
    "adjustment-policy-saved": "The approval threshold was saved.",
    "limits-saved": "The limits were saved: a tighter limit applies now, a looser one after "
                    "the cooling-off shown beside it.",
    "tenant-suspended": "The tenant is suspended: its API keys are refused with 403.",
    "tenant-active": "The tenant is active again.",
    "brand-created": "The brand was added.",
    "redelivered": "The delivery was queued again; the worker sends it now.",
    "withdrawal-approved": "The withdrawal was approved: its payout was sent to the PSP.",
    "withdrawal-rejected": "The withdrawal was rejected: its amount is back in the player's "
                           "balance.",
    "joined": "Your password is set. Sign in with your email and password.",
    "password-changed": "Your password was changed. Your other sessions were ended.",
    "session-revoked": "The session was ended.",
    "two-factor-off": "Two-factor sign-in is off.",
    "two-factor-required": "Your tenant requires two-factor sign-in: set it up to continue.",
    "two-factor-suggested": "Protect your account: set up two-factor sign-in.",
    "operator-updated": "The operator's access was changed.",
    "operator-disabled": "The operator was disabled and their sessions were ended.",
    "operator-enabled": "The operator can sign in again.",
    "policy-updated": "The sign-in rule was saved.",
    "two-factor-reset": "Two-factor sign-in was turned off for the operator and their "
                        "sessions ended; they set it up again after signing in.",
    "raffle-drawn": "The raffle was drawn: the winner's prize is credited.",
    "tournament-closed": "The tournament was closed: its prize table was paid to the final "
                         "leaderboard.",
    "dry-run-recorded": "The dry run is done: what a run now would do is below. Nothing was "
                        "granted.",
    "prize-table-saved": "The prize table was saved: the next draw uses it (a new table hash).",
}
# The prize-table editor's page may load the console's own scripts, and nothing else.
SCRIPTED_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def money(value: Any, code: str = "") -> str:
    """An amount already at its asset's scale, with thousands separators."""
    if value is None:
        return "—"
    text = f"{Decimal(value):,}" if isinstance(value, Decimal | int | str) else str(value)
    return f"{text} {code}".strip()


def minor(value: Any, code: str) -> str:
    """An amount in minor units of the asset ``code``, at its scale with the code."""
    if value is None:
        return "—"
    return money(from_minor(int(value), ASSETS[code]), code)


def when(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def short_id(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 13 else f"{text[:8]}…{text[-4:]}"


def actor(label: Any) -> str:
    """``api_key:0190…1a2b``: an actor label with its id shortened."""
    kind, _, ident = str(label).partition(":")
    return f"{kind}:{short_id(ident)}" if ident else kind


def signed(value: Any) -> str:
    """``positive``, ``negative`` or ``zero``: a CSS class for an amount."""
    number = Decimal(value or 0)
    return "positive" if number > 0 else "negative" if number < 0 else "zero"


def describe(action: str, before: Any, after: Any,
             currency: Any = None) -> sentences.Description:
    """An audit row as a sentence and its changes (``sentences.describe``)."""
    return sentences.describe(action, before, after, currency=currency)


templates.env.filters.update(money=money, minor=minor, when=when, describe=describe,
                             short_id=short_id, signed=signed, actor=actor)


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def parse_mode(raw: str) -> Mode:
    try:
        return Mode(raw)
    except ValueError:
        raise NotFound(f"no mode {raw!r}: live or test") from None


def render(
    request: Request, name: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``name`` with the session, its CSRF token and the optional notice."""
    session = current_session(request)
    principal = session.principal if session is not None and session.stage == "active" else None
    notice = NOTICES.get(request.query_params.get("notice", ""))
    mode = context.get("mode")
    if mode is not None and context.get("tenant") is not None and context.get("section"):
        other = "live" if mode == "test" else "test"
        context.setdefault("switch_url",
                           f"/admin/tenants/{context['tenant']['slug']}/{other}/{context['section']}")
    response = templates.TemplateResponse(
        request, name, {"session": session if principal else None, "principal": principal,
                        "csrf": session.csrf_token if session else "",
                        "notice": notice, **context},
        status_code=status_code,
    )
    return response


def safe_next(raw: str | None) -> str:
    """Only a console path may follow sign-in or a set-up (no open redirect); "" for the
    default."""
    if (raw and len(raw) <= 2000 and raw.startswith("/admin/") and not raw.startswith("//")
            and "\\" not in raw):
        return raw
    return ""


def see_other(path: str, notice: str | None = None) -> RedirectResponse:
    """A 303 to ``path`` after a POST, optionally with a notice."""
    target = f"{path}?notice={notice}" if notice else path
    return RedirectResponse(target, status_code=303)


def _error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, title=title, message=message)


class ConsoleRoute(APIRoute):
    """Console routes: each names its permission (``@permission``), checked before the page
    runs; refusals become pages, and every answer carries the security headers."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        found = route_permission(endpoint)
        if found is None:
            raise TypeError(f"console route {path} names no permission (@permission)")
        self.permission: Permission = found
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response: Response
            try:
                await resolve_session(request)
                authorise(request, self.permission)
                response = await original(request)
            except SignInRequired:
                target = "/admin/"
                if request.method == "GET":
                    query = request.url.query
                    target = request.url.path + (f"?{query}" if query else "")
                response = RedirectResponse(f"/admin/sign-in?next={quote(target, safe='/')}",
                                            status_code=303)
            except SecondFactorRequired:
                response = RedirectResponse("/admin/sign-in/code", status_code=303)
            except EnrolmentRequired:
                response = RedirectResponse("/admin/account/two-factor?notice=two-factor-required",
                                            status_code=303)
            except CsrfRefused:
                response = _error_page(request, 403, "Form refused",
                                       "This form did not carry this session's security token. "
                                       "Reload the page and try again.")
            except DomainError as exc:
                title = "Not found" if exc.status == 404 else "Refused"
                response = _error_page(request, exc.status, title, exc.message)
            except RequestValidationError:
                response = _error_page(request, 404, "Not found", "No such console page.")
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler
