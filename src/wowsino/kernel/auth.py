"""API keys, scopes and the request's principal.

Secret keys are ``wsk_live_|wsk_test_`` + 48 lowercase hex, stored only as SHA-256.
A key resolves to a tenant, a brand and a mode: its realm. A white-label brand also has
publishable keys (``wpk_live_|wpk_test_``), safe in a browser: they allow only the
routes that declare themselves public (``/v1/auth/*`` and the engines' listings).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy import text

from wowsino.kernel.admin import AdminLockedOut, client_address
from wowsino.kernel.errors import AuthInvalid, AuthRequired, Forbidden, TenantSuspended
from wowsino.kernel.ids import same_secret
from wowsino.kernel.realm import Actor, Mode, Realm

KEY_PATTERN = re.compile(r"^(wsk|wpk)_(live|test)_[0-9a-f]{48}$")
PUBLISHABLE_SCOPES = ["public"]

SCOPES = frozenset({
    "*", "players:read", "players:write", "events:write", "engagement:read",
    "engagement:write", "bonuses:grant", "webhooks:manage", "config:write", "audit:read",
    "usage:read", "wallet:write", "wallet:approve", "compliance:write", "crm:read", "crm:write",
})


def generate_key(mode: Mode, *, publishable: bool = False) -> str:
    return f"{'wpk' if publishable else 'wsk'}_{mode.value}_{secrets.token_hex(24)}"


def hash_key(plaintext: str) -> bytes:
    return hashlib.sha256(plaintext.encode()).digest()


def key_hint(plaintext: str) -> str:
    """What the key list shows instead of the secret: prefix and last four."""
    return f"{plaintext[:9]}…{plaintext[-4:]}"


class Caller(Protocol):
    """Who makes a write: an API key (``Principal``) or a player session
    (``pam.sessions.PlayerSession``). Idempotency keys are kept per realm, endpoint and
    ``idempotency_owner``: two players choosing the same key never meet."""

    @property
    def realm(self) -> Realm: ...
    @property
    def brand_id(self) -> UUID: ...
    @property
    def service_mode(self) -> str: ...
    @property
    def actor(self) -> Actor: ...
    @property
    def idempotency_owner(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a ``/v1`` request, resolved from its API key."""

    realm: Realm
    tenant_slug: str
    service_mode: str
    brand_id: UUID
    brand_slug: str
    key_id: UUID
    scopes: frozenset[str]
    rate_limit_burst: int | None
    rate_limit_per_second: int | None
    publishable: bool = False

    @property
    def actor(self) -> Actor:
        return Actor("api_key", str(self.key_id))

    @property
    def idempotency_owner(self) -> str | None:
        return None

    def allows(self, scope: str) -> bool:
        if self.publishable:
            return False
        return "*" in self.scopes or scope in self.scopes

    def require(self, scope: str) -> None:
        if self.publishable:
            raise Forbidden("a publishable key allows only /v1/auth/* and the public listings",
                            scope=scope)
        if not self.allows(scope):
            raise Forbidden(f"this key lacks the {scope} scope", scope=scope)


_LOOKUP = text(
    "SELECT k.id, k.tenant_id, k.brand_id, k.mode, k.scopes, k.kind, k.revoked_at, t.slug, "
    "t.service_mode, t.status, t.rate_limit_burst, t.rate_limit_per_second, b.slug AS brand_slug "
    "FROM api_keys k JOIN tenants t ON t.id = k.tenant_id JOIN brands b "
    "ON b.tenant_id = k.tenant_id AND b.id = k.brand_id WHERE k.key_hash = :hash"
)


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """What a valid (unrevoked) key resolves to, as the key cache keeps it."""

    principal: Principal
    suspended: bool


async def _resolve(platform: Any, key_hash: bytes) -> ResolvedKey | None:
    async with platform.engine.connect() as conn:
        # one statement: autocommit, so no BEGIN before it nor ROLLBACK after it
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        row = (await conn.execute(_LOOKUP, {"hash": key_hash})).first()
    if row is None or row.revoked_at is not None:
        return None
    return ResolvedKey(Principal(
        realm=Realm(row.tenant_id, Mode(row.mode)), tenant_slug=row.slug,
        service_mode=row.service_mode, brand_id=row.brand_id, brand_slug=row.brand_slug,
        key_id=row.id, scopes=frozenset(row.scopes),
        rate_limit_burst=row.rate_limit_burst, rate_limit_per_second=row.rate_limit_per_second,
        publishable=row.kind == "publishable",
    ), suspended=row.status == "suspended")


