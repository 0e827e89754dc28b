"""What the outside vendors a brand chooses share: a PSP for the wallet
(``wallet/psp``), a KYC vendor (``kyc/adapters``) and, for their signature and
the sandbox rule, the game aggregators (``games``).

- ``VendorAdapter``, ``Account`` and the errors an adapter raises: each vendor's own
  interface builds on them (``wallet/psp/base.py``, ``kyc/adapters/base.py``);
- a brand's choice of vendor (``PUT /v1/brands/<slug>/psp``, ``.../kyc``): the adapter,
  its credentials (write-only: shown by name only, audited without their values), and
  the sandbox, which in production never serves live money or live players;
- a vendor's signed callback: our reference read from the raw body finds the brand's
  account, whose secret verifies the signature over the raw bytes before anything of
  the body is believed (400 ``VALIDATION_ERROR``, 401 ``SIGNATURE_INVALID``, 404);
- the sandbox vendors' signature: ``X-Signature``, the lowercase hex HMAC-SHA256 of
  the raw body with the shared secret, and a signed request to one (``post_signed``).

The write that precedes a call to a vendor is ``kernel.writes.write_then``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import httpx
import simplejson
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit
from wowsino.kernel.db import read_only
from wowsino.kernel.errors import AuthInvalid, NotFound, ValidationFailed
from wowsino.kernel.ids import same_secret
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Actor, Mode, Realm

SANDBOX = "sandbox"  # every vendor's stand-in adapter (``wowsino sandbox ...``)
SIGNATURE_HEADER = "x-signature"  # the sandbox vendors' signature

Event = TypeVar("Event")
Event_co = TypeVar("Event_co", covariant=True)
A = TypeVar("A", bound="VendorAdapter[Any]")


# --- the adapters ----------------------------------------------------------------------


class VendorUnavailable(Exception):
    """The vendor did not answer, or answered that it failed (timeout, 5xx): whether the
    request took effect there is unknown. Safe to ask again with the same reference."""


class VendorRefused(Exception):
    """The vendor answered that it will not do this (a 4xx): nothing happened there."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CallbackInvalid(Exception):
    """A callback body the adapter cannot read (400): malformed, or missing a field."""


@dataclass(frozen=True)
class Account:
    """What an adapter needs to talk to its vendor for one brand: the vendor's endpoint
    and the brand's credentials (secrets: never logged, never shown)."""

    url: str
    credentials: Mapping[str, str]


