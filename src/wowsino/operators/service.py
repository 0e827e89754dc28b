"""Operator accounts: invitations, roles and brands, the operator's own password and
two-factor set-up, the tenant's sign-in rule (signing in is ``signin``).

Every change is audited in the tenant's live audit log with the actor who made it (an
operator as ``operator:<id>``, the platform admin as ``admin:platform``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit, wire
from wowsino.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from wowsino.kernel.ids import new_id
from wowsino.kernel.realm import Actor, Mode, Realm
from wowsino.operators import repository, twofactor
from wowsino.pam.passwords import MAX_LENGTH, hash_password, verify_password
from wowsino.pam.passwords import check_policy as check_password_policy

ROLES = ("owner", "admin", "compliance", "support", "marketing", "analyst")
ROLE_NAMES = {
    "owner": "Owner", "admin": "Admin", "compliance": "Compliance", "support": "Support",
    "marketing": "Marketing", "analyst": "Analyst (read-only)",
}
INVITATION_LIFETIME = timedelta(hours=72)
MAX_EMAIL = 254
MAX_NAME = 100
MAX_BRANDS = 100


def actor_of(operator: dict[str, Any]) -> Actor:
    return Actor("operator", str(operator["id"]))


def normalise_email(raw: str, field: str = "email") -> tuple[str, str]:
    """``(email, key)``: the address as given and its case-folded key; 400 unless it looks
    like ``name@domain`` and is at most 254 characters."""
    email = raw.strip()
    local, at, domain = email.rpartition("@")
    if (not at or not local or "." not in domain or domain.startswith(".")
            or domain.endswith(".") or len(email) > MAX_EMAIL
            or any(ch.isspace() or ord(ch) < 32 for ch in email)):
        raise ValidationFailed(f"{field}: an email address such as ana@example.com", field=field)
    return email, email.casefold()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed(f"role: one of {', '.join(ROLES)}", field="role")
    return role


def token_hash(token: str) -> bytes:
    return hashlib.sha256(b"wowsino invitation:" + token.encode()).digest()


def tenant_realm(tenant_id: UUID) -> Realm:
    return Realm(tenant_id, Mode.LIVE)


async def audit_operator(conn: AsyncConnection, tenant_id: UUID, actor: Actor, action: str,
                 operator_id: UUID, at: datetime, *, before: Any = None,
                 after: Any = None) -> None:
    await audit.record(conn, realm=tenant_realm(tenant_id), actor=actor, action=action,
                       target_type="operator", target_id=str(operator_id), at=at,
                       before=before, after=after)


def public(operator: dict[str, Any]) -> dict[str, Any]:
    """What the audit log and the console show of an operator (never a secret)."""
    return {"email": operator["email"], "role": operator["role"],
            "brand_ids": sorted(str(b) for b in operator["brand_ids"] or []),
            "status": operator["status"]}


# -- invitations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    operator_id: UUID
    email: str
    token: str  # shown once; only its hash is kept
    expires_at: datetime


async def invite(
    conn: AsyncConnection, *, tenant_id: UUID, email: str, role: str,
    brand_ids: Sequence[UUID] = (), actor: Actor, actor_role: str | None, at: datetime,
) -> Invitation:
    """Create an invited operator and the one-time token of their invitation link.

    409 when the email already has an account in the tenant; 403 when an operator who is
    not an owner invites an owner (``actor_role`` None: the platform admin)."""
    email, key = normalise_email(email)
    check_role(role)
    if role == "owner" and actor_role not in (None, "owner"):
        raise Forbidden("only an owner may invite an owner", code="ROLE_DENIED")
    if len(brand_ids) > MAX_BRANDS:
        raise ValidationFailed(f"brands: at most {MAX_BRANDS}", field="brands")
    token, operator_id = secrets.token_urlsafe(32), new_id()
    expires_at = at + INVITATION_LIFETIME
    try:
        async with wire.savepoint(conn):
            await repository.insert(conn, {
                "tenant_id": tenant_id, "id": operator_id, "email": email, "email_key": key,
                "display_name": None, "role": role, "brand_ids": list(brand_ids),
                "status": "invited", "password_hash": None, "password_changed_at": None,
                "invitation_hash": token_hash(token), "invitation_expires_at": expires_at,
                "invited_by": actor.label, "at": at})
    except IntegrityError:
        raise Conflict(f"{email} already has an account with this tenant",
                       code="OPERATOR_EXISTS", field="email") from None
    after = {"email": email, "role": role, "brand_ids": sorted(str(b) for b in brand_ids),
             "status": "invited", "invitation_expires_at": expires_at}
    await audit_operator(conn, tenant_id, actor, "operator.invited", operator_id, at, after=after)
    return Invitation(operator_id, email, token, expires_at)


async def renew_invitation(conn: AsyncConnection, *, tenant_id: UUID, operator_id: UUID,
                           actor: Actor, at: datetime) -> Invitation:
    """A new link for an operator who has not joined yet; the previous link stops working."""
    operator = await get(conn, tenant_id, operator_id, lock=True)
    if operator["status"] != "invited":
        raise Conflict("this operator has already joined", code="NOT_INVITED")
    token, expires_at = secrets.token_urlsafe(32), at + INVITATION_LIFETIME
    await repository.update(conn, tenant_id, operator_id, at, invitation_hash=token_hash(token),
                            invitation_expires_at=expires_at)
    await audit_operator(conn, tenant_id, actor, "operator.invitation_renewed", operator_id, at,
                 after={"invitation_expires_at": expires_at})
    return Invitation(operator_id, operator["email"], token, expires_at)


async def open_invitation(conn: AsyncConnection, token: str, now: datetime, *,
                          lock: bool = False) -> dict[str, Any]:
    """The invited operator a link's token names, or 404 (unknown, used or expired)."""
    operator = None
    if 16 <= len(token) <= 100:
        operator = await repository.by_invitation(conn, token_hash(token), lock=lock)
    if (operator is None or operator["status"] != "invited"
            or operator["invitation_expires_at"] <= now):
        raise NotFound("this invitation link is not valid: it was used, it expired, or it "
                       "was replaced by a newer one", code="INVITATION_INVALID")
    return operator


