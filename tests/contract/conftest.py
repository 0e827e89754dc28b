"""A real ``wowsino serve`` on a free loopback port, on its own database cloned from the
migrated template, with a tenant and one object of every kind for the fuzzer to reach."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, _with_database
from tests.integration.kyc_support import SECRET as KYC_SECRET
from tests.integration.kyc_support import start_vendor
from tests.integration.wl_support import PASSWORD

PRIZES = [{"segment_label": "coins", "weight": 9, "asset": "WINZ", "amount": 10},
          {"segment_label": "xp", "weight": 1, "asset": "XP", "amount": 5}]


@dataclass(frozen=True)
class Served:
    """The running server, its tenant's test key and the ids of what it holds; a
    white-label player's session and the ids of what that player reaches."""

    base_url: str
    test_key: str
    ids: dict[str, list[str]]
    log: Path
    player_session: str = ""
    player_ids: dict[str, list[str]] | None = None
    # a white-label tenant's test keys, for its players' routes
    wl_key: str = ""
    wl_publishable: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"wowsino serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"wowsino serve did not become ready: {log.read_text()[-2000:]}")


def _created(r: httpx.Response) -> dict[str, object]:
    assert r.status_code in (200, 201), r.text
    payload: dict[str, object] = r.json()
    return payload


def _seed_white_label(base_url: str) -> tuple[str, str]:
    """A white-label tenant for the site routes: its test secret and publishable keys (a
    tenant of its own: the player routes' one is ``fuzz-wl``)."""
    with httpx.Client(base_url=base_url, timeout=30) as c:
        made = c.post("/tenants", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, json={
            "slug": "fuzz-site", "name": "Fuzz site", "service_mode": "white_label",
            "brand": {"slug": "main", "name": "Main"}})
        assert made.status_code == 201, made.text
        return made.json()["keys"]["test"], made.json()["publishable_keys"]["test"]


def _seed(base_url: str) -> tuple[str, dict[str, list[str]]]:
    """A tenant with a funded player and one object of every kind, through the API."""
    with httpx.Client(base_url=base_url, timeout=30) as c:
        made = c.post("/tenants", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, json={
            "slug": "fuzz", "name": "Fuzz", "service_mode": "plug_in",
            "brand": {"slug": "main", "name": "Main"}}).json()
        key = made["keys"]["test"]
        c.headers["Authorization"] = f"Bearer {key}"
        player = _created(c.post("/v1/players", json={"username": "alice",
                                                       "email": "alice@example.com"}))
        for rail, asset, amount in (("winz", "WINZ", 100000), ("real", "USD", 1000)):
            _created(c.post("/v1/players/alice/adjustments", json={
                "rail": rail, "asset": asset, "amount": amount, "reason": "seed"}))
        lootbox = _created(c.post("/v1/lootbox", json={"name": "Box", "prize_table": PRIZES}))
        raffle = _created(c.post("/v1/raffles", json={"name": "Raffle", "ticket_cost_winz": 1,
                                                       "prize_winz": 10}))
        jackpot = _created(c.post("/v1/jackpots", json={"name": "Pot", "currency": "USD",
                                                         "seed_usd": 50}))
        game = _created(c.post("/v1/mini-games", json={"name": "Wheel", "kind": "wheel",
                                                        "prize_table": PRIZES}))
        hook = _created(c.post("/v1/webhooks", json={"url": "https://hooks.example.com/x",
                                                      "events": ["*"]}))
        hook_id = hook["webhook"]["id"]  # type: ignore[index]
        ping = _created(c.post(f"/v1/webhooks/{hook_id}/ping"))
        segment = _created(c.post("/v1/segments", json={
            "name": "Lapsed", "expression": "min_vip_level=2 AND last_deposit_at < now() - 7d"}))
        segment_id = segment["segment"]["id"]  # type: ignore[index]
        campaign = _created(c.post("/v1/campaigns", json={
            "name": "Weekly", "segment_id": segment_id,
            "action": {"type": "grant_winz", "amount": 5},
            "schedule": {"weekly": {"day": "fri", "time": "10:00", "tz": "Europe/Malta"}}}))
    ids = {
        "key": ["alice", player["player"]["user_id"]],  # type: ignore[index]
        "lootbox_id": [lootbox["lootbox"]["id"]],  # type: ignore[index]
        "raffle_id": [raffle["raffle"]["id"]],  # type: ignore[index]
        "jackpot_id": [jackpot["jackpot"]["id"]],  # type: ignore[index]
        "mini_game_id": [game["mini_game"]["id"]],  # type: ignore[index]
        "webhook_id": [hook_id],
        "delivery_id": [ping["delivery"]["id"]],  # type: ignore[index]
        "segment_id": [segment_id],
        "campaign_id": [campaign["campaign"]["id"]],  # type: ignore[index]
    }
    with httpx.Client(base_url=base_url, timeout=30) as c:
        # the /tenants fuzzer suspends and throttles what it reaches: its own tenant
        other = c.post("/tenants", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, json={
            "slug": "fuzz-admin", "name": "Fuzz admin", "service_mode": "white_label",
            "brand": {"slug": "main", "name": "Main"}}).json()
    ids["tenant"] = ["fuzz-admin", other["tenant"]["id"]]
    return key, ids


