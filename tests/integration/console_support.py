"""Operators for console tests: made through the operators service (an invitation,
accepted), and signed in over HTTP as a person would."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from wowsino.kernel.clock import iso
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.realm import ADMIN
from wowsino.operators import service as operators

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
ROLES = operators.ROLES


async def add_operator(app: Any, tenant_id: str | UUID, email: str, role: str, *,
                       brand_ids: Sequence[str | UUID] = (), password: str = PASSWORD) -> UUID:
    """An active operator of the tenant with ``password`` (invited by the platform admin)."""
    platform = app.state.platform
    at = platform.clock.now()

    async def work(conn: Any) -> UUID:
        invitation = await operators.invite(
            conn, tenant_id=UUID(str(tenant_id)), email=email, role=role,
            brand_ids=[UUID(str(b)) for b in brand_ids], actor=ADMIN, actor_role=None, at=at)
        await operators.accept_invitation(conn, token=invitation.token, password=password,
                                          display_name="", at=at)
        return invitation.operator_id

    operator_id: UUID = await unit_of_work(platform.engine, work)
    return operator_id


def csrf_of(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match is not None, page.text[:500]
    return match.group(1)


async def operator_sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD,
                           tenant: str = "") -> str:
    """Sign ``client`` in as the operator (without two-factor sign-in); returns the CSRF
    token of the session."""
    r = await client.post("/admin/sign-in", data={"email": email, "password": password,
                                                  "tenant": tenant})
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/admin/account/two-factor"), r.headers["location"]
    page = await client.get("/admin/account")
    assert page.status_code == 200, page.text
    return csrf_of(page)


async def signed_in_operator(app: Any, client: httpx.AsyncClient, tenant_id: str | UUID,
                             role: str, *, email: str | None = None,
                             brand_ids: Sequence[str | UUID] = ()) -> str:
    """A new operator with ``role``, signed in on ``client``; returns the CSRF token."""
    email = email or f"{role}@example.com"
    await add_operator(app, tenant_id, email, role, brand_ids=brand_ids)
    return await operator_sign_in(client, email)


def other_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://wowsino.test")


async def engine_entities(tenant: Any, now: datetime) -> dict[str, str]:
    """One of each engine's things, made through the API, by the console's path
    parameters: a lootbox (``kind``/``entity_id``), a jackpot, an active raffle with an
    entry, a running tournament, a bonus template, a journey and a campaign. The tenant
    needs a player ``alice``."""
    async def made(path: str, payload: dict[str, Any], key: str) -> str:
        r = await tenant.post(path, payload)
        assert r.status_code == 201, r.text
        return str(r.json()[key]["id"])

    table = [{"segment_label": "all", "weight": 1, "asset": "WINZ", "amount": 1}]
    raffle = await made("/v1/raffles", {"name": "Raffle", "ticket_cost_winz": 0,
                                        "prize_winz": 5}, "raffle")
    r = await tenant.post(f"/v1/raffles/{raffle}/enter", {"user_id": "alice", "tickets": 1})
    assert r.status_code == 201, r.text
    segment = await made("/v1/segments", {"name": "All", "expression": "true"}, "segment")
    return {
        "kind": "lootboxes",
        "entity_id": await made("/v1/lootbox", {"name": "Box", "prize_table": table},
                                "lootbox"),
        "jackpot_id": await made("/v1/jackpots", {"name": "Mega", "currency": "USD",
                                                  "seed_usd": 100}, "jackpot"),
        "raffle_id": raffle,
        "tournament_id": await made("/v1/tournaments", {
            "name": "Race", "scoring": "sum_wagered", "starts_at": iso(now - timedelta(days=1)),
            "ends_at": iso(now + timedelta(days=1)), "prize_table": [
                {"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 1}}]},
            "tournament"),
        "template_id": await made("/v1/bonus-templates", {
            "name": "Welcome", "type": "no_deposit", "amount": "10.00",
            "wagering_multiple": 5}, "template"),
        "journey_id": await made("/v1/journeys", {
            "name": "Welcome mission", "entry_trigger": "signup",
            "steps": [{"trigger": "wager", "count": 3}], "reward_winz": 100}, "journey"),
        "campaign_id": await made("/v1/campaigns", {
            "name": "Campaign", "segment_id": segment,
            "action": {"type": "grant_winz", "amount": 1}}, "campaign"),
    }