async def accept_invitation(conn: AsyncConnection, *, token: str, password: str,
                            display_name: str, at: datetime) -> dict[str, Any]:
    """Set the invited operator's password: the account is active, the link used up."""
    operator = await open_invitation(conn, token, at, lock=True)
    check_password_policy(password, username=operator["email"], email=operator["email"])
    if len(display_name) > MAX_NAME:
        raise ValidationFailed(f"name: at most {MAX_NAME} characters", field="name")
    await repository.update(
        conn, operator["tenant_id"], operator["id"], at, status="active",
        password_hash=await hash_password(password), password_changed_at=at,
        invitation_hash=None, invitation_expires_at=None, display_name=display_name or None)
    await audit_operator(conn, operator["tenant_id"], actor_of(operator), "operator.joined",
                 operator["id"], at, after={**public(operator), "status": "active"})
    return {**operator, "status": "active"}


# -- the operator's own account ----------------------------------------------------------


async def change_password(conn: AsyncConnection, *, operator: dict[str, Any], current: str,
                          new: str, at: datetime) -> None:
    """Replace the password; 400 when the current one is wrong or the new one too weak."""
    stored = await get(conn, operator["tenant_id"], operator["id"], lock=True)
    if len(current) > MAX_LENGTH or not await verify_password(stored["password_hash"],
                                                              current):
        raise ValidationFailed("current password: that is not your password",
                               field="current_password")
    check_password_policy(new, username=stored["email"], email=stored["email"],
                          field="new password")
    await repository.update(conn, stored["tenant_id"], stored["id"], at,
                            password_hash=await hash_password(new), password_changed_at=at)
    await audit_operator(conn, stored["tenant_id"], actor_of(stored), "operator.password_changed",
                 stored["id"], at)


async def start_two_factor(conn: AsyncConnection, *, operator: dict[str, Any],
                           at: datetime) -> str:
    """A new shared secret, kept pending until a code from it is confirmed."""
    if operator["totp_secret"]:
        raise Conflict("two-factor sign-in is already on", code="TWO_FACTOR_ON")
    secret = twofactor.new_secret()
    await repository.update(conn, operator["tenant_id"], operator["id"], at,
                            totp_pending_secret=secret)
    return secret


