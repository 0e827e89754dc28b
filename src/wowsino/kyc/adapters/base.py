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
``kyc.decisions`` store and decide; the adapter only speaks the vendor's protocol. What
every vendor's adapter shares (``Account``, the errors, the callback's three steps) is in
``kernel/vendors.py``; docs/kyc.md has the checklist for a new adapter.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import httpx

from wowsino.kernel.vendors import Account, VendorAdapter

Verdict = Literal["approved", "rejected"]
Rejection = Literal["retry", "final"]


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


class KycAdapter(VendorAdapter[VendorDecision]):
    """One KYC vendor. Subclasses set ``name`` and ``credential_names`` and implement the
    abstract methods (``kernel.vendors.VendorAdapter``'s too: ``account``,
    ``reference_of``, ``verify`` and ``parse``, which answers None for news that decides
    nothing, the vendor's "documents received"); register the instance in
    ``kyc.adapters.ADAPTERS``."""

    @abstractmethod
    async def create_session(self, http: httpx.AsyncClient, account: Account,
                             request: SessionRequest) -> Created:
        """Start a verification. Raises ``VendorRefused`` or ``VendorUnavailable``."""