class VendorAdapter(ABC, Generic[Event_co]):
    """One vendor: what every adapter has, whatever it does for the platform. ``Event_co``:
    what a verified callback says, in the platform's words."""

    name: str
    #: every credential the adapter reads
    credential_names: tuple[str, ...]
    #: the ones a brand must set (the others have defaults)
    required_credentials: tuple[str, ...] = ()

    @abstractmethod
    def account(self, credentials: Mapping[str, str], settings: Any) -> Account:
        """The account for a brand's stored ``credentials`` (``settings``: the platform's
        ``Settings``, for defaults such as the sandbox's address and secret)."""

    @abstractmethod
    def reference_of(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """Our reference named by a callback, read before it is verified (it only says
        whose secret to verify with); None when the body names none. Raises
        ``CallbackInvalid`` for a body it cannot read."""

    @abstractmethod
    def verify(self, body: bytes, headers: Mapping[str, str], account: Account) -> bool:
        """Whether the callback's signature over the raw ``body`` holds for ``account``."""

    @abstractmethod
    def parse(self, body: bytes, headers: Mapping[str, str]) -> Event_co | None:
        """What a verified callback says; None for news that settles or decides nothing.
        Raises ``CallbackInvalid`` for a body it cannot read."""

    def acknowledge(self, outcome: str) -> dict[str, Any]:
        """The JSON body answered to the vendor with 200 once a callback is recorded."""
        return {"received": True, "outcome": outcome}


def registered(adapters: Mapping[str, A], name: str, kind: str) -> A:
    """The registered adapter ``name``, or 404 ``NOT_FOUND`` (``kind``: "PSP", "KYC")."""
    found = adapters.get(name)
    if found is None:
        raise NotFound(f"no {kind} adapter {name[:64]!r}", code="NOT_FOUND")
    return found


def sign(secret: str, body: bytes) -> str:
    """The signature of ``body``: lowercase hex HMAC-SHA256 with the shared secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_holds(secret: str, body: bytes, signature: str | None) -> bool:
    return signature is not None and same_secret(
        signature.strip().lower(), sign(secret, body))


async def post_signed(http: httpx.AsyncClient, account: Account, path: str,
                      payload: dict[str, Any], *, vendor: str) -> Any:
    """POST ``payload`` to a sandbox vendor, signed with the account's ``secret``; its JSON
    answer (``vendor`` names it in the errors). Raises ``VendorUnavailable`` when it did
    not answer, answered 5xx, 408, 429 or 409 (the reference is known with other
    content: whether it took effect is unknown, so never a refusal) or no JSON, and
    ``VendorRefused`` with its ``error`` for another 4xx."""
    body = dumps(payload).encode()
    headers = {"Content-Type": "application/json",
               "X-Signature": sign(account.credentials["secret"], body)}
    try:
        response = await http.post(f"{account.url}{path}", content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise VendorUnavailable(f"{vendor} did not answer: {type(exc).__name__}") from None
    if response.status_code >= 500 or response.status_code in (408, 409, 429):
        raise VendorUnavailable(f"{vendor} answered {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise VendorUnavailable(f"{vendor} answered no JSON") from None
    if response.status_code >= 400:
        reason = answer.get("error") if isinstance(answer, dict) else None
        raise VendorRefused(str(reason or f"refused with {response.status_code}"))
    return answer


def read_json_object(body: bytes, *, decimal: bool = False) -> dict[str, Any]:
    """A callback body as a JSON object (numbers as ``Decimal`` when ``decimal``), or
    ``CallbackInvalid``."""
    try:
        document = simplejson.loads(body, use_decimal=True) if decimal else json.loads(body)
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


# --- a brand's vendor ------------------------------------------------------------------


CREDENTIAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ConfigIn(BaseModel):
    """A brand's choice of vendor (``PUT /v1/brands/<slug>/psp``, ``.../kyc``): every
    failure is a 400 naming the field. Subclasses add the vendor's own settings and
    ``idempotency_key``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    adapter: str = Field(min_length=1, max_length=64)
    credentials: dict[str, str] | None = Field(default=None, max_length=16)

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for name, value in (v or {}).items():
            if not CREDENTIAL_NAME.match(name):
                raise ValueError(f"{name[:64]!r} is not a credential name (a-z, 0-9, _)")
            if not 1 <= len(value) <= 4096:
                raise ValueError(f"{name}: 1 to 4096 characters")
        return v



async def brand(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any]:
    """A brand of the realm's tenant by slug (``id``, ``slug``), or 404 ``NOT_FOUND``."""
    found = (await conn.execute(
        text("SELECT id, slug FROM brands WHERE tenant_id = :tenant_id AND slug = :slug"),
        {**realm.params, "slug": slug})).first()
    if found is None:
        raise NotFound(f"no brand {slug!r}", code="NOT_FOUND")
    return dict(found._mapping)


def sandbox_in_live(adapter_name: str, realm: Realm, settings: Any) -> bool:
    """Whether this is the sandbox asked to serve live money or players in production,
    which it never does."""
    return adapter_name == SANDBOX and realm.mode is Mode.LIVE and bool(settings.production)


def account_for(adapter: A, chosen: VendorAdapter[Any], credentials: Mapping[str, str],
                settings: Any) -> tuple[A, Account]:
    """``adapter`` (the one a row was made with) and the brand's account for it: the
    brand's stored ``credentials`` while it still uses that adapter (``chosen``), else
    the adapter's defaults."""
    kept = credentials if chosen.name == adapter.name else {}
    return adapter, adapter.account(kept, settings)


def choose(adapters: Mapping[str, A], name: str, kind: str) -> A:
    """The adapter a brand chooses, or 400 on ``adapter`` (``kind``: "PSP", "KYC")."""
    chosen = adapters.get(name)
    if chosen is None:
        raise ValidationFailed(f"adapter: unknown {kind} adapter {name!r}; one of "
                               f"{sorted(adapters)}", field="adapter")
    return chosen


def credentials(chosen: VendorAdapter[Any], given: Mapping[str, str] | None,
                before: Mapping[str, Any] | None) -> dict[str, str]:
    """The credentials to store: ``given`` replace the stored ones; omitted, the stored
    ones (``before``: the stored row) stay when the adapter is the same. 400 on
    ``credentials`` for one the adapter does not take or a required one missing."""
    if given is None:
        kept = before is not None and before["adapter"] == chosen.name
        given = dict(before["credentials"]) if kept and before else {}
    unknown = sorted(set(given) - set(chosen.credential_names))
    if unknown:
        raise ValidationFailed(f"credentials: {chosen.name} takes no {unknown[0]!r}; it takes "
                               f"{list(chosen.credential_names)}", field="credentials")
    missing = [name for name in chosen.required_credentials if not given.get(name)]
    if missing:
        raise ValidationFailed(f"credentials: {chosen.name} needs {missing[0]!r}",
                               field="credentials")
    return dict(given)


def view(slug: str, row: Mapping[str, Any] | None, default: str,
         settings: Mapping[str, Any]) -> dict[str, Any]:
    """What the API shows of a brand's vendor (``row``: the stored one, None for none):
    which credentials are set, never their values; ``settings``: the vendor's own."""
    if row is None:
        return {"brand": slug, "adapter": default, "configured": False,
                "credentials_set": [], **settings, "version": 0, "updated_at": None}
    return {"brand": slug, "adapter": row["adapter"], "configured": True,
            "credentials_set": sorted(row["credentials"]), **settings,
            "version": row["version"], "updated_at": row["updated_at"]}


async def record_configured(conn: AsyncConnection, *, realm: Realm, actor: Actor,
                            action: str, brand_id: Any, before: Mapping[str, Any],
                            after: Mapping[str, Any], audited: Iterable[str],
                            at: datetime) -> None:
    """The audit row of a brand's new vendor configuration: the ``audited`` fields of the
    views ``before`` and ``after``, never a secret."""
    fields = tuple(audited)
    await audit.record(conn, realm=realm, actor=actor, action=action, target_type="brand",
                       target_id=str(brand_id), before={k: before[k] for k in fields},
                       after={k: after[k] for k in fields}, at=at)


# --- signed callbacks ------------------------------------------------------------------


class Routed(Protocol):
    """Our reference as a vendor echoes it: it names the realm (and the row) on its own."""

    @property
    def realm(self) -> Realm: ...


Ref = TypeVar("Ref", bound=Routed)
Row = dict[str, Any]


async def verified(
    platform: Platform, adapter: VendorAdapter[Event], body: bytes, headers: Mapping[str, str],
    *, word: str, decode: Callable[[str], Ref | None], unknown: Callable[[], Exception],
    load: Callable[[AsyncConnection, Ref], Awaitable[Row | None]],
    account_for: Callable[[AsyncConnection, Platform, Realm, Row],
                          Awaitable[tuple[Any, Account]]],
) -> tuple[str, Ref, Event | None]:
    """Read a callback's reference, find whose it is, verify its signature, then parse it:
    ``(reference as the body spells it, reference, event)``.

    ``decode`` reads our reference, ``load`` the row it names (made with this adapter),
    ``account_for`` the brand's account for the row; ``unknown()`` is the 404 for a
    reference that names none; ``word``: what the vendor calls it ("callback",
    "webhook"). Raises 400 for a body the adapter cannot read or that names no
    reference, 401 ``SIGNATURE_INVALID`` for a signature that does not hold: nothing of
    the body is believed or recorded before it verifies."""
    try:
        raw = adapter.reference_of(body, headers)
    except CallbackInvalid as exc:
        raise ValidationFailed(str(exc), field="body") from None
    if raw is None:
        raise ValidationFailed(f"reference: the {word} names no reference", field="reference")
    reference = decode(raw)
    if reference is None:
        raise unknown()
    async with read_only(platform.engine) as conn:
        row = await load(conn, reference)
        if row is None or row["adapter"] != adapter.name:
            raise unknown()
        _, account = await account_for(conn, platform, reference.realm, row)
    if not adapter.verify(body, headers, account):
        raise AuthInvalid(f"the {word}'s signature does not verify", code="SIGNATURE_INVALID")
    try:
        event = adapter.parse(body, headers)
    except CallbackInvalid as exc:
        raise ValidationFailed(str(exc), field="body") from None
    return raw, reference, event
