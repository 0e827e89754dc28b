"""The ``sandbox`` adapter: talks to ``wowsino sandbox psp`` (``wowsino.sandbox.psp``), a
separate HTTP service that behaves like a PSP.

Requests and callbacks are JSON signed with the shared secret: header ``X-Signature``,
the lowercase hex HMAC-SHA256 of the raw body. Credentials: ``secret`` (optional; the
platform's ``WOWSINO_SANDBOX_PSP_SECRET`` by default). The service's address is the
platform's ``WOWSINO_SANDBOX_PSP_URL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
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
)
from wowsino.wallet.psp.base import (
    CallbackEvent,
    Created,
    PaymentRequest,
    PayoutRequest,
    PspAdapter,
    Settlement,
)

# the sandbox's statuses, as the wallet reads them (``pending`` settles nothing)
STATUSES: dict[str, Settlement | None] = {"completed": "completed", "failed": "failed",
                                          "pending": None}
KINDS = {"payment": "payment", "payout": "payout"}
METHODS = frozenset({"card", "card_declined", "card_slow", "card_twice"})


class SandboxAdapter(PspAdapter):
    name = "sandbox"
    methods = METHODS
    payout_methods = METHODS
    credential_names = ("secret",)

    def account(self, credentials: Mapping[str, str], settings: Any) -> Account:
        secret = credentials.get("secret") or settings.sandbox_psp_secret
        return Account(url=settings.sandbox_psp_url.rstrip("/"), credentials={"secret": secret})

    async def _create(self, http: httpx.AsyncClient, account: Account, path: str,
                      payload: dict[str, Any]) -> Created:
        answer = await post_signed(http, account, path, payload, vendor="the sandbox PSP")
        if not isinstance(answer, dict) or not isinstance(answer.get("transaction_id"), str):
            raise VendorUnavailable("the sandbox PSP answered without a transaction id")
        redirect = answer.get("redirect_url")
        return Created(answer["transaction_id"], redirect if isinstance(redirect, str) else None)

    async def create_payment(self, http: httpx.AsyncClient, account: Account,
                             request: PaymentRequest) -> Created:
        return await self._create(http, account, "/payments", {
            "reference": request.reference, "amount": str(request.amount),
            "currency": request.currency, "method": request.method,
            "callback_url": request.callback_url})

    async def create_payout(self, http: httpx.AsyncClient, account: Account,
                            request: PayoutRequest) -> Created:
        return await self._create(http, account, "/payouts", {
            "reference": request.reference, "amount": str(request.amount),
            "currency": request.currency, "method": request.method,
            "callback_url": request.callback_url})

    def reference_of(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        reference = read_json_object(body, decimal=True).get("reference")
        return reference if isinstance(reference, str) else None

    def verify(self, body: bytes, headers: Mapping[str, str], account: Account) -> bool:
        return signature_holds(account.credentials["secret"], body,
                               headers.get(SIGNATURE_HEADER))

    def parse(self, body: bytes, headers: Mapping[str, str]) -> CallbackEvent | None:
        document = read_json_object(body, decimal=True)
        texts = {}
        for name in ("reference", "transaction_id", "type", "status", "currency"):
            value = document.get(name)
            if not isinstance(value, str) or not value or len(value) > 255:
                raise CallbackInvalid(f"{name}: a string is required")
            texts[name] = value
        if texts["status"] not in STATUSES:
            raise CallbackInvalid(f"status: unknown status {texts['status']!r}")
        if texts["type"] not in KINDS:
            raise CallbackInvalid(f"type: unknown type {texts['type']!r}")
        try:
            amount = Decimal(str(document.get("amount")))
        except InvalidOperation:
            raise CallbackInvalid("amount: a decimal amount is required") from None
        if not amount.is_finite():
            raise CallbackInvalid("amount: a decimal amount is required")
        status = STATUSES[texts["status"]]
        if status is None:
            return None
        reason = document.get("reason")
        return CallbackEvent(
            reference=texts["reference"], transaction_id=texts["transaction_id"],
            kind="payment" if texts["type"] == "payment" else "payout", status=status,
            amount=amount, currency=texts["currency"].upper(),
            reason=reason[:255] if isinstance(reason, str) else None)
