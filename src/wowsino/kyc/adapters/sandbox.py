"""The ``sandbox`` adapter: talks to ``wowsino sandbox kyc`` (``wowsino.sandbox.kyc``), a
separate HTTP service that behaves like a KYC vendor.

Requests and webhooks are JSON signed with the shared secret: header ``X-Signature``, the
lowercase hex HMAC-SHA256 of the raw body. Credentials: ``secret`` (optional; the
platform's ``WOWSINO_SANDBOX_KYC_SECRET`` by default). The service's address is the
platform's ``WOWSINO_SANDBOX_KYC_URL``.

Its webhook: ``{event_id, session_id, reference, decision: approved|rejected, rejection:
retry|final|null, reason, level, decided_at, sent_at}``; ``event_id`` identifies the
decision, ``decided_at`` (ISO-8601) is the vendor's time of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from wowsino.kernel.vendors import (
    SIGNATURE_HEADER,
    Account,
    CallbackInvalid,
    VendorUnavailable,
    post_signed,
    read_json_object,
    signature_holds,
    text_field,
)
from wowsino.kyc.adapters.base import (
    Created,
    KycAdapter,
    Rejection,
    SessionRequest,
    VendorDecision,
)

DECISIONS = ("approved", "rejected")
REJECTIONS = ("retry", "final")


def parse_time(value: Any, field: str) -> datetime:
    """An ISO-8601 time with its zone (``Z`` or an offset), as UTC; else ``CallbackInvalid``."""
    if not isinstance(value, str) or len(value) > 64:
        raise CallbackInvalid(f"{field}: an ISO-8601 time is required")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise CallbackInvalid(f"{field}: the time needs its zone (Z or an offset)")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or one UTC cannot hold
        raise CallbackInvalid(f"{field}: an ISO-8601 time is required") from None


class SandboxAdapter(KycAdapter):
    name = "sandbox"
    credential_names = ("secret",)

    def account(self, credentials: Mapping[str, str], settings: Any) -> Account:
        secret = credentials.get("secret") or settings.sandbox_kyc_secret
        return Account(url=settings.sandbox_kyc_url.rstrip("/"), credentials={"secret": secret})

    async def create_session(self, http: httpx.AsyncClient, account: Account,
                             request: SessionRequest) -> Created:
        answer = await post_signed(http, account, "/sessions", {
            "reference": request.reference, "level": request.level,
            "callback_url": request.callback_url, "ttl_seconds": request.ttl_seconds},
            vendor="the sandbox KYC vendor")
        url = answer.get("verification_url") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url:
            raise VendorUnavailable("the sandbox KYC vendor answered without a page")
        session_id = answer.get("session_id")
        return Created(url, session_id if isinstance(session_id, str) else None)

    def reference_of(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        reference = read_json_object(body).get("reference")
        return reference if isinstance(reference, str) else None

    def verify(self, body: bytes, headers: Mapping[str, str], account: Account) -> bool:
        return signature_holds(account.credentials["secret"], body,
                               headers.get(SIGNATURE_HEADER))

    def parse(self, body: bytes, headers: Mapping[str, str]) -> VendorDecision | None:
        document = read_json_object(body)
        reference, event_id = text_field(document, "reference"), text_field(document, "event_id")
        decision, raw_rejection = text_field(document, "decision"), document.get("rejection")
        if decision not in DECISIONS:
            raise CallbackInvalid(f"decision: one of {list(DECISIONS)}")
        rejection: Rejection | None = None
        if decision == "rejected":
            if raw_rejection not in REJECTIONS:
                raise CallbackInvalid("rejection: a rejection is retry or final")
            rejection = "retry" if raw_rejection == "retry" else "final"
        elif raw_rejection is not None:
            raise CallbackInvalid("rejection: an approval has none")
        reason = document.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise CallbackInvalid("reason: a string")
        return VendorDecision(
            reference=reference, decision_id=event_id,
            verdict="approved" if decision == "approved" else "rejected", rejection=rejection,
            reason=(reason or decision)[:500],
            decided_at=parse_time(document.get("decided_at"), "decided_at"))
