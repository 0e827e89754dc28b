"""The demo tenant's owner ``make run`` creates once, so the console can be tried at
once: an operator with a generated password, kept in the data directory (development
only) so every start can print it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.kernel.clock import SystemClock
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.realm import ADMIN
from wowsino.operators import repository, service
from wowsino.tenants import service as tenants

DEMO_OWNER = "owner@demo.example"


async def ensure_demo_owner(engine: AsyncEngine, data_dir: Path,
                            tenant_slug: str) -> dict[str, str] | None:
    """The demo tenant's owner (created unless it exists): email and password; None when
    the owner exists but its password file was lost (set a new one by invitation)."""
    owner_file = data_dir / "demo-owner.json"
    async with read_only(engine) as conn:
        tenant_id = UUID(str((await tenants.get_tenant(conn, tenant_slug))["id"]))
        found = await repository.by_email(conn, DEMO_OWNER, tenant_slug, limit=1)
    if found:
        return dict(json.loads(owner_file.read_text())) if owner_file.exists() else None
    password = secrets.token_urlsafe(12)

    async def create(conn: Any) -> None:
        at = SystemClock().now()
        invitation = await service.invite(conn, tenant_id=tenant_id, email=DEMO_OWNER,
                                          role="owner", actor=ADMIN, actor_role=None, at=at)
        await service.accept_invitation(conn, token=invitation.token, password=password,
                                        display_name="Demo owner", at=at)

    await unit_of_work(engine, create)
    info = {"email": DEMO_OWNER, "password": password}
    owner_file.parent.mkdir(parents=True, exist_ok=True)
    owner_file.write_text(json.dumps(info))
    owner_file.chmod(0o600)
    return info
