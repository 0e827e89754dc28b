"""Player passwords: argon2id (argon2-cffi's defaults, RFC 9106's second recommendation),
hashed and checked off the event loop; a policy checked before anything is stored."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from wowsino.kernel.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 256  # bounded: argon2 takes any length, a request body should not

_hasher = PasswordHasher()
# checked when the username is unknown, so both answers take the same time
_DUMMY = _hasher.hash("not-a-password-of-anyone")


def check_policy(password: str, *, username: str, email: str, field: str = "password") -> None:
    """400 unless the password is 10–256 characters and is neither the username nor the
    email address (in any case)."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValidationFailed(f"{field}: {MIN_LENGTH} to {MAX_LENGTH} characters", field=field)
    lowered = password.casefold()
    if lowered in (username.casefold(), email.casefold()):
        raise ValidationFailed(f"{field}: must not be the username or the email address",
                               field=field)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; ``None`` (no such account) takes as long
    and answers False."""
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)

