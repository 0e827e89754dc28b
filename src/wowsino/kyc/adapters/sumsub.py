"""A Sumsub-style adapter: the WebSDK permalink to verify, and the ``applicantReviewed``
webhook with its decision.

Requests (Sumsub's "App Token" authentication): headers ``X-App-Token``,
``X-App-Access-Ts`` (Unix seconds) and ``X-App-Access-Sig``, the lowercase hex
HMAC-SHA256, with the secret key, of ts + method + path with its query + body.

- Start: ``POST /resources/sdkIntegrations/levels/-/websdkLink {levelName, userId,
  ttlInSecs}`` → ``{url}``. ``userId`` (Sumsub's ``externalUserId``) is our session
  reference: each verification is an applicant of its own at Sumsub, and every webhook
  names the session it is about.
- Webhook: ``X-Payload-Digest`` is the hex HMAC of the raw body with the webhook's secret
  key, ``X-Payload-Digest-Alg`` the algorithm (``HMAC_SHA256_HEX``; ``HMAC_SHA1_HEX`` and
  ``HMAC_SHA512_HEX`` too). ``{applicantId, externalUserId, type, reviewResult:
  {reviewAnswer: GREEN|RED, reviewRejectType: RETRY|FINAL, rejectLabels, moderationComment},
  createdAtMs}``: only ``applicantReviewed`` decides; GREEN approves, RED rejects (a RED
  without a reject type is taken as final). ``createdAtMs`` (UTC, ``2020-02-21
  13:23:19.321``) is the vendor's time of the decision.

Credentials: ``app_token``, ``secret_key``, ``webhook_secret`` and ``level_name`` (the
Sumsub level a verification runs). The API's address is the platform's
``WOWSINO_SUMSUB_URL`` (``https://api.sumsub.com``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from wowsino.kernel.ids import same_secret
from wowsino.kernel.vendors import (
    Account,
    CallbackInvalid,
    VendorRefused,
    VendorUnavailable,
    read_json_object,
    text_field,
)
from wowsino.kyc.adapters.base import (
    Created,
    KycAdapter,
    Rejection,
    SessionRequest,
    VendorDecision,
)

LINK_PATH = "/resources/sdkIntegrations/levels/-/websdkLink"
DIGESTS = {"HMAC_SHA256_HEX": hashlib.sha256, "HMAC_SHA1_HEX": hashlib.sha1,
           "HMAC_SHA512_HEX": hashlib.sha512}
DECIDING = "applicantReviewed"
REJECT_TYPES: dict[str, Rejection] = {"RETRY": "retry", "FINAL": "final"}


def request_signature(secret_key: str, ts: str, method: str, path: str, body: bytes) -> str:
    """``X-App-Access-Sig``: hex HMAC-SHA256 of ts + METHOD + path (with query) + body."""
    message = ts.encode() + method.upper().encode() + path.encode() + body
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def payload_digest(webhook_secret: str, body: bytes, alg: str = "HMAC_SHA256_HEX") -> str:
    """``X-Payload-Digest`` of a webhook body."""
    return hmac.new(webhook_secret.encode(), body, DIGESTS[alg]).hexdigest()


def vendor_time(value: Any) -> datetime:
    """``createdAtMs``: ``yyyy-MM-dd HH:mm:ss.SSS`` in UTC (as Sumsub sends it), an ISO-8601
    time, or Unix milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**14:
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str) and len(value) <= 64:
        for pattern in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(value, pattern).replace(tzinfo=UTC)
            except ValueError:
                continue
        try:
            parsed = datetime.fromisoformat(value)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError):  # not a time, or one UTC cannot hold
            pass
    raise CallbackInvalid("createdAtMs: the time of the review is required")


