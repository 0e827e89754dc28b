"""The Hub88-style adapter replays a recorded conversation (tests/fixtures/
hub88_conversation.json): each request, signed, gets exactly the recorded answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.integration.bonus_support import ledger_problems
from tests.integration.games_support import launch, seat, signed
from wowsino.kernel.config import Settings

FIXTURE = Path(__file__).parents[2] / "fixtures" / "hub88_conversation.json"
SECRET = "hub88-shared-test-secret"


@pytest.fixture
def settings() -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=10, hub88_aggregator_secret=SECRET,
                    hub88_games=("demo_fruits=slots",),
                    hub88_games_url="https://games.example/launch")


def filled(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: filled(v, names) for k, v in value.items()}
    if isinstance(value, str):
        for name, real in names.items():
            value = value.replace("{" + name + "}", real)
    return value


async def test_the_recorded_conversation_is_answered_as_recorded(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    conversation = json.loads(FIXTURE.read_text())
    table = await seat(client, game_id=conversation["game_code"])
    assert table.token.startswith("wgs_test_")
    names = {"token": table.token, "user": table.player_id,
             "other_token": "wgs_test_" + "0" * 48}
    problems = []
    for exchange in conversation["exchanges"]:
        raw = json.dumps(filled(exchange["request"], names)).encode()
        r = await client.post(f"/v1/aggregator/hub88/{exchange['path']}", content=raw,
                              headers=signed(raw, exchange.get("sign_with", SECRET)))
        expected = filled(exchange["response"], names)
        answer = r.json()
        extra = set(answer) - set(expected)
        if r.status_code != exchange["http"] or any(answer.get(k) != v
                                                    for k, v in expected.items()):
            problems.append(f"{exchange['note']}: {r.status_code} {answer}")
        elif extra - ({"error", "code"} if r.status_code != 200 else set()):
            problems.append(f"{exchange['note']}: unrecorded fields {sorted(extra)}")
    assert not problems, "\n".join(problems)
    assert await ledger_problems(engine) == []


async def test_a_hub88_game_is_in_the_catalogue_and_launches_at_its_address(
    client: httpx.AsyncClient,
) -> None:
    table = await seat(client)
    r = await client.get("/v1/games", headers=table.wl.site(), params={"category": "slots"})
    assert [g["game_id"] for g in r.json()["data"]] == ["demo_fruits", "sandbox-slot"]
    launched = await launch(client, table.session, "demo_fruits")
    assert launched["launch_url"] == ("https://games.example/launch?game_code=demo_fruits"
                                      f"&token={launched['token']}")
    assert launched["game"]["aggregator"] == "hub88"
    # a Hub88 token is no sandbox token
    raw = json.dumps({"token": launched["token"]}).encode()
    r = await client.post("/v1/aggregator/sandbox/balance", content=raw, headers=signed(raw))
    assert r.status_code == 401 and r.json()["code"] == "INVALID_TOKEN", r.text
