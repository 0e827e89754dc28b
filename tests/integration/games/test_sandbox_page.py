"""The sandbox aggregator's launch page, where a launched game opens for a person: the
game, its RTP, the playable balance as the wallet wrote it, and a spin that plays one
round against the wallet."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.integration.games_support import SECRET, seat
from tests.integration.support import body
from wowsino.sandbox.games import Options, SandboxGames


async def test_the_launch_page_shows_the_balance_and_plays_a_round(
    client: httpx.AsyncClient, app: Any,
) -> None:
    table = await seat(client)
    wallet = httpx.ASGITransport(app=app)
    simulator = SandboxGames(Options("http://wowsino.test", SECRET), transport=wallet)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator.app()),
                                 base_url="http://games.test") as games:
        page = await games.get("/games/sandbox-slot", params={"token": table.token})
        assert page.status_code == 200 and "Return to player: 96.00%" in page.text
        assert table.token not in page.text  # the script reads it from the address
        assert (await games.get("/games/no-such-game")).status_code == 404
        shown = await games.get("/balance", params={"token": table.token})
        assert body(shown)["display"] == "100.00 USD", shown.text
        played = await games.post("/play", json={
            "token": table.token, "rounds": 1, "stake": "1.00", "currency": "USD",
            "retry_rate": 0, "duplicate_win_rate": 0, "rollback_rate": 0,
            "ghost_rollback_rate": 0})
        assert body(played)["bets"] == Decimal("1.00"), played.text
        after = body(await games.get("/balance", params={"token": table.token}))
        assert after["balance"] == Decimal("99.00") + body(played)["wins"]
        refused = await games.get("/balance", params={"token": "wgs_test_" + "0" * 48})
        assert refused.status_code == 401 and refused.json()["code"] == "INVALID_TOKEN"