def _seed_player(base_url: str) -> tuple[str, dict[str, list[str]]]:
    """A white-label tenant whose player has a session, WINZ, a pending bonus and one
    lootbox, mini-game, raffle, running tournament and jackpot to reach."""
    now = datetime.now(UTC)
    with httpx.Client(base_url=base_url, timeout=30) as c:
        made = c.post("/tenants", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, json={
            "slug": "fuzz-wl", "name": "Fuzz WL", "service_mode": "white_label",
            "brand": {"slug": "main", "name": "Main"}}).json()
        site = {"Authorization": f"Bearer {made['publishable_keys']['test']}"}
        _created(c.post("/v1/auth/register", headers=site, json={
            "username": "alice", "email": "alice@example.com", "password": PASSWORD,
            "country_code": "MT", "date_of_birth": "1990-01-01"}))
        session = str(_created(c.post("/v1/auth/login", headers=site, json={
            "username": "alice", "password": PASSWORD}))["session_token"])
        c.headers["Authorization"] = f"Bearer {made['keys']['test']}"
        _created(c.post("/v1/players/alice/adjustments", json={
            "rail": "winz", "asset": "WINZ", "amount": 1_000_000, "reason": "seed"}))
        made_ids: dict[str, Any] = {}
        for path, body, name, kind in (
                ("/v1/lootbox", {"name": "Box", "prize_table": PRIZES, "cost_winz": 1},
                 "lootbox_id", "lootbox"),
                ("/v1/mini-games", {"name": "Wheel", "kind": "wheel", "prize_table": PRIZES},
                 "mini_game_id", "mini_game"),
                ("/v1/raffles", {"name": "Raffle", "ticket_cost_winz": 1, "prize_winz": 10},
                 "raffle_id", "raffle"),
                ("/v1/tournaments", {
                    "name": "Race", "scoring": "sum_wagered",
                    "starts_at": (now - timedelta(hours=1)).isoformat(),
                    "ends_at": (now + timedelta(days=30)).isoformat(),
                    "prize_table": [{"rank_from": 1, "rank_to": 1,
                                     "prize": {"asset": "WINZ", "amount": 1}}]},
                 "tournament_id", "tournament"),
                ("/v1/jackpots", {"name": "Pot", "currency": "USD", "seed_usd": 50},
                 "jackpot_id", "jackpot"),
                ("/v1/bonus-templates", {"name": "Welcome", "type": "no_deposit",
                                         "promo_code": "WELCOME", "amount": 1},
                 "welcome", "template"),
                ("/v1/bonus-templates", {"name": "Spins", "type": "free_spins",
                                         "promo_code": "SPINS", "free_spin_count": 5,
                                         "free_spin_value": 1}, "spins", "template")):
            made_ids[name] = _created(c.post(path, json=body))[kind]["id"]  # type: ignore[index]
        spins = _created(c.post("/v1/player/bonuses/claim", json={"promo_code": "SPINS"},
                                headers={"Authorization": f"Bearer {session}"}))
    ids = {name: [made_ids[name]] for name in ("lootbox_id", "mini_game_id", "raffle_id",
                                               "tournament_id")}
    ids["bonus_id"] = [spins["bonus"]["id"]]  # type: ignore[index]
    ids["promo_code"] = ["WELCOME", "SPINS"]
    return session, ids


async def _create_database(server_url: str, template: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()


async def _drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def kyc_vendor() -> Iterator[str]:
    """The sandbox KYC vendor: a player's own verification reaches a vendor that answers."""
    vendor = start_vendor()
    yield vendor.url
    vendor.stop()


@pytest.fixture(scope="module")
def served(server_url: str, template_db: str, kyc_vendor: str) -> Iterator[Served]:
    name = f"wz_contract_{os.getpid()}_{os.urandom(3).hex()}"
    asyncio.run(_create_database(server_url, template_db, name))
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="wowsino-contract-") as root:
        log = Path(root) / "server.log"
        env = {**os.environ, "WOWSINO_DATABASE_URL": _with_database(server_url, name),
               "WOWSINO_ADMIN_TOKEN": ADMIN_TOKEN, "WOWSINO_DATA_DIR": root,
               # the fuzzer's own pace must not be what it measures
               "WOWSINO_RATE_LIMIT_BURST": "1000000", "WOWSINO_RATE_LIMIT_PER_SECOND": "1000000",
               "WOWSINO_DB_POOL_SIZE": "4", "WOWSINO_SANDBOX_KYC_URL": kyc_vendor,
               "WOWSINO_SANDBOX_KYC_SECRET": KYC_SECRET}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", "from wowsino.cli import app; app()", "serve",
                 "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
        try:
            _wait_ready(base_url, process, log)
            key, ids = _seed(base_url)
            session, player_ids = _seed_player(base_url)
            wl_key, wl_publishable = _seed_white_label(base_url)
            yield Served(base_url, key, ids, log, session, player_ids, wl_key, wl_publishable)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            asyncio.run(_drop_database(server_url, name))