async def confirm_two_factor(conn: AsyncConnection, *, operator: dict[str, Any], code: str,
                             at: datetime) -> list[str]:
    """Turn two-factor sign-in on with a code from the pending secret; returns the
    recovery codes (shown once, kept as hashes)."""
    stored = await get(conn, operator["tenant_id"], operator["id"], lock=True)
    secret = stored["totp_pending_secret"]
    if stored["totp_secret"]:
        raise Conflict("two-factor sign-in is already on", code="TWO_FACTOR_ON")
    if not secret:
        raise ValidationFailed("code: start the set-up first", field="code")
    step = twofactor.matching_step(secret, code[:32], at, None)
    if step is None:
        raise ValidationFailed("code: that code does not match; check the time on your "
                               "device and enter the code it shows now", field="code")
    codes = twofactor.new_recovery_codes()
    await repository.update(conn, stored["tenant_id"], stored["id"], at, totp_secret=secret,
                            totp_pending_secret=None, totp_last_step=step,
                            recovery_codes=[twofactor.recovery_hash(c) for c in codes])
    await audit_operator(conn, stored["tenant_id"], actor_of(stored), "operator.two_factor_enabled",
                 stored["id"], at, after={"recovery_codes": len(codes)})
    return codes


async def turn_off_two_factor(conn: AsyncConnection, *, operator: dict[str, Any],
                              password: str, at: datetime) -> None:
    """Turn two-factor sign-in off (needs the password; refused when the tenant requires
    it)."""
    stored = await get(conn, operator["tenant_id"], operator["id"], lock=True)
    if (await repository.policy(conn, stored["tenant_id"]))["require_2fa"]:
        raise Forbidden("your tenant requires two-factor sign-in", code="TWO_FACTOR_REQUIRED")
    if len(password) > MAX_LENGTH or not await verify_password(stored["password_hash"],
                                                               password):
        raise ValidationFailed("password: that is not your password", field="password")
    await repository.update(conn, stored["tenant_id"], stored["id"], at, totp_secret=None,
                            totp_pending_secret=None, totp_last_step=None, recovery_codes=[])
    await audit_operator(conn, stored["tenant_id"], actor_of(stored), "operator.two_factor_disabled",
                 stored["id"], at)


# -- managing a tenant's operators -------------------------------------------------------


async def get(conn: AsyncConnection, tenant_id: UUID, operator_id: UUID, *,
              lock: bool = False) -> dict[str, Any]:
    operator = await repository.get(conn, tenant_id, operator_id, lock=lock)
    if operator is None:
        raise NotFound("no such operator")
    return operator


async def list_operators(conn: AsyncConnection, tenant_id: UUID) -> list[dict[str, Any]]:
    return await repository.list_for_tenant(conn, tenant_id)


def _may_manage(actor_operator: dict[str, Any], target: dict[str, Any], new_role: str) -> None:
    if actor_operator["id"] == target["id"]:
        raise Forbidden("you cannot change your own role or status; ask another owner",
                        code="ROLE_DENIED")
    if "owner" in (target["role"], new_role) and actor_operator["role"] != "owner":
        raise Forbidden("only an owner may make or change an owner", code="ROLE_DENIED")


async def _keep_an_owner(conn: AsyncConnection, target: dict[str, Any], role: str,
                         status: str) -> None:
    losing = target["role"] == "owner" and target["status"] != "disabled" and (
        role != "owner" or status == "disabled")
    if losing and await repository.count_active_owners(conn, target["tenant_id"]) <= 1:
        raise Conflict("a tenant keeps at least one owner", code="LAST_OWNER")


async def update_access(conn: AsyncConnection, *, actor_operator: dict[str, Any],
                        operator_id: UUID, role: str, brand_ids: Sequence[UUID],
                        at: datetime) -> dict[str, Any]:
    """Change another operator's role and brands (owners alone touch owners)."""
    check_role(role)
    if len(brand_ids) > MAX_BRANDS:
        raise ValidationFailed(f"brands: at most {MAX_BRANDS}", field="brands")
    tenant_id = actor_operator["tenant_id"]
    target = await get(conn, tenant_id, operator_id, lock=True)
    _may_manage(actor_operator, target, role)
    await _keep_an_owner(conn, target, role, target["status"])
    await repository.update(conn, tenant_id, operator_id, at, role=role,
                            brand_ids=list(brand_ids))
    after = {**public(target), "role": role, "brand_ids": sorted(str(b) for b in brand_ids)}
    await audit_operator(conn, tenant_id, actor_of(actor_operator), "operator.updated", operator_id, at,
                 before=public(target), after=after)
    return {**target, "role": role, "brand_ids": list(brand_ids)}


