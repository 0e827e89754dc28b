"""A brand's game aggregators: whether each is on, the secret its wallet calls are signed
with (write-only) and where its launched games open.

A brand that configured nothing uses the platform's settings: the aggregator on, its
secret (``WOWSINO_SANDBOX_AGGREGATOR_SECRET``, ``WOWSINO_HUB88_AGGREGATOR_SECRET``) and
its launch address. A brand's own secret replaces the platform's for the calls naming
that brand's game sessions, and only for them: a call signed with brand A's secret
never verifies for brand B's session, nor the platform's secret for A's.

An aggregator's games are in a brand's catalogue when it is on and some secret can sign
its calls (the sandbox's never move live money in production). Turning an aggregator off
ends its open game sessions as their expiry would: their bets and balance calls are
refused, their wins and rollbacks still accepted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.games import repository
from wowsino.games.adapters import ADAPTERS
from wowsino.games.adapters.base import Adapter
from wowsino.kernel import audit, vendors
from wowsino.kernel.config import Settings
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.realm import Actor, Realm

SECRET = re.compile(r"^[!-~]{16,256}$")  # 16 to 256 visible ASCII characters


class Kept(Enum):
    """A PUT without a secret: the stored one stays."""

    KEEP = "keep"


KEEP = Kept.KEEP


@dataclass(frozen=True)
class BrandAggregator:
    """One aggregator as one brand uses it."""

    adapter: Adapter
    enabled: bool = True
    secret: str | None = field(default=None, repr=False)  # the brand's own
    launch_url: str | None = None  # the brand's own base address
    version: int = 0  # 0: never configured
    updated_at: datetime | None = None

    def signing_secret(self, settings: Settings) -> str | None:
        """The secret this brand's calls verify with: its own, else the platform's."""
        return self.secret or self.adapter.secret(settings)

    def available(self, settings: Settings, realm: Realm) -> bool:
        """Whether the brand's catalogue offers the aggregator's games."""
        if not self.enabled or self.signing_secret(settings) is None:
            return False
        return not vendors.sandbox_in_live(self.adapter.name, realm, settings)

    def view(self, brand: str, settings: Settings, realm: Realm) -> dict[str, Any]:
        """What the API shows: never the secret, only whether the brand set one."""
        return {"brand": brand, "adapter": self.adapter.name, "enabled": self.enabled,
                "secret_set": self.secret is not None, "launch_url": self.launch_url,
                "available": self.available(settings, realm), "configured": self.version > 0,
                "version": self.version, "updated_at": self.updated_at}


def _from_row(row: dict[str, Any]) -> BrandAggregator:
    return BrandAggregator(ADAPTERS[row["adapter"]], row["enabled"], row["secret"],
                           row["launch_url"], row["version"], row["updated_at"])


async def for_brand(conn: AsyncConnection, realm: Realm,
                    brand_id: UUID) -> dict[str, BrandAggregator]:
    """Every aggregator as the brand uses it, by name (the unconfigured ones too)."""
    rows = await repository.aggregator_configs(conn, realm, brand_id)
    return {name: _from_row(rows[name]) if name in rows else BrandAggregator(adapter)
            for name, adapter in ADAPTERS.items()}


def _adapter(name: str) -> Adapter:
    found = ADAPTERS.get(name)
    if found is None:
        raise NotFound(f"no aggregator {name!r}; one of {sorted(ADAPTERS)}", code="NOT_FOUND")
    return found


def check_secret(secret: str) -> str:
    if not SECRET.match(secret):
        raise ValidationFailed("secret: 16 to 256 visible ASCII characters", field="secret")
    return secret


def check_launch_url(url: str) -> str:
    """An absolute http(s) address with no query or fragment (the adapter appends the
    game and the token), without its trailing slash."""
    parts = urlsplit(url)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query
            or parts.fragment or any(c.isspace() for c in url)):
        raise ValidationFailed("launch_url: an absolute http or https address with no query "
                               "or fragment", field="launch_url")
    return url.rstrip("/")


def fingerprinted(secret: str | Kept | None) -> str | None:
    """What a request's idempotency fingerprint holds of its secret: a digest (so the
    same key with another secret is another request), never the value."""
    if secret is KEEP:
        return "kept"
    if secret is None:
        return None
    return hashlib.sha256(secret.encode()).hexdigest()


async def show(conn: AsyncConnection, *, realm: Realm, settings: Settings, slug: str,
               adapter_name: str) -> dict[str, Any]:
    """The brand's use of one aggregator, never its secret."""
    adapter = _adapter(adapter_name)
    found = await vendors.brand(conn, realm, slug)
    current = (await for_brand(conn, realm, found["id"]))[adapter.name]
    return {"aggregator": current.view(found["slug"], settings, realm)}


def _audited(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in ("enabled", "secret_set", "launch_url", "version")}


async def put(conn: AsyncConnection, *, realm: Realm, settings: Settings, slug: str,
              adapter_name: str, enabled: bool, secret: str | Kept | None,
              launch_url: str | None, actor: Actor, at: datetime) -> dict[str, Any]:
    """Configure the brand's use of one aggregator. ``secret``: ``KEEP`` leaves the stored
    one, None removes it (the platform's signs again), a string replaces it from the
    next call on. Audited without the secret (its ``version`` shows a rotation)."""
    adapter = _adapter(adapter_name)
    found = await vendors.brand(conn, realm, slug)
    before = (await for_brand(conn, realm, found["id"]))[adapter.name]
    chosen = before.secret if secret is KEEP else secret
    await repository.put_aggregator_config(
        conn, realm, found["id"], adapter=adapter.name, enabled=enabled,
        secret=None if chosen is None else check_secret(chosen),
        launch_url=None if launch_url is None else check_launch_url(launch_url), at=at)
    after = (await for_brand(conn, realm, found["id"]))[adapter.name]
    await audit.record(conn, realm=realm, actor=actor, action="aggregator.configured",
                       target_type="brand", target_id=str(found["id"]),
                       before=_audited(before.view(slug, settings, realm)),
                       after={"adapter": adapter.name,
                              **_audited(after.view(slug, settings, realm))}, at=at)
    return {"aggregator": after.view(found["slug"], settings, realm)}