async def authenticate(request: Request) -> Principal:
    """Resolve the bearer key: from the process's key cache (emptied by every change to
    keys, tenants and brands, see ``kernel.keycache``), else from the database. A revoked
    key is refused from the next request."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header or scheme.lower() != "bearer" or not token:
        raise AuthRequired("an API key is required: Authorization: Bearer wsk_…")
    if token.startswith("wps_"):
        raise AuthInvalid("a player session token is not an API key: /v1/player/* takes it")
    if not KEY_PATTERN.match(token):
        raise AuthInvalid("the API key is malformed")
    platform = request.app.state.platform
    key_hash = hash_key(token)
    resolved: ResolvedKey | None = platform.keys.get(key_hash)
    if resolved is None:
        generation = platform.keys.generation
        resolved = await _resolve(platform, key_hash)
        if resolved is None:
            raise AuthInvalid("the API key is unknown or revoked")
        platform.keys.put(key_hash, resolved, generation)
    if resolved.suspended:
        raise TenantSuspended("this tenant is suspended")
    principal = resolved.principal
    request.state.principal = principal
    await platform.rate_limiter.take(request, principal)
    platform.usage.count(principal.realm)
    return principal


# The credentials a route takes, as the OpenAPI document names them: a dependency that
# authenticates declares them in this attribute (``credentials_of`` reads a route's).
CREDENTIALS = "wowsino_credentials"
API_KEY = ("apiKey",)
Marked = TypeVar("Marked", bound=Callable[..., Any])
PUBLIC = ("apiKey", "publishableKey")


def takes(*credentials: str) -> Callable[[Marked], Marked]:
    """Mark an authenticating dependency with the credentials it takes."""

    def mark(dependency: Marked) -> Marked:
        setattr(dependency, CREDENTIALS, credentials)
        return dependency

    return mark


def credentials_of(dependant: Any) -> tuple[str, ...]:
    """The credentials a route (its ``dependant``) takes: what its dependencies declare,
    else an API key."""
    pending = list(dependant.dependencies)
    while pending:
        dependency = pending.pop()
        declared = getattr(dependency.call, CREDENTIALS, None)
        if declared is not None:
            return tuple(declared)
        pending.extend(dependency.dependencies)
    return API_KEY


def scoped(scope: str, *, public: bool = False) -> object:
    """A dependency: the principal, refused with 403 unless it holds ``scope``.
    ``public``: a publishable key is let through too (public listings)."""

    @takes(*(PUBLIC if public else API_KEY))
    async def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        if not (public and principal.publishable):
            principal.require(scope)
        return principal

    return Depends(dependency)


def white_label(scope: str, *, public: bool = False) -> object:
    """``scoped(scope, public=...)`` for the white-label back office: a plug-in tenant's
    key is refused with 403 ``SCOPE_DENIED`` whatever its scopes (api.md §10)."""

    @takes(*(PUBLIC if public else API_KEY))
    async def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        require_white_label(principal)
        if not (public and principal.publishable):
            principal.require(scope)
        return principal

    return Depends(dependency)


def require_white_label(principal: Principal) -> None:
    if principal.service_mode != "white_label":
        raise Forbidden("this is a white-label endpoint; the tenant runs in plug_in mode",
                        scope="white_label")


def check_admin_token(request: Request) -> None:
    """The platform admin credential for ``/tenants`` (not a ``wsk_`` key).

    Failures are throttled per client address (``kernel.admin``): 429 ``RATE_LIMIT`` with
    ``Retry-After`` while the address is locked out.
    """
    platform = request.app.state.platform
    expected = platform.settings.admin_token
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise AuthRequired("the admin token is required: Authorization: Bearer <token>")
    address, now = client_address(request), platform.clock.now().timestamp()
    try:
        platform.admin_throttle.check(address, now)
    except AdminLockedOut as exc:
        request.state.rate_limit_headers = {"Retry-After": str(exc.retry_after)}
        raise
    if (
        scheme.lower() != "bearer"
        or not expected
        or not same_secret(token.strip(), expected)
    ):
        platform.admin_throttle.failed(address, now)
        raise AuthInvalid("the admin token is invalid")
    platform.admin_throttle.succeeded(address)
