"""White-label test helpers: a tenant with publishable keys, registered players and
their session tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import ADMIN, Tenant

PASSWORD = "correct horse battery"


@dataclass
class WhiteLabel(Tenant):
    """A white-label tenant: ``Tenant`` plus the brand's publishable keys."""

    publishable: dict[str, str]

    def site(self, mode: str = "test") -> dict[str, str]:
        """Headers of the brand's player site (its publishable key)."""
        return {"Authorization": f"Bearer {self.publishable[mode]}"}


async def make_white_label(client: httpx.AsyncClient, slug: str = "wlcasino") -> WhiteLabel:
    r = await client.post("/tenants", headers=ADMIN, json={
        "slug": slug, "name": slug.title(), "service_mode": "white_label",
        "brand": {"slug": "main", "name": "Main"}})
    assert r.status_code == 201, r.text
    b = r.json()
    return WhiteLabel(b["tenant"]["id"], slug, b["keys"]["live"], b["keys"]["test"],
                      b["brand"]["id"], client, b["publishable_keys"])


def registration(username: str, **fields: Any) -> dict[str, Any]:
    return {"username": username, "email": f"{username}@example.com", "password": PASSWORD,
            "country_code": "MT", "date_of_birth": "1990-01-01", **fields}


async def register(wl: WhiteLabel, username: str, mode: str = "test",
                   **fields: Any) -> dict[str, Any]:
    r = await wl.client.post("/v1/auth/register", headers=wl.site(mode),
                             json=registration(username, **fields))
    assert r.status_code == 201, r.text
    player: dict[str, Any] = r.json()["player"]
    return player


async def login(wl: WhiteLabel, username: str, password: str = PASSWORD,
                mode: str = "test") -> str:
    r = await wl.client.post("/v1/auth/login", headers=wl.site(mode),
                             json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    token: str = r.json()["session_token"]
    return token


async def player_session(wl: WhiteLabel, username: str, mode: str = "test",
                         **fields: Any) -> dict[str, str]:
    """Register ``username`` and log in: the headers of its session."""
    await register(wl, username, mode, **fields)
    return {"Authorization": f"Bearer {await login(wl, username, mode=mode)}"}
