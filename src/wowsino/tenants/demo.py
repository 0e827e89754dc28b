"""The demo tenants ``make run`` creates once: ``demo`` (plug-in) and ``demo-wl``
(white-label, with a publishable key for its player site). Their keys are kept in the
data directory (development only) so every start can print the test keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.kernel.clock import SystemClock
from wowsino.kernel.config import Settings
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import NotFound
from wowsino.kernel.realm import ADMIN, Mode, Realm
from wowsino.tenants import service

DEMO_SLUG = "demo"
WHITE_LABEL_SLUG = "demo-wl"


async def _exists(engine: AsyncEngine, slug: str) -> bool:
    async with read_only(engine) as conn:
        try:
            await service.get_tenant(conn, slug)
        except NotFound:
            return False
    return True


async def ensure_demo_tenant(engine: AsyncEngine, data_dir: Path) -> dict[str, Any]:
    """Create the demo tenant unless it exists; return its slug, brand and test key."""
    keys_file = data_dir / "demo-keys.json"
    exists = await _exists(engine, DEMO_SLUG)
    if exists and keys_file.exists():
        return dict(json.loads(keys_file.read_text()))
    if exists:  # data kept but the key file lost: issue a fresh test key
        async def new_key(conn: Any) -> Any:
            found = await service.get_tenant(conn, DEMO_SLUG)
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


async def ensure_white_label_demo(engine: AsyncEngine, data_dir: Path) -> dict[str, Any]:
    """Create the white-label demo tenant unless it exists; return its slug, brand, test
    key and test publishable key (the player site's)."""
    keys_file = data_dir / "demo-wl-keys.json"
    exists = await _exists(engine, WHITE_LABEL_SLUG)
    if exists and keys_file.exists():
        return dict(json.loads(keys_file.read_text()))
    if exists:  # data kept but the key file lost: fresh test keys
        async def new_keys(conn: Any) -> dict[str, str]:
            found = await service.get_tenant(conn, WHITE_LABEL_SLUG)
            at = SystemClock().now()
            secret = await service.create_key(
                conn, tenant_id=found["id"], brand="main", mode=Mode.TEST, scopes=["*"],
                name="demo test", actor=ADMIN, at=at)
            publishable = await service.create_key(
                conn, tenant_id=found["id"], brand="main", mode=Mode.TEST, scopes=[],
                name="demo publishable test", actor=ADMIN, at=at, publishable=True)
            return {"test_key": secret.plaintext, "publishable_key": publishable.plaintext}

        info: dict[str, Any] = {"tenant": WHITE_LABEL_SLUG, "brand": "main",
                                **await unit_of_work(engine, new_keys)}
    else:
        result = await unit_of_work(engine, lambda conn: service.create_tenant(
            conn, slug=WHITE_LABEL_SLUG, name="Demo White-label Casino",
            service_mode="white_label", brand_slug="main", brand_name="Demo White-label Casino",
            actor=ADMIN, at=SystemClock().now()))
        info = {"tenant": WHITE_LABEL_SLUG, "brand": "main", "test_key": result["keys"]["test"],
                "publishable_key": result["publishable_keys"]["test"],
                "live_key": result["keys"]["live"],
                "live_publishable_key": result["publishable_keys"]["live"]}
    _write_keys(keys_file, info)
    return info


async def ensure_demo_games(engine: AsyncEngine, settings: Settings) -> None:
    """Point the white-label demo brand's sandbox games at the sandbox aggregator ``make
    run`` starts (``WOWSINO_SANDBOX_GAMES_URL``), in both modes, unless its operator has
    configured them since."""
    from wowsino.games import aggregator_config

    async def configure(conn: Any) -> None:
        found = await service.get_tenant(conn, WHITE_LABEL_SLUG)
        for mode in Mode:
            realm = Realm(found["id"], mode)
            shown = await aggregator_config.show(conn, realm=realm, settings=settings,
                                                 slug="main", adapter_name="sandbox")
            if not shown["aggregator"]["configured"]:
                await aggregator_config.put(
                    conn, realm=realm, settings=settings, slug="main", adapter_name="sandbox",
                    enabled=True, secret=aggregator_config.KEEP,
                    launch_url=settings.sandbox_games_url, actor=ADMIN, at=SystemClock().now())

    await unit_of_work(engine, configure)


def _write_keys(keys_file: Path, info: dict[str, Any]) -> None:
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps(info, indent=2))
    keys_file.chmod(0o600)
