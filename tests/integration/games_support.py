"""Helpers for the game tests: a white-label player with a launched game, and signed
aggregator calls."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import ADMIN
from tests.integration.support import adjust, body, create_key
from tests.integration.wl_support import WhiteLabel, login, make_white_label, register
from wowsino.kernel.config import DEVELOPMENT_SANDBOX_AGGREGATOR_SECRET
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.vendors import sign

SECRET = DEVELOPMENT_SANDBOX_AGGREGATOR_SECRET
_ids = itertools.count(1)


def signed(raw: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Signature": sign(secret, raw)}


@dataclass
class Table:
    """A player of a white-label brand at a launched game."""

    wl: WhiteLabel
    username: str
    player_id: str
    session: dict[str, str]  # the player session's headers
    token: str  # the game session's
    game_id: str = "sandbox-slot"

    @property
    def client(self) -> httpx.AsyncClient:
        return self.wl.client

    async def call(self, operation: str, secret: str = SECRET, **fields: Any) -> httpx.Response:
        """A signed sandbox call with this table's token (``fields`` override)."""
        payload = {"token": self.token, **fields}
        raw = dumps(payload).encode()
        return await self.client.post(f"/v1/aggregator/sandbox/{operation}", content=raw,
                                      headers=signed(raw, secret))

    async def bet(self, amount: str, tx: str | None = None, round_id: str | None = None,
                  **fields: Any) -> httpx.Response:
        tx = tx or f"bet-{next(_ids)}"
        return await self.call("bet", transaction_id=tx, round_id=round_id or f"r-{tx}",
                               game_id=self.game_id, amount=Decimal(amount), currency="USD",
                               **fields)

    async def win(self, amount: str, round_id: str, tx: str | None = None,
                  **fields: Any) -> httpx.Response:
        return await self.call("win", transaction_id=tx or f"win-{next(_ids)}",
                               round_id=round_id, game_id=self.game_id,
                               amount=Decimal(amount), currency="USD", **fields)

    async def rollback(self, reference: str, tx: str | None = None,
                       round_id: str = "r-any") -> httpx.Response:
        return await self.call("rollback", transaction_id=tx or f"rb-{next(_ids)}",
                               round_id=round_id, game_id=self.game_id,
                               reference_transaction_id=reference)

    async def balances(self) -> dict[str, Decimal]:
        """The player's real and bonus USD balances, from the dossier."""
        r = await self.wl.get(f"/v1/players/{self.username}")
        assert r.status_code == 200, r.text
        found = body(r)["player"]["balances"]
        return {"real": found["real"]["USD"], "bonus": found["bonus"]["USD"]}


async def launch(client: httpx.AsyncClient, session: dict[str, str],
                 game_id: str = "sandbox-slot") -> dict[str, Any]:
    r = await client.post(f"/v1/games/{game_id}/launch", headers=session, json={})
    assert r.status_code == 201, r.text
    launched: dict[str, Any] = r.json()
    return launched


async def seat(client: httpx.AsyncClient, *, wl: WhiteLabel | None = None,
               username: str = "lena", cash: str | None = "100.00",
               game_id: str = "sandbox-slot") -> Table:
    """A registered, logged-in, funded player of a white-label brand at a launched game."""
    wl = wl or await make_white_label(client, "gamewl")
    player = await register(wl, username)
    session = {"Authorization": f"Bearer {await login(wl, username)}"}
    if cash is not None:
        r = await adjust(wl, username, cash, reason="deposit")
        assert r.status_code == 201, r.text
    launched = await launch(client, session, game_id)
    return Table(wl, username, player["user_id"], session, launched["token"], game_id)


async def game_movements(engine: Any, tenant_id: str) -> dict[str, Decimal]:
    """What the ledger's game entries moved on the players' accounts, per entry kind
    (USD, real and bonus together), as positive amounts."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT e.kind, coalesce(sum(p.amount), 0) AS moved FROM ledger_entries e "
            "JOIN ledger_postings p ON p.tenant_id = e.tenant_id AND p.entry_id = e.id "
            "JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id "
            "WHERE e.tenant_id = CAST(:t AS uuid) AND e.kind LIKE 'game.%' "
            "AND a.owner_type = 'player' GROUP BY e.kind"), {"t": tenant_id})).all()
    return {kind: abs(Decimal(int(moved)).scaleb(-2)) for kind, moved in rows}


async def another_brand(wl: WhiteLabel, slug: str) -> WhiteLabel:
    """A second brand of the same tenant: its own player site and its own secret keys."""
    r = await wl.client.post(f"/tenants/{wl.id}/brands", headers=ADMIN,
                             json={"slug": slug, "name": slug.title()})
    assert r.status_code == 201, r.text
    made = r.json()["brand"]
    keys = {mode: (await create_key(wl.client, wl, ["*"], brand=slug, mode=mode))["key"]
            for mode in ("live", "test")}
    return WhiteLabel(wl.id, wl.slug, keys["live"], keys["test"], made["id"], wl.client,
                      made["publishable_keys"])
