"""Operators for console tests: made through the operators service (an invitation,
accepted), and signed in over HTTP as a person would."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import httpx

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
