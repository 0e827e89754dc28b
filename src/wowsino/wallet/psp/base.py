"""The one interface every payment service provider (PSP) adapter implements.

An adapter turns the wallet's four questions into one PSP's HTTP API:

- ``create_payment``: start a deposit; the PSP answers its transaction id and where the
  player pays (a hosted page);
- ``create_payout``: send a withdrawal, with our reference as the PSP's idempotency key
  (asked twice, the PSP pays once);
- ``reference_of`` / ``verify`` / ``parse``: read a callback's raw body — which of our
  deposits or withdrawals it is about (to find the brand whose secret checks it), whether
  its signature holds, and what it says, with the PSP's statuses mapped onto ours
  (``completed`` or ``failed``; anything in between is not a settlement);
- ``acknowledge``: what the PSP expects back from a callback.

Adapters hold no state and never touch the database: the wallet stores, decides and
moves money; the adapter only speaks the PSP's protocol. docs/psp.md has the checklist
for a new adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import httpx

from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import Asset, to_minor

Settlement = Literal["completed", "failed"]
Kind = Literal["payment", "payout"]


class PspUnavailable(Exception):
    """The PSP did not answer, or answered that it failed (timeout, 5xx): whether the
    request took effect is unknown. Safe to ask again with the same reference."""


class PspRefused(Exception):
    """The PSP answered that it will not do this (a 4xx): nothing happened there."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CallbackInvalid(Exception):
    """A callback body the adapter cannot read (400): malformed, or missing a field."""


@dataclass(frozen=True)
class Account:
    """What the adapter needs to talk to the PSP for one brand: its endpoint and the
    brand's credentials (secrets: never logged, never shown)."""

    url: str
    credentials: Mapping[str, str]


@dataclass(frozen=True)
class PaymentRequest:
    """A deposit to start. ``reference`` is ours: unique, and the PSP echoes it back."""

    reference: str
    amount: Decimal
    currency: str
    method: str
    callback_url: str


@dataclass(frozen=True)
class PayoutRequest:
    """A withdrawal to pay. ``reference`` is also the PSP's idempotency key."""

    reference: str
    amount: Decimal
    currency: str
    method: str
    callback_url: str


@dataclass(frozen=True)
class Created:
    """The PSP's answer to a creation: its transaction id and, for a payment, the page
    where the player pays (None when the PSP needs none)."""

    transaction_id: str
    redirect_url: str | None


@dataclass(frozen=True)
class CallbackEvent:
    """A verified callback, in the wallet's words."""

    reference: str
    transaction_id: str
    kind: Kind
    status: Settlement
    amount: Decimal
    currency: str
    reason: str | None = None

    def amount_in(self, unit: Asset) -> int | None:
        """The callback's amount in minor units of ``unit``; None when it names another
        currency or an amount ``unit`` cannot hold."""
        if self.currency != unit.code:
            return None
        try:
            return to_minor(self.amount, unit)
        except ValidationFailed:
            return None


class PspAdapter(ABC):
    """One PSP. Subclasses set ``name``, ``methods`` and ``credential_names`` and implement
    the abstract methods; register the instance in ``wallet.psp.ADAPTERS``."""

    name: str
    #: the deposit methods a player may choose (``method`` of a deposit)
    methods: frozenset[str]
    #: the payout methods (``method`` of a withdrawal)
    payout_methods: frozenset[str]
    #: every credential the adapter reads
    credential_names: tuple[str, ...]
    #: the ones a brand must set (the others have defaults)
    required_credentials: tuple[str, ...] = ()

    @abstractmethod
    def account(self, credentials: Mapping[str, str], settings: Any) -> Account:
        """The account for a brand's stored ``credentials`` (``settings``: the platform's
        ``Settings``, for defaults such as the sandbox's URL and secret)."""

    @abstractmethod
    async def create_payment(self, http: httpx.AsyncClient, account: Account,
                             request: PaymentRequest) -> Created:
        """Start a payment. Raises ``PspRefused`` or ``PspUnavailable``."""

    @abstractmethod
    async def create_payout(self, http: httpx.AsyncClient, account: Account,
                            request: PayoutRequest) -> Created:
        """Send a payout, idempotent on ``request.reference``: the same reference twice
        pays once. Raises ``PspRefused`` or ``PspUnavailable``."""

    @abstractmethod
    def reference_of(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """Our reference named by a callback, read before it is verified (it only says
        whose secret to verify with); None when the body names none."""

    @abstractmethod
    def verify(self, body: bytes, headers: Mapping[str, str], account: Account) -> bool:
        """Whether the callback's signature over the raw ``body`` holds for ``account``."""

    @abstractmethod
    def parse(self, body: bytes, headers: Mapping[str, str]) -> CallbackEvent | None:
        """What a verified callback says; None for a status that settles nothing (the
        PSP's "processing"). Raises ``CallbackInvalid`` for a body it cannot read."""

    def acknowledge(self, outcome: str) -> dict[str, Any]:
        """The JSON body answered to the PSP with 200 once a callback is recorded."""
        return {"received": True, "outcome": outcome}
