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

from wowsino.kernel import vendors
from wowsino.kernel.errors import Conflict, ValidationFailed
from wowsino.kernel.money import ASSETS, from_minor, to_minor
from wowsino.kernel.realm import Actor, Realm
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
    if vendors.sandbox_in_live(brand.adapter.name, realm, settings):
        raise Conflict("this brand has no payment provider for live money: choose one with "
                       "PUT /v1/brands/<slug>/psp", code="PSP_NOT_CONFIGURED")


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
    thresholds = {} if row is None else {
        code: from_minor(int(minor), ASSETS[code])
        for code, minor in sorted(row["auto_approve_below"].items())}
    return vendors.view(slug, row, psp.DEFAULT, {"auto_approve_below": thresholds})


async def show(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any]:
    """The brand's adapter and which credentials are set, never their values."""
    found = await vendors.brand(conn, realm, slug)
    return {"psp": _view(found["slug"], await repository.psp_config(conn, realm, found["id"]))}


async def put(conn: AsyncConnection, *, realm: Realm, slug: str, adapter_name: str,
              credentials: dict[str, str] | None, auto_approve_below: dict[str, Any] | None,
              actor: Actor, at: datetime) -> dict[str, Any]:
    """Choose the brand's adapter. ``credentials`` replace the stored ones; omitted, the
    stored ones stay when the adapter is the same. Audited without the secrets."""
    found = await vendors.brand(conn, realm, slug)
    chosen = vendors.choose(psp.ADAPTERS, adapter_name, "PSP")
    before = await repository.psp_config(conn, realm, found["id"])
    stored = vendors.credentials(chosen, credentials, before)
    thresholds = _thresholds(auto_approve_below or {})
    await repository.put_psp_config(conn, realm, found["id"], adapter=chosen.name,
                                    credentials=stored, auto_approve_below=thresholds, at=at)
    after = await repository.psp_config(conn, realm, found["id"])
    await vendors.record_configured(
        conn, realm=realm, actor=actor, action="psp.configured", brand_id=found["id"],
        before=_view(slug, before), after=_view(slug, after),
        audited=("adapter", "credentials_set", "auto_approve_below"), at=at)
    return {"psp": _view(found["slug"], after)}

