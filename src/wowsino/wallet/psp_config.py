"""A brand's PSP: the adapter it uses, its credentials (write-only) and its withdrawal
auto-approval thresholds. A white-label brand that chose none uses ``sandbox``.

In production (``WOWSINO_ENV=production``) the sandbox moves no live money: a live
deposit or withdrawal through it is refused with 409 ``PSP_NOT_CONFIGURED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit
from wowsino.kernel.errors import Conflict, NotFound, ValidationFailed
from wowsino.kernel.money import ASSETS, from_minor, to_minor
from wowsino.kernel.realm import Actor, Mode, Realm
from wowsino.wallet import psp, repository
from wowsino.wallet.psp.base import PspAdapter


@dataclass(frozen=True)
class BrandPsp:
    """What the wallet uses for one brand."""

    adapter: PspAdapter
    credentials: dict[str, str]
    auto_approve_below: dict[str, int]  # currency → minor units
    configured: bool

    def auto_approves(self, currency: str, amount: int) -> bool:
        threshold = self.auto_approve_below.get(currency)
        return threshold is not None and amount < threshold


async def for_brand(conn: AsyncConnection, realm: Realm, brand_id: UUID) -> BrandPsp:
    row = await repository.psp_config(conn, realm, brand_id)
    if row is None:
        return BrandPsp(psp.adapter(psp.DEFAULT), {}, {}, configured=False)
    return BrandPsp(psp.adapter(row["adapter"]), dict(row["credentials"]),
                    {k: int(v) for k, v in row["auto_approve_below"].items()}, configured=True)


def require_usable(brand: BrandPsp, realm: Realm, settings: Any) -> None:
    """The sandbox never takes live money in production (409 ``PSP_NOT_CONFIGURED``)."""
    if brand.adapter.name == psp.DEFAULT and realm.mode is Mode.LIVE and settings.production:
        raise Conflict("this brand has no payment provider for live money: choose one with "
                       "PUT /v1/brands/<slug>/psp", code="PSP_NOT_CONFIGURED")


async def _brand(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any]:
    found = await repository.brand(conn, realm, slug)
    if found is None:
        raise NotFound(f"no brand {slug!r}", code="NOT_FOUND")
    return found


def _thresholds(raw: dict[str, Any]) -> dict[str, int]:
    out = {}
    for code, amount in raw.items():
        found = ASSETS.get(code.upper()) if isinstance(code, str) else None
        field = f"auto_approve_below.{code}"
        if found is None or not found.is_currency:
            raise ValidationFailed(f"{field}: not a currency", field=field)
        out[found.code] = to_minor(amount, found, field=field)
    return out


def _view(slug: str, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"brand": slug, "adapter": psp.DEFAULT, "configured": False,
                "credentials_set": [], "auto_approve_below": {}, "version": 0,
                "updated_at": None}
    thresholds = {code: from_minor(int(minor), ASSETS[code])
                  for code, minor in sorted(row["auto_approve_below"].items())}
    return {"brand": slug, "adapter": row["adapter"], "configured": True,
            "credentials_set": sorted(row["credentials"]), "auto_approve_below": thresholds,
            "version": row["version"], "updated_at": row["updated_at"]}


async def show(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any]:
    """The brand's adapter and which credentials are set, never their values."""
    found = await _brand(conn, realm, slug)
    return {"psp": _view(found["slug"], await repository.psp_config(conn, realm, found["id"]))}


async def put(conn: AsyncConnection, *, realm: Realm, slug: str, adapter_name: str,
              credentials: dict[str, str] | None, auto_approve_below: dict[str, Any] | None,
              actor: Actor, at: datetime) -> dict[str, Any]:
    """Choose the brand's adapter. ``credentials`` replace the stored ones; omitted, the
    stored ones stay when the adapter is the same. Audited without the secrets."""
    found = await _brand(conn, realm, slug)
    chosen = psp.ADAPTERS.get(adapter_name)
    if chosen is None:
        raise ValidationFailed(f"adapter: unknown PSP adapter {adapter_name!r}; one of "
                               f"{sorted(psp.ADAPTERS)}", field="adapter")
    before = await repository.psp_config(conn, realm, found["id"])
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
    thresholds = _thresholds(auto_approve_below or {})
    await repository.put_psp_config(conn, realm, found["id"], adapter=chosen.name,
                                    credentials=credentials, auto_approve_below=thresholds,
                                    at=at)
    after = await repository.psp_config(conn, realm, found["id"])
    await audit.record(conn, realm=realm, actor=actor, action="psp.configured",
                       target_type="brand", target_id=str(found["id"]),
                       before=_audited(_view(slug, before)), after=_audited(_view(slug, after)),
                       at=at)
    return {"psp": _view(found["slug"], after)}


def _audited(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in ("adapter", "credentials_set", "auto_approve_below")}