class SumsubAdapter(KycAdapter):
    name = "sumsub"
    credential_names = ("app_token", "secret_key", "webhook_secret", "level_name")
    required_credentials = credential_names

    def account(self, credentials: Mapping[str, str], settings: Any) -> Account:
        return Account(url=settings.sumsub_url.rstrip("/"), credentials=dict(credentials))

    def _headers(self, account: Account, method: str, path: str, body: bytes,
                 now: datetime) -> dict[str, str]:
        ts = str(int(now.timestamp()))
        return {"Content-Type": "application/json", "Accept": "application/json",
                "X-App-Token": account.credentials.get("app_token", ""),
                "X-App-Access-Ts": ts,
                "X-App-Access-Sig": request_signature(
                    account.credentials.get("secret_key", ""), ts, method, path, body)}

    async def create_session(self, http: httpx.AsyncClient, account: Account,
                             request: SessionRequest) -> Created:
        body = json.dumps({"levelName": account.credentials.get("level_name", ""),
                           "userId": request.reference,
                           "ttlInSecs": request.ttl_seconds}, separators=(",", ":")).encode()
        headers = self._headers(account, "POST", LINK_PATH, body, request.now)
        try:
            response = await http.post(f"{account.url}{LINK_PATH}", content=body,
                                       headers=headers)
        except httpx.HTTPError as exc:
            raise VendorUnavailable(f"Sumsub did not answer: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise VendorUnavailable(f"Sumsub answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise VendorUnavailable("Sumsub answered no JSON") from None
        if response.status_code >= 400:
            # their error body: {description, code, correlationId, errorCode, errorName}
            reason = answer.get("description") if isinstance(answer, dict) else None
            raise VendorRefused(str(reason or f"refused with {response.status_code}")[:255])
        url = answer.get("url") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url:
            raise VendorUnavailable("Sumsub answered without a link")
        return Created(url, None)

    def reference_of(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        reference = read_json_object(body).get("externalUserId")
        return reference if isinstance(reference, str) else None

    def verify(self, body: bytes, headers: Mapping[str, str], account: Account) -> bool:
        digest, alg = headers.get("x-payload-digest"), headers.get("x-payload-digest-alg")
        secret = account.credentials.get("webhook_secret")
        if not digest or not secret or (alg or "HMAC_SHA256_HEX") not in DIGESTS:
            return False
        return same_secret(digest.strip().lower(),
                           payload_digest(secret, body, alg or "HMAC_SHA256_HEX"))

    def parse(self, body: bytes, headers: Mapping[str, str]) -> VendorDecision | None:
        document = read_json_object(body)
        if text_field(document, "type") != DECIDING:
            return None  # applicantCreated, applicantPending, …: news, not a decision
        reference = text_field(document, "externalUserId")
        applicant = text_field(document, "applicantId")
        result = document.get("reviewResult")
        if not isinstance(result, dict):
            raise CallbackInvalid("reviewResult: an object is required")
        answer = text_field(result, "reviewAnswer")
        decided_at = vendor_time(document.get("createdAtMs"))
        if answer == "GREEN":
            verdict, rejection, reason = "approved", None, "GREEN"
        elif answer == "RED":
            raw = result.get("reviewRejectType")
            rejection = REJECT_TYPES.get(raw) if isinstance(raw, str) else "final"
            if rejection is None:
                raise CallbackInvalid("reviewRejectType: RETRY or FINAL")
            verdict, reason = "rejected", _reason(result)
        else:
            raise CallbackInvalid("reviewAnswer: GREEN or RED")
        stamp = document.get("createdAtMs")
        return VendorDecision(
            reference=reference, decision_id=f"{applicant}:{DECIDING}:{stamp}:{answer}",
            verdict="approved" if verdict == "approved" else "rejected", rejection=rejection,
            reason=reason, decided_at=decided_at)

    def acknowledge(self, outcome: str) -> dict[str, Any]:
        return {"ok": True, "outcome": outcome}


def _reason(result: Mapping[str, Any]) -> str:
    """A rejection's reason: its labels (``DOCUMENT_DAMAGED, SELFIE_MISMATCH``), else the
    comment meant for the applicant."""
    labels = result.get("rejectLabels")
    if isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels):
        return ", ".join(labels)[:500]
    comment = result.get("moderationComment")
    return comment[:500] if isinstance(comment, str) and comment else "RED"
