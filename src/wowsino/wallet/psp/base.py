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
moves money; the adapter only speaks the PSP's protocol. What every vendor's adapter
shares (``Account``, the errors, the callback's three steps) is in ``kernel/vendors.py``;
docs/psp.md has the checklist for a new adapter.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import httpx

from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import Asset, to_minor
from wowsino.kernel.vendors import Account, VendorAdapter

Settlement = Literal["completed", "failed"]
Kind = Literal["payment", "payout"]


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


class PspAdapter(VendorAdapter[CallbackEvent]):
    """One PSP. Subclasses set ``name``, ``methods`` and ``credential_names`` and implement
    the abstract methods (``kernel.vendors.VendorAdapter``'s too: ``account``,
    ``reference_of``, ``verify`` and ``parse``, which answers None for the PSP's
    "processing"); register the instance in ``wallet.psp.ADAPTERS``."""

    #: the deposit methods a player may choose (``method`` of a deposit)
    methods: frozenset[str]
    #: the payout methods (``method`` of a withdrawal)
    payout_methods: frozenset[str]

    @abstractmethod
    async def create_payment(self, http: httpx.AsyncClient, account: Account,
                             request: PaymentRequest) -> Created:
        """Start a payment. Raises ``VendorRefused`` or ``VendorUnavailable``."""

    @abstractmethod
    async def create_payout(self, http: httpx.AsyncClient, account: Account,
                            request: PayoutRequest) -> Created:
        """Send a payout, idempotent on ``request.reference``: the same reference twice
        pays once. Raises ``VendorRefused`` or ``VendorUnavailable``."""