async def set_status(conn: AsyncConnection, *, actor_operator: dict[str, Any],
                     operator_id: UUID, status: str, at: datetime) -> dict[str, Any]:
    """Disable an operator (they cannot sign in; their sessions end) or enable them again."""
    if status not in ("active", "disabled"):
        raise ValidationFailed("status: active or disabled", field="status")
    tenant_id = actor_operator["tenant_id"]
    target = await get(conn, tenant_id, operator_id, lock=True)
    _may_manage(actor_operator, target, target["role"])
    if target["status"] == "invited":
        raise Conflict("this operator has not joined yet", code="NOT_JOINED")
    await _keep_an_owner(conn, target, target["role"], status)
    await repository.update(conn, tenant_id, operator_id, at, status=status,
                            failed_sign_ins=0, locked_until=None)
    await audit_operator(conn, tenant_id, actor_of(actor_operator),
                 "operator.disabled" if status == "disabled" else "operator.enabled",
                 operator_id, at, before=public(target), after={**public(target),
                                                                "status": status})
    return {**target, "status": status}


async def reset_two_factor(conn: AsyncConnection, *, actor_operator: dict[str, Any],
                           operator_id: UUID, at: datetime) -> dict[str, Any]:
    """Turn off another operator's two-factor sign-in (a lost device and no recovery code
    left): they sign in with their password and set it up again."""
    tenant_id = actor_operator["tenant_id"]
    target = await get(conn, tenant_id, operator_id, lock=True)
    _may_manage(actor_operator, target, target["role"])
    if not target["totp_secret"]:
        raise Conflict("two-factor sign-in is not on for this operator", code="TWO_FACTOR_OFF")
    await repository.update(conn, tenant_id, operator_id, at, totp_secret=None,
                            totp_pending_secret=None, totp_last_step=None, recovery_codes=[])
    await audit_operator(conn, tenant_id, actor_of(actor_operator), "operator.two_factor_reset",
                         operator_id, at)
    return target


async def reset_password(conn: AsyncConnection, *, actor_operator: dict[str, Any],
                         operator_id: UUID, at: datetime) -> Invitation:
    """A one-time link for another operator who forgot their password: their password
    stops working at once and they choose a new one through the link (valid 72 h, like an
    invitation). Two-factor sign-in stays as it was. The caller ends their sessions."""
    tenant_id = actor_operator["tenant_id"]
    target = await get(conn, tenant_id, operator_id, lock=True)
    _may_manage(actor_operator, target, target["role"])
    if target["status"] != "active":
        raise Conflict("only an active operator's password can be reset (an invited one "
                       "gets a new invitation link; enable a disabled one first)",
                       code="NOT_ACTIVE")
    token, expires_at = secrets.token_urlsafe(32), at + INVITATION_LIFETIME
    await repository.update(conn, tenant_id, operator_id, at, status="invited",
                            password_hash=None, invitation_hash=token_hash(token),
                            invitation_expires_at=expires_at)
    await audit_operator(conn, tenant_id, actor_of(actor_operator), "operator.password_reset",
                         operator_id, at, after={"invitation_expires_at": expires_at})
    return Invitation(operator_id, target["email"], token, expires_at)


async def policy(conn: AsyncConnection, tenant_id: UUID) -> dict[str, Any]:
    return await repository.policy(conn, tenant_id)


async def set_policy(conn: AsyncConnection, *, tenant_id: UUID, require_2fa: bool,
                     actor: Actor, at: datetime) -> None:
    before = await repository.policy(conn, tenant_id)
    await repository.set_policy(conn, tenant_id, require_2fa, at)
    await audit.record(conn, realm=tenant_realm(tenant_id), actor=actor,
                       action="console_policy.updated", target_type="tenant",
                       target_id=str(tenant_id), at=at,
                       before={"require_2fa": before["require_2fa"]},
                       after={"require_2fa": require_2fa})
