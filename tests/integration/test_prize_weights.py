"""A prize table's weights sum to at most 2^32, the range of one draw: more is refused at
create and at patch (it made every open a 500), exactly 2^32 draws."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant
from tests.integration.support import adjust, assert_validation, create_player

TOO_HEAVY = [{"segment_label": f"s{i}", "weight": 10**9, "asset": "WINZ", "amount": 1}
             for i in range(5)]
FULL_RANGE = [{"segment_label": f"s{i}", "weight": 10**9, "asset": "WINZ", "amount": 1}
              for i in range(4)] + [{"segment_label": "rest", "weight": 2**32 - 4 * 10**9,
                                     "asset": "XP", "amount": 1}]
GAMES = [("/v1/lootbox", {"name": "Box"}, "lootbox", "open"),
         ("/v1/mini-games", {"name": "Wheel", "kind": "wheel"}, "mini_game", "play")]


@pytest.mark.parametrize(("path", "fields", "key", "use"), GAMES)
async def test_weights_beyond_the_draw_range_are_refused(
    tenant: Tenant, path: str, fields: dict[str, str], key: str, use: str,
) -> None:
    payload = assert_validation(await tenant.post(path, {**fields, "prize_table": TOO_HEAVY}),
                                "prize_table")
    assert "2^32" in payload["error"]
    r = await tenant.post(path, {**fields, "prize_table": FULL_RANGE})
    assert r.status_code == 201, r.text
    made = r.json()[key]["id"]
    assert_validation(await tenant.patch(f"{path}/{made}", {"prize_table": TOO_HEAVY}),
                      "prize_table")
    await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", "100", rail="winz", asset="WINZ")).status_code == 201
    r = await tenant.post(f"{path}/{made}/{use}", {"user_id": "alice"})
    assert r.status_code == 201, r.text
