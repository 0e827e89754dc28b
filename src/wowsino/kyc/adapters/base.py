"""The one interface every KYC vendor adapter implements.

An adapter turns the platform's questions into one vendor's HTTP API:

- ``create_session``: start a verification of one of our sessions; the vendor answers
  where the player verifies (a hosted page) and, when it has one, its own id for it.
  Asked twice with the same reference, a vendor answers the same session (or an
  equivalent one): the platform asks again after a crash or an outage;
- ``reference_of`` / ``verify`` / ``parse``: read a webhook's raw body — which of our
  sessions it is about (to find the brand whose secret checks it), whether its signature
  holds, and what it decided, mapped onto ``approved`` or ``rejected`` (``retry`` or
  ``final``) with the vendor's time of the decision and the vendor's own identity of it
  (the dedupe key); anything that is not a decision is ``None``;
- ``acknowledge``: what the vendor expects back.

Adapters hold no state and never touch the database: ``kyc.sessions`` and
``kyc.decisions`` store and decide; the adapter only speaks the vendor's protocol.
docs/kyc.md has the checklist for a new adapter.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

Verdict = Literal["approved", "rejected"]
Rejection = Literal["retry", "final"]


class VendorUnavailable(Exception):
    """The vendor did not answer, or answered that it failed (timeout, 5xx): whether the
    session exists there is unknown. Safe to ask again with the same reference."""


class VendorRefused(Exception):
    """The vendor answered that it will not start this verification (a 4xx)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CallbackInvalid(Exception):
    """A webhook body the adapter cannot read (400): malformed, or missing a field."""


@dataclass(frozen=True)
class Account:
    """What the adapter needs to talk to the vendor for one brand: its endpoint and the
    brand's credentials (secrets: never logged, never shown)."""

    url: str
    credentials: Mapping[str, str]


@dataclass(frozen=True)
class SessionRequest:
    """A verification to start. ``reference`` is ours (unique; the vendor echoes it in its
    webhooks); ``ttl_seconds``: how long the verification page stays open; ``now``: the
    platform clock's time (request signatures carry it)."""

    reference: str
    level: int
    callback_url: str
    ttl_seconds: int
    now: datetime


@dataclass(frozen=True)
class Created:
    """The vendor's answer: where the player verifies, and its own id (None when the
    vendor gives one only later)."""

    verification_url: str
    vendor_session_id: str | None


@dataclass(frozen=True)
class VendorDecision:
    """A verified webhook's decision, in the platform's words. ``decision_id`` is the
    vendor's identity of this decision (the same webhook sent twice has the same one);
    ``decided_at`` is the vendor's time of it, which orders decisions."""

    reference: str
    decision_id: str
    verdict: Verdict
    rejection: Rejection | None
    reason: str
    decided_at: datetime


class KycAdapter(ABC):
    """One KYC vendor. Subclasses set ``name`` and ``credential_names`` and implement the
    abstract methods; register the instance in ``kyc.adapters.ADAPTERS``."""

    name: str
    #: every credential the adapter reads
    credential_names: tuple[str, ...]
    #: the ones a brand must set (the others have defaults)
    required_credentials: tuple[str, ...] = ()

    @abstractmethod
    def account(self, credentials: Mapping[str, str], settings: Any) -> Account:
        """The account for a brand's stored ``credentials`` (``settings``: the platform's
        ``Settings``, for defaults such as the vendor's address)."""

    @abstractmethod
    async def create_session(self, http: httpx.AsyncClient, account: Account,
                             request: SessionRequest) -> Created:
        """Start a verification. Raises ``VendorRefused`` or ``VendorUnavailable``."""

    @abstractmethod
    def reference_of(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """Our reference named by a webhook, read before it is verified (it only says
        whose secret to verify with); None when the body names none. Raises
        ``CallbackInvalid`` for a body it cannot read."""

    @abstractmethod
    def verify(self, body: bytes, headers: Mapping[str, str], account: Account) -> bool:
        """Whether the webhook's signature over the raw ``body`` holds for ``account``."""

    @abstractmethod
    def parse(self, body: bytes, headers: Mapping[str, str]) -> VendorDecision | None:
        """What a verified webhook decided; None for news that decides nothing (the
        vendor's "documents received"). Raises ``CallbackInvalid``."""

    def acknowledge(self, outcome: str) -> dict[str, Any]:
        """The JSON body answered to the vendor with 200 once a webhook is recorded."""
        return {"received": True, "outcome": outcome}


def read_json_object(body: bytes) -> dict[str, Any]:
    """A webhook body as a JSON object, or ``CallbackInvalid``."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CallbackInvalid("body: not JSON") from None
    if not isinstance(document, dict):
        raise CallbackInvalid("body: not a JSON object")
    return document


def text_field(document: Mapping[str, Any], name: str, *, limit: int = 255) -> str:
    """A required non-empty string field, or ``CallbackInvalid`` naming it."""
    value = document.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise CallbackInvalid(f"{name}: a string is required")
    return value
