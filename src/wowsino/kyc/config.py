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

from wowsino.kernel import audit
from wowsino.kernel.errors import Conflict, NotFound, ValidationFailed
from wowsino.kernel.realm import Actor, Mode, Realm
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
    if brand.adapter.name == adapters.DEFAULT and realm.mode is Mode.LIVE and settings.production:
        raise Conflict("this brand has no KYC vendor for live players: choose one with "
                       "PUT /v1/brands/<slug>/kyc", code="KYC_NOT_CONFIGURED")


async def _brand(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any]:
    found = await repository.brand(conn, realm, slug)
    if found is None:
        raise NotFound(f"no brand {slug!r}", code="NOT_FOUND")
    return found


def _view(slug: str, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"brand": slug, "adapter": adapters.DEFAULT, "configured": False,
                "credentials_set": [], "level": DEFAULT_LEVEL, "version": 0,
                "updated_at": None}
    return {"brand": slug, "adapter": row["adapter"], "configured": True,
            "credentials_set": sorted(row["credentials"]), "level": row["level"],
            "version": row["version"], "updated_at": row["updated_at"]}


async def show(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any]:
    """The brand's adapter, its level and which credentials are set, never their values."""
    found = await _brand(conn, realm, slug)
    return {"kyc": _view(found["slug"], await repository.config(conn, realm, found["id"]))}


async def put(conn: AsyncConnection, *, realm: Realm, slug: str, adapter_name: str,
              credentials: dict[str, str] | None, level: int | None, actor: Actor,
              at: datetime) -> dict[str, Any]:
    """Choose the brand's KYC vendor. ``credentials`` replace the stored ones; omitted,
    the stored ones stay when the adapter is the same. ``level``: 1 by default. Audited
    without the secrets as ``kyc.configured``."""
    found = await _brand(conn, realm, slug)
    chosen = adapters.ADAPTERS.get(adapter_name)
    if chosen is None:
        raise ValidationFailed(f"adapter: unknown KYC adapter {adapter_name!r}; one of "
                               f"{sorted(adapters.ADAPTERS)}", field="adapter")
    before = await repository.config(conn, realm, found["id"])
    if credentials is None:
        kept = before is not None and before["adapter"] == chosen.name
        credentials = dict(before["credentials"]) if kept and before else {}
    unknown = sorted(set(credentials) - set(chosen.credential_names))
    if unknown:
        raise ValidationFailed(f"credentials: {chosen.name} takes no {unknown[0]!r}; it takes "
                               f"{list(chosen.credential_names)}", field="credentials")
    missing = [name for name in chosen.required_credentials if not credentials.get(name)]
    if missing:
        raise ValidationFailed(f"credentials: {chosen.name} needs {missing[0]!r}",
                               field="credentials")
    await repository.put_config(conn, realm, found["id"], adapter=chosen.name,
                                credentials=credentials, level=level or DEFAULT_LEVEL, at=at)
    after = await repository.config(conn, realm, found["id"])
    await audit.record(conn, realm=realm, actor=actor, action="kyc.configured",
                       target_type="brand", target_id=str(found["id"]),
                       before=_audited(_view(slug, before)), after=_audited(_view(slug, after)),
                       at=at)
    return {"kyc": _view(found["slug"], after)}


def _audited(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in ("adapter", "credentials_set", "level")}
