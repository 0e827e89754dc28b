"""Two-factor sign-in: time-based one-time codes (RFC 6238, what authenticator apps
show) and one-use recovery codes.

A code is checked against the platform clock with one 30-second step of tolerance on
either side, and is accepted once: the step it matched is remembered, so the same code
(or an earlier one) is refused afterwards. Recovery codes are kept only as SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from datetime import datetime

import pyotp
import segno

from wowsino.kernel.ids import same_secret

ISSUER = "WOWsino"
STEP_SECONDS = 30
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_secret() -> str:
    """A fresh shared secret (base32, 160 bits)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, tenant_name: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=f"{ISSUER} {tenant_name}")


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline SVG element (no XML declaration, no script)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", xmldecl=False, svgns=True, scale=4,
                                    nl=False, title="QR code for your authenticator app")
    return buffer.getvalue().decode()


def matching_step(secret: str, code: str, now: datetime, after_step: int | None) -> int | None:
    """The time step ``code`` is valid for (now, or one step either side), if it is later
    than ``after_step``; else None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if after_step is not None and step <= after_step:
            continue
        if same_secret(code, totp.at(step * STEP_SECONDS)):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes of the form ``abcde-fghij`` (about 49 bits each)."""
    def one() -> str:
        chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        return f"{chars[:5]}-{chars[5:]}"
    return [one() for _ in range(RECOVERY_CODES)]


def recovery_hash(code: str) -> bytes:
    """The stored form of a recovery code (case, spaces and hyphens do not matter)."""
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(b"wowsino recovery:" + normalised.encode()).digest()


def looks_like_recovery_code(code: str) -> bool:
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    return len(normalised) == 10 and not normalised.isdigit()
