"""Times at the edges of the calendar: one whose UTC form overflows it is a 400 naming the
field, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.integration.console_support import signed_in_operator
from tests.integration.support import assert_validation, create_player

OVERFLOWING = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
               "9999-12-31T23:00:00-01:00"]


@pytest.mark.parametrize("moment", OVERFLOWING)
async def test_an_rg_timeout_beyond_the_calendar_is_refused(tenant: Tenant, moment: str) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/players/alice/rg", {"timeout_until": moment})
    assert_validation(r, "timeout_until")


async def test_the_last_instant_of_the_calendar_is_a_valid_timeout(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/players/alice/rg", {"timeout_until": "9999-12-31T23:59:59Z"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("moment", OVERFLOWING)
async def test_a_raffle_draw_at_beyond_the_calendar_is_refused(tenant: Tenant,
                                                               moment: str) -> None:
    r = await tenant.post("/v1/raffles", {"name": "R", "ticket_cost_winz": 1, "prize_winz": 10,
                                          "draw_at": moment})
    assert_validation(r, "draw_at")
    r = await tenant.post("/v1/raffles", {"name": "R", "ticket_cost_winz": 1, "prize_winz": 10})
    assert r.status_code == 201, r.text
    r = await tenant.patch(f"/v1/raffles/{r.json()['raffle']['id']}", {"draw_at": moment})
    assert_validation(r, "draw_at")


@pytest.mark.parametrize("moment", OVERFLOWING)
async def test_an_audit_since_beyond_the_calendar_is_refused(
    app: Any, tenant: Tenant, client: httpx.AsyncClient, moment: str,
) -> None:
    assert_validation(await tenant.get("/v1/audit", params={"since": moment}), "since")
    await signed_in_operator(app, client, tenant.id, "compliance")
    r = await client.get(f"/admin/tenants/{tenant.slug}/test/audit", params={"since": moment})
    assert r.status_code == 400


async def test_an_audit_since_needs_an_offset_as_the_document_says(tenant: Tenant) -> None:
    # the OpenAPI declares format date-time (RFC 3339): a time without offset is ambiguous
    assert_validation(await tenant.get("/v1/audit", params={"since": "2000-01-01T00:00:00"}),
                      "since")
    r = await tenant.get("/v1/audit", params={"since": "2000-01-01T00:00:00+02:00"})
    assert r.status_code == 200, r.text
