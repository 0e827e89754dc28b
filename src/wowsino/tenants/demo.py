"""The demo tenant ``make run`` creates once; its keys are kept in the data
directory (development only) so every start can print the test key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.kernel.clock import SystemClock
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import NotFound
from wowsino.kernel.realm import ADMIN
from wowsino.tenants import service

DEMO_SLUG = "demo"


async def ensure_demo_tenant(engine: AsyncEngine, data_dir: Path) -> dict[str, Any]:
    """Create the demo tenant unless it exists; return its slug, brand and test key."""
    keys_file = data_dir / "demo-keys.json"
    async with read_only(engine) as conn:
        try:
            await service.get_tenant(conn, DEMO_SLUG)
            exists = True
        except NotFound:
            exists = False
    if exists and keys_file.exists():
        return dict(json.loads(keys_file.read_text()))
    if exists:  # data kept but the key file lost: issue a fresh test key
        async def new_key(conn: Any) -> Any:
            found = await service.get_tenant(conn, DEMO_SLUG)
            from wowsino.kernel.realm import Mode

            return await service.create_key(conn, tenant_id=found["id"], brand="main",
                                             mode=Mode.TEST, scopes=["*"], name="demo test",
                                             actor=ADMIN, at=SystemClock().now())

        created = await unit_of_work(engine, new_key)
        info = {"tenant": DEMO_SLUG, "brand": "main", "test_key": created.plaintext}
    else:
        result = await unit_of_work(engine, lambda conn: service.create_tenant(
            conn, slug=DEMO_SLUG, name="Demo Casino", service_mode="plug_in", brand_slug="main",
            brand_name="Demo Casino", actor=ADMIN, at=SystemClock().now()))
        info = {"tenant": DEMO_SLUG, "brand": "main", "test_key": result["keys"]["test"],
                "live_key": result["keys"]["live"]}
    _write_keys(keys_file, info)
    return info


def _write_keys(keys_file: Path, info: dict[str, Any]) -> None:
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps(info, indent=2))
    keys_file.chmod(0o600)
