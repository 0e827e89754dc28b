"""Forged cursors on every list: a well-formed cursor this API never issued answers
``400 VALIDATION_ERROR`` naming ``cursor`` (or, when its values happen to have the list's
shape, a page), never a 5xx.

The lists are found from the app (every ``GET`` route taking a cursor), so a new list is
walked without anyone adding it here.
"""

from __future__ import annotations

import base64
import inspect
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Tenant
from tests.integration.console_support import signed_in_operator
from tests.integration.support import assert_validation
from tests.integration.test_isolation import build_victim, build_wl_victim
from tests.integration.test_scopes import WHITE_LABEL_SCOPE
from wowsino.api import create_app
from wowsino.kernel.config import Settings
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.pagination import encode_cursor


@pytest.fixture
def settings() -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=10, rate_limit_burst=100_000)


UUID_TEXT = "0190a6f2-0000-7000-8000-000000000001"


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# cursors whose values fit no list's shape: every list must answer 400
REFUSED = [
    encode_cursor(["garbage", "x"]),
    encode_cursor([Decimal("1e30")]),
    encode_cursor([Decimal("1e30"), Decimal("1e30")]),
    encode_cursor([Decimal("1.5")]),
    _raw("[1e30]"),
    encode_cursor([2**70]),
    encode_cursor([2**70, 2**70]),
    encode_cursor([-(2**64), 1, 2]),
    encode_cursor([{"a": 1}]),
    encode_cursor([{"a": 1}, [1, 2]]),
    encode_cursor([[1], [2], [3]]),
    encode_cursor([True]),
    encode_cursor([True, False]),
    encode_cursor([None, None]),
    encode_cursor([None, None, None]),
    encode_cursor([1, 2, 3, 4, 5]),
    encode_cursor([]),
    encode_cursor(["2026-01-01T00:00:00Z", "not-a-uuid"]),
    encode_cursor(["2026-01-01T00:00:00", UUID_TEXT]),  # no offset
    encode_cursor(["9999-12-31T23:59:59-14:00", UUID_TEXT]),
    encode_cursor(["0001-01-01T00:00:00+14:00", UUID_TEXT]),
    encode_cursor(["2026-01-01T00:00:00Z", "bogus", 1]),
    encode_cursor(["2026-01-01T00:00:00Z", "audit", 2**64]),
    encode_cursor([UUID_TEXT, "2026-01-01T00:00:00Z"]),
    _raw("[" + "9" * 5000 + "]"),
    _raw("[" * 2000 + "]" * 2000),
    _raw(dumps(["x" * 5000, UUID_TEXT])),
    "A" * 5000,
]
# well-formed positions that some list may accept: a page or a 400, never a 5xx
TOLERATED = [encode_cursor([1]), encode_cursor([1, 2]), encode_cursor([1, 2, 3]),
             encode_cursor([-1]), encode_cursor(["2026-01-01T00:00:00Z", UUID_TEXT]),
             encode_cursor(["2026-01-01T00:00:00Z", "ledger", 1])]


def paginated_routes(prefix: str) -> list[tuple[str, str]]:
    """``(path template, cursor parameter)`` of every ``GET`` route under ``prefix``."""
    from fastapi.routing import iter_route_contexts

    app = create_app(Settings(admin_token=ADMIN_TOKEN),
                     database_url="postgresql://nobody@127.0.0.1:1/none")
    found = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not path.startswith(prefix) or "GET" not in (route.methods or ()):
            continue
        for name in inspect.signature(route.endpoint).parameters:
            if name == "cursor" or name.endswith("_cursor"):
                found.add((path, name))
    return sorted(found)


def test_the_walk_finds_every_known_list() -> None:
    lists = {path for path, _ in paginated_routes("/v1/")}
    assert {"/v1/players", "/v1/players/{key}/timeline", "/v1/players/{key}/ledger",
            "/v1/audit", "/v1/lootbox", "/v1/lootbox/{lootbox_id}/opens", "/v1/jackpots",
            "/v1/jackpots/{jackpot_id}/drops", "/v1/raffles", "/v1/mini-games",
            "/v1/mini-games/{mini_game_id}/plays", "/v1/webhooks/{webhook_id}/deliveries",
            } <= lists


def _fill(template: str, ids: dict[str, str]) -> str:
    for name in re.findall(r"{(\w+)}", template):
        template = template.replace(f"{{{name}}}", ids[name])
    return template


async def _refusals(client: httpx.AsyncClient, headers: dict[str, str],
                    routes: list[tuple[str, str]], ids: dict[str, str]) -> list[str]:
    problems = []
    for template, param in routes:
        path = _fill(template, ids)
        first = await client.get(path, headers=headers)
        assert first.status_code == 200, f"{path}: {first.text}"
        for cursor in REFUSED + TOLERATED:
            r = await client.get(path, params={param: cursor}, headers=headers)
            if r.status_code == 200 and cursor in TOLERATED:
                continue
            if r.status_code != 400:
                problems.append(f"{path} ?{param}={cursor[:40]}: {r.status_code} {r.text[:200]}")
                continue
            assert_validation(r, "cursor")
    return problems


WHITE_LABEL_LISTS = {path for method, path in WHITE_LABEL_SCOPE if method == "GET"}


async def test_every_v1_list_refuses_a_forged_cursor(tenant: Tenant) -> None:
    victim = await build_victim(tenant)
    routes = [(path, param) for path, param in paginated_routes("/v1/")
              # a player's lists and the white-label back office's: below
              if not path.startswith("/v1/player/") and path not in WHITE_LABEL_LISTS]
    problems = await _refusals(tenant.client, tenant.headers(), routes,
                               {**victim.ids, "rail": "real", "asset": "USD"})
    assert not problems, "\n".join(problems)


async def test_every_white_label_list_refuses_a_forged_cursor(
    client: httpx.AsyncClient,
) -> None:
    victim, _ = await build_wl_victim(client)
    routes = [(path, param) for path, param in paginated_routes("/v1/")
              if path in WHITE_LABEL_LISTS]
    assert len(routes) >= 4, routes
    problems = await _refusals(client, victim.tenant.headers(), routes, victim.ids)
    assert not problems, "\n".join(problems)


async def test_every_player_list_refuses_a_forged_cursor(client: httpx.AsyncClient) -> None:
    victim, token = await build_wl_victim(client)
    routes = paginated_routes("/v1/player/")
    assert len(routes) >= 8, routes
    problems = await _refusals(client, {"Authorization": f"Bearer {token}"}, routes,
                               victim.ids)
    assert not problems, "\n".join(problems)


async def test_every_console_list_refuses_a_forged_cursor(
    app: Any, tenant: Tenant, client: httpx.AsyncClient,
) -> None:
    victim = await build_victim(tenant)
    await signed_in_operator(app, client, tenant.id, "owner")
    ids = {**victim.ids, "ref": tenant.slug, "mode": "test", "brand": "main",
           "player": "alice", "kind": "lootboxes", "rail": "real", "asset": "USD"}
    routes = paginated_routes("/admin/")
    assert len(routes) >= 4, routes
    problems = []
    for template, param in routes:
        path = _fill(template, ids)
        assert (await client.get(path)).status_code == 200, path
        for cursor in REFUSED:
            r = await client.get(path, params={param: cursor})
            if r.status_code != 400:
                problems.append(f"{path} ?{param}={cursor[:40]}: {r.status_code}")
    assert not problems, "\n".join(problems)
