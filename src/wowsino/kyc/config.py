"""A brand's KYC vendor: the adapter it uses, its credentials (write-only) and the level a
verification with it reaches. A white-label brand that chose none uses ``sandbox`` at
level 1.

In production (``WOWSINO_ENV=production``) the sandbox verifies nobody in live: a live
verification through it is refused with 409 ``KYC_NOT_CONFIGURED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import vendors
from wowsino.kernel.errors import Conflict
from wowsino.kernel.realm import Actor, Realm
from wowsino.kyc import adapters, repository
from wowsino.kyc.adapters.base import KycAdapter

DEFAULT_LEVEL = 1


@dataclass(frozen=True)
class BrandKyc:
    """What a verification uses for one brand."""

    adapter: KycAdapter
    credentials: dict[str, str]
    level: int
    configured: bool


async def for_brand(conn: AsyncConnection, realm: Realm, brand_id: UUID) -> BrandKyc:
    row = await repository.config(conn, realm, brand_id)
    if row is None:
        return BrandKyc(adapters.adapter(adapters.DEFAULT), {}, DEFAULT_LEVEL, configured=False)
    return BrandKyc(adapters.adapter(row["adapter"]), dict(row["credentials"]), row["level"],
                    configured=True)


def require_usable(brand: BrandKyc, realm: Realm, settings: Any) -> None:
    """The sandbox verifies nobody in live in production (409 ``KYC_NOT_CONFIGURED``)."""
    if vendors.sandbox_in_live(brand.adapter.name, realm, settings):
        raise Conflict("this brand has no KYC vendor for live players: choose one with "
                       "PUT /v1/brands/<slug>/kyc", code="KYC_NOT_CONFIGURED")


def _view(slug: str, row: dict[str, Any] | None) -> dict[str, Any]:
    level = DEFAULT_LEVEL if row is None else row["level"]
    return vendors.view(slug, row, adapters.DEFAULT, {"level": level})


async def show(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any]:
    """The brand's adapter, its level and which credentials are set, never their values."""
    found = await vendors.brand(conn, realm, slug)
    return {"kyc": _view(found["slug"], await repository.config(conn, realm, found["id"]))}


async def put(conn: AsyncConnection, *, realm: Realm, slug: str, adapter_name: str,
              credentials: dict[str, str] | None, level: int | None, actor: Actor,
              at: datetime) -> dict[str, Any]:
    """Choose the brand's KYC vendor. ``credentials`` replace the stored ones; omitted,
    the stored ones stay when the adapter is the same. ``level``: 1 by default. Audited
    without the secrets as ``kyc.configured``."""
    found = await vendors.brand(conn, realm, slug)
    chosen = vendors.choose(adapters.ADAPTERS, adapter_name, "KYC")
    before = await repository.config(conn, realm, found["id"])
    stored = vendors.credentials(chosen, credentials, before)
    await repository.put_config(conn, realm, found["id"], adapter=chosen.name,
                                credentials=stored, level=level or DEFAULT_LEVEL, at=at)
    after = await repository.config(conn, realm, found["id"])
    await vendors.record_configured(
        conn, realm=realm, actor=actor, action="kyc.configured", brand_id=found["id"],
        before=_view(slug, before), after=_view(slug, after),
        audited=("adapter", "credentials_set", "level"), at=at)
    return {"kyc": _view(found["slug"], after)}
