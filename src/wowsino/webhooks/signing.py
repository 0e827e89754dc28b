"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256(key, "<id>.<ts>.<body>")>``
with the key the base64 part of a ``whsec_`` secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_`` secret (ValueError when malformed)."""
    if not secret.startswith(PREFIX):
        raise ValueError("a signing secret starts with whsec_")
    key = base64.b64decode(secret[len(PREFIX):], validate=True)
    if not 16 <= len(key) <= 64:
        raise ValueError("a signing secret holds 16 to 64 bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery attempt."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": "WOWsino-Webhooks/1",
    }
