"""``/admin``: the operator console (server-rendered pages, plain links and forms).

Signing in takes the platform admin token (``WOWSINO_ADMIN_TOKEN``); every other
page needs the session cookie it sets, and every POST form its CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from wowsino.console import (
    activity_pages,
    bonus_pages,
    crm_pages,
    engine_pages,
    jackpot_pages,
    journey_pages,
    player_pages,
    prize_pages,
    queue_pages,
    raffle_pages,
    tenant_pages,
    tournament_pages,
)
from wowsino.console.auth import (
    checked_form,
    clear_session_cookie,
    current_session,
    end_session,
    read_form,
    require_session,
    start_session,
    token_matches,
)
from wowsino.console.views import HERE, ConsoleRoute, platform_of, render
from wowsino.kernel.admin import AdminLockedOut, client_address

router = APIRouter(prefix="/admin", route_class=ConsoleRoute, include_in_schema=False)


def _safe_next(raw: str | None) -> str:
    """Only a console path may follow sign-in (no open redirect)."""
    if raw and raw.startswith("/admin/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/admin/tenants"


@router.get("")
@router.get("/")
async def home(request: Request) -> Response:
    require_session(request)
    return RedirectResponse("/admin/tenants", status_code=303)


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    if current_session(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "sign_in.html", next=_safe_next(next), error=None)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    platform = platform_of(request)
    admin_token = platform.settings.admin_token
    next_path = _safe_next(form.get("next"))
    address, now = client_address(request), platform.clock.now().timestamp()
    try:
        platform.admin_throttle.check(address, now)
    except AdminLockedOut as exc:
        minutes = max(1, round(exc.retry_after / 60))
        response = render(request, "sign_in.html", status_code=429, next=next_path,
                          error="Too many failed sign-ins from your address. "
                                f"Try again in about {minutes} minute{'s' * (minutes != 1)}.")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if admin_token is None or not token_matches(form.get("token"), admin_token):
        platform.admin_throttle.failed(address, now)
        error = ("That is not the admin token." if admin_token
                 else "No admin token is configured (set WOWSINO_ADMIN_TOKEN).")
        return render(request, "sign_in.html", status_code=401, next=next_path, error=error)
    platform.admin_throttle.succeeded(address)
    signed_in = RedirectResponse(next_path, status_code=303)
    await start_session(request, signed_in)
    return signed_in


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    session, _ = await checked_form(request)
    await end_session(request, session)
    response = RedirectResponse("/admin/sign-in", status_code=303)
    clear_session_cookie(response)
    return response


for pages in (tenant_pages, player_pages, activity_pages, queue_pages, engine_pages,
              jackpot_pages, raffle_pages, tournament_pages, bonus_pages, journey_pages,
              crm_pages, prize_pages):
    router.include_router(pages.router)


def install_console(app: FastAPI) -> None:
    """Serve the console and its stylesheet under ``/admin``."""
    app.mount("/admin/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)
